//! One function record (`runtime._func`) and what it answers: name,
//! file:line, SP delta, pcdata/funcdata and the inlined frames at a pc.

use super::funcid::{FuncFlags, FuncId};
use super::{read_varint, Pclntab, FUNCDATA_INL_TREE, PCDATA_INL_TREE_INDEX};

/// Name used when the table does not resolve a name or file.
const UNKNOWN: &str = "?";
/// Go's inline tree is an array of at most 1<<20 entries.
const MAX_INLINE_INDEX: i32 = 1 << 20;
/// Inline chains deeper than this are treated as corrupt.
const MAX_INLINE_DEPTH: usize = 256;
/// Size of `runtime.inlinedCall`.
const INLINED_CALL_SIZE: u64 = 16;

/// One function of the table. Cheap to copy; borrows the [`Pclntab`].
#[derive(Clone, Copy)]
pub struct Func<'p> {
    tab: &'p Pclntab<'p>,
    /// The `_func` record followed by its pcdata and funcdata arrays.
    raw: &'p [u8],
    /// Index in the function table.
    pub index: usize,
    /// Entry pc.
    pub entry: u64,
    /// Entry of the next function: the end of this one (exclusive).
    pub end: u64,
}

impl std::fmt::Debug for Func<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Func")
            .field("name", &self.name())
            .field("entry", &format_args!("{:#x}", self.entry))
            .field("end", &format_args!("{:#x}", self.end))
            .finish()
    }
}

/// One logical frame at a pc: the physical function or a function inlined
/// into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'p> {
    /// Function name, e.g. `main.main` or `runtime.(*mheap).alloc`.
    pub function: &'p str,
    /// Source file ("?" when unknown).
    pub file: &'p str,
    /// Line (0 when unknown).
    pub line: u32,
    /// Whether this function was inlined into the physical function.
    pub inlined: bool,
    pub func_id: FuncId,
    /// Line of the `func` keyword.
    pub start_line: i32,
}

impl<'p> Func<'p> {
    pub(crate) fn new(
        tab: &'p Pclntab<'p>,
        raw: &'p [u8],
        index: usize,
        entry: u64,
        end: u64,
    ) -> Self {
        Func {
            tab,
            raw,
            index,
            entry,
            end,
        }
    }

    fn u32_at(&self, offset: usize) -> u32 {
        // The record's fixed part was length-checked on construction.
        self.tab.image().u32_in(self.raw, offset).unwrap_or(0)
    }

    fn byte_at(&self, offset: usize) -> u8 {
        self.raw.get(offset).copied().unwrap_or(0)
    }

    /// Function name ("?" when the name table entry is unreadable).
    pub fn name(&self) -> &'p str {
        self.tab.func_name(self.u32_at(4) as i32).unwrap_or(UNKNOWN)
    }

    /// Size of arguments and results in bytes (`args`).
    pub fn args_size(&self) -> i32 {
        self.u32_at(8) as i32
    }

    /// Offset from entry of the deferreturn call, 0 if none.
    pub fn deferreturn(&self) -> u32 {
        self.u32_at(12)
    }

    /// Offsets of the pcsp, pcfile and pcln tables in `pctab`.
    pub fn pcsp_offset(&self) -> u32 {
        self.u32_at(16)
    }
    pub fn pcfile_offset(&self) -> u32 {
        self.u32_at(20)
    }
    pub fn pcln_offset(&self) -> u32 {
        self.u32_at(24)
    }

    /// Number of pcdata tables.
    pub fn npcdata(&self) -> u32 {
        self.u32_at(28)
    }

    /// This function's compilation unit's first slot in `cutab`.
    pub fn cu_offset(&self) -> u32 {
        self.u32_at(32)
    }

    /// Line of the `func` keyword (or TEXT directive).
    pub fn start_line(&self) -> i32 {
        self.u32_at(36) as i32
    }

    /// The raw `abi.FuncID` byte (its meaning depends on the release).
    pub fn raw_func_id(&self) -> u8 {
        self.byte_at(40)
    }

    /// What this function is to the unwinder.
    pub fn func_id(&self) -> FuncId {
        self.tab
            .funcid_table()
            .resolve(self.raw_func_id(), self.name())
    }

    pub fn flags(&self) -> FuncFlags {
        FuncFlags(self.byte_at(41))
    }

    /// Number of funcdata slots.
    pub fn nfuncdata(&self) -> u8 {
        self.byte_at(43)
    }

    /// Offset in `pctab` of pcdata table `table`; `None` if absent.
    pub fn pcdata_offset(&self, table: u32) -> Option<u32> {
        if table >= self.npcdata() {
            return None;
        }
        let off = self.tab.image().u32_in(self.raw, 44 + 4 * table as usize)?;
        (off != 0).then_some(off)
    }

    /// Raw funcdata slot `index`: offset from `go:func.*`; `None` if absent
    /// (`^uint32(0)`).
    pub fn funcdata_offset(&self, index: u8) -> Option<u32> {
        if index >= self.nfuncdata() {
            return None;
        }
        let at = 44 + 4 * self.npcdata() as usize + 4 * usize::from(index);
        let off = self.tab.image().u32_in(self.raw, at)?;
        (off != u32::MAX).then_some(off)
    }

    /// Address of funcdata `index` (`gofunc + offset`); `None` if absent or
    /// the funcdata base is unknown.
    pub fn funcdata_address(&self, index: u8) -> Option<u64> {
        self.tab
            .gofunc()?
            .checked_add(u64::from(self.funcdata_offset(index)?))
    }

    /// Value of pcdata table `table` at `pc`.
    pub fn pcdata_value(&self, table: u32, pc: u64) -> Option<i32> {
        self.tab.pcvalue(self.pcdata_offset(table)?, self.entry, pc)
    }

    /// The (start, end, value) ranges of pcdata table `table`.
    pub fn pcdata_ranges(&self, table: u32) -> PcValueRanges<'p> {
        PcValueRanges::new(self.tab, self.pcdata_offset(table).unwrap_or(0), self.entry)
    }

    /// The (start, end, SP delta) ranges of the pcsp table.
    pub fn sp_delta_ranges(&self) -> PcValueRanges<'p> {
        PcValueRanges::new(self.tab, self.pcsp_offset(), self.entry)
    }

    /// SP delta at `pc`: how far SP is below its value at entry (the
    /// frame size once the prologue has run).
    pub fn sp_delta(&self, pc: u64) -> Option<i64> {
        self.tab
            .pcvalue(self.pcsp_offset(), self.entry, pc)
            .map(i64::from)
    }

    /// Largest SP delta anywhere in the function (its frame size).
    pub fn max_sp_delta(&self) -> Option<i64> {
        self.sp_delta_ranges().map(|(_, _, v)| i64::from(v)).max()
    }

    /// File and line at `pc` (of inlined code when `pc` is in it).
    pub fn file_line(&self, pc: u64) -> Option<(&'p str, u32)> {
        let file_index = self.tab.pcvalue(self.pcfile_offset(), self.entry, pc)?;
        let line = self.tab.pcvalue(self.pcln_offset(), self.entry, pc)?;
        let file_index = u64::try_from(file_index).ok()?;
        let line = u32::try_from(line).ok()?;
        let file = self
            .tab
            .file_name(u64::from(self.cu_offset()).checked_add(file_index)?)?;
        Some((file, line))
    }

    /// Index into the inline tree at `pc`; `None` when `pc` is not in
    /// inlined code.
    pub fn inline_index(&self, pc: u64) -> Option<i32> {
        self.pcdata_value(PCDATA_INL_TREE_INDEX, pc)
            .filter(|&ix| (0..MAX_INLINE_INDEX).contains(&ix))
    }

    /// The logical frames at `pc`, innermost first, the physical function
    /// last — what Go's traceback prints for this pc. For a return address,
    /// pass `pc - 1` (the call instruction), as Go does.
    pub fn frames(&self, pc: u64) -> Vec<Frame<'p>> {
        let mut frames = Vec::new();
        let tree = self.funcdata_address(FUNCDATA_INL_TREE);
        let mut pc = pc;
        let mut index = tree.and(self.inline_index(pc));
        for _ in 0..MAX_INLINE_DEPTH {
            let (file, line) = self.file_line(pc).unwrap_or((UNKNOWN, 0));
            let call = match (tree, index) {
                (Some(tree), Some(ix)) => self.inlined_call(tree, ix),
                _ => None,
            };
            let Some(call) = call else {
                frames.push(Frame {
                    function: self.name(),
                    file,
                    line,
                    inlined: false,
                    func_id: self.func_id(),
                    start_line: self.start_line(),
                });
                return frames;
            };
            let function = self.tab.func_name(call.name_off).unwrap_or(UNKNOWN);
            frames.push(Frame {
                function,
                file,
                line,
                inlined: true,
                func_id: self.tab.funcid_table().resolve(call.func_id, function),
                start_line: call.start_line,
            });
            // Continue at the call site in the parent.
            let Some(parent_pc) = u64::try_from(call.parent_pc)
                .ok()
                .and_then(|off| self.entry.checked_add(off))
                .filter(|&p| p < self.end)
            else {
                break;
            };
            pc = parent_pc;
            index = self.inline_index(pc);
        }
        // Corrupt chain: still report the physical function.
        let (file, line) = self.file_line(pc).unwrap_or((UNKNOWN, 0));
        frames.push(Frame {
            function: self.name(),
            file,
            line,
            inlined: false,
            func_id: self.func_id(),
            start_line: self.start_line(),
        });
        frames
    }

    fn inlined_call(&self, tree: u64, index: i32) -> Option<InlinedCall> {
        let at = tree.checked_add(u64::try_from(index).ok()? * INLINED_CALL_SIZE)?;
        let image = self.tab.image();
        let bytes = image.bytes_at(at, INLINED_CALL_SIZE)?;
        Some(InlinedCall {
            func_id: *bytes.first()?,
            name_off: image.u32_in(bytes, 4)? as i32,
            parent_pc: image.u32_in(bytes, 8)? as i32,
            start_line: image.u32_in(bytes, 12)? as i32,
        })
    }
}

/// `runtime.inlinedCall`.
struct InlinedCall {
    func_id: u8,
    name_off: i32,
    parent_pc: i32,
    start_line: i32,
}

/// Iterator over a pc-value table: `(start_pc, end_pc, value)` rows. Ends
/// at the table's terminator or at the first malformed byte.
#[derive(Debug, Clone)]
pub struct PcValueRanges<'p> {
    rest: &'p [u8],
    pc: u64,
    value: i32,
    first: bool,
    min_lc: u64,
    done: bool,
}

impl<'p> PcValueRanges<'p> {
    pub(crate) fn new(tab: &'p Pclntab<'p>, off: u32, entry: u64) -> Self {
        let rest = if off == 0 {
            &[][..]
        } else {
            tab.pctab().get(off as usize..).unwrap_or(&[])
        };
        PcValueRanges {
            rest,
            pc: entry,
            value: -1,
            first: true,
            min_lc: u64::from(tab.header().min_lc),
            done: rest.is_empty(),
        }
    }
}

impl Iterator for PcValueRanges<'_> {
    type Item = (u64, u64, i32);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        // Each row consumes at least two bytes, so iteration is bounded by
        // the table length.
        let step = (|| {
            let (uvdelta, n) = read_varint(self.rest)?;
            if uvdelta == 0 && !self.first {
                return None;
            }
            let rest = self.rest.get(n..)?;
            let (pcdelta, m) = read_varint(rest)?;
            let rest = rest.get(m..)?;
            let vdelta = ((uvdelta >> 1) as i32) ^ -((uvdelta & 1) as i32);
            let start = self.pc;
            let end = start.checked_add(u64::from(pcdelta) * self.min_lc)?;
            self.rest = rest;
            self.pc = end;
            self.value = self.value.wrapping_add(vdelta);
            self.first = false;
            Some((start, end, self.value))
        })();
        if step.is_none() {
            self.done = true;
        }
        step
    }
}
