//! Shared by the fuzz targets: exercising every accessor of what parsed,
//! and "patched base image" inputs for the targets that mutate a real core
//! (a 100 MB core cannot be a fuzz input; instead the input is a list of
//! small patches at addresses anchored on the structures under test, applied
//! to an in-memory copy of a shipped sample core and reverted afterwards).

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use mapscope_elfcore::{Core, Executable, ProcessMemory};

/// Touches everything a parsed core offers.
pub fn exercise_core(core: &Core) {
    let _ = core.note_list().len();
    let _ = (core.producer(), core.arch(), core.file_size());
    let _ = core.program_headers().len();
    for s in core.segments() {
        let _ = (s.end(), s.perms(), s.contains(s.vaddr));
        let _ = core.segment_at(s.vaddr);
        let _ = core.segment_at(s.end().wrapping_sub(1));
        let mut buf = [0u8; 16];
        let _ = core.read_present(s.vaddr, &mut buf);
        let _ = core.read_present(s.end().wrapping_sub(8), &mut buf);
        let _ = core.image_ids_at(s.vaddr);
    }
    let _ = core.is_complete();
    for t in core.threads() {
        let _ = (t.pc(), t.sp(), t.registers.fp(), t.registers.lr());
        let _ = t.registers.iter().count();
    }
    let _ = core.main_thread();
    let _ = core.process().map(|p| format!("{p:?}"));
    let _ = core.auxv().map(|a| a.get(mapscope_elfcore::auxv::AT_PHDR));
    let _ = core.signal().map(|s| s.name());
    let _ = core.file_note().map(|f| format!("{f:?}").len());
    for m in core.file_mappings() {
        let _ = (m.size(), m.contains(m.start));
    }
    let _ = core.warnings().len();
    let _ = core.executable_path();
    let _ = core.executable_mappings().len();
    let _ = core.regions().len();
}

/// Touches everything a parsed executable offers.
pub fn exercise_executable(exe: &Executable) {
    let _ = (exe.arch(), exe.is_pie(), exe.entry());
    let _ = exe.load_segments().count();
    let _ = (exe.gnu_build_id_hex(), exe.go_build_id());
    let _ = exe.build_id_notes().len();
    let _ = exe.section_data(".gopclntab").map(|d| d.map(|d| d.len()));
    let _ = exe.section_data(".debug_info").map(|d| d.map(|d| d.len()));
    let _ = exe.section_range(".text");
    let _ = exe.vaddr_to_offset(exe.entry());
    if let Ok(symbols) = exe.symbols() {
        let _ = symbols.lookup(exe.entry());
    }
}

/// Reads through the memory view at segment edges and at addresses taken
/// from `data`.
pub fn exercise_memory(mem: &ProcessMemory, data: &[u8]) {
    let mut buf = [0u8; 64];
    let ranges: Vec<_> = mem.ranges().take(4096).collect();
    for r in &ranges {
        for addr in [
            r.start,
            r.start.wrapping_sub(1),
            r.end.wrapping_sub(1),
            r.end.wrapping_sub(32),
            r.end,
        ] {
            let _ = mem.read(addr, &mut buf);
            let _ = mem.bytes(addr, 4096);
            let _ = mem.contiguous_at(addr);
            let _ = mem.is_readable(addr, u64::MAX);
            let _ = mem.read_u64(addr);
            let _ = mem.read_ptr(addr);
        }
    }
    for chunk in data.chunks_exact(8).take(64) {
        let addr = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let _ = mem.read(addr, &mut buf);
        let _ = mem.bytes(addr, usize::from(chunk[0]) << 8);
        let _ = mem.read_u16(addr);
        let _ = mem.read_i64(addr);
    }
    let _ = mem.regions().len();
    let _ = mem.placement();
}

/// A shipped sample held in memory: the core's bytes (patched in place and
/// restored between runs), its executable, and the file offset of each
/// segment for address → offset translation.
pub struct BaseImage {
    pub name: &'static str,
    pub core: Mutex<Arc<Vec<u8>>>,
    pub exe: Arc<Vec<u8>>,
    pub exe_path: std::path::PathBuf,
    /// (vaddr, vaddr + present bytes, file offset).
    pub segments: Vec<(u64, u64, u64)>,
    pub truth: serde_json::Value,
}

/// `Arc<Vec<u8>>` as `AsRef<[u8]>` for `Core::from_bytes`.
pub struct SharedBytes(pub Arc<Vec<u8>>);
impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl BaseImage {
    /// Loads (once per process) the shipped sample `name`.
    pub fn get(name: &'static str) -> &'static BaseImage {
        static IMAGES: OnceLock<Mutex<Vec<&'static BaseImage>>> = OnceLock::new();
        let images = IMAGES.get_or_init(|| Mutex::new(Vec::new()));
        let mut images = images.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = images.iter().find(|i| i.name == name) {
            return i;
        }
        let sample = mapscope_testsupport::sample(name);
        let core_bytes = std::fs::read(&sample.core).expect("read sample core");
        let exe = std::fs::read(&sample.exe).expect("read sample exe");
        let core = Core::from_bytes(&sample.core, core_bytes.clone()).expect("sample core parses");
        let segments = core
            .segments()
            .iter()
            .map(|s| (s.vaddr, s.vaddr + s.present, s.offset))
            .collect();
        let image: &'static BaseImage = Box::leak(Box::new(BaseImage {
            name,
            core: Mutex::new(Arc::new(core_bytes)),
            exe: Arc::new(exe),
            exe_path: sample.exe.clone(),
            segments,
            truth: sample.truth(),
        }));
        images.push(image);
        image
    }

    /// File offset of virtual address `addr`, if the core holds its bytes.
    pub fn file_offset(&self, addr: u64) -> Option<usize> {
        let &(start, _, offset) = self
            .segments
            .iter()
            .find(|&&(s, e, _)| s <= addr && addr < e)?;
        usize::try_from(offset.checked_add(addr - start)?).ok()
    }

    /// The unpatched core's bytes at `addr` as a little-endian u64.
    pub fn read_u64(&self, addr: u64) -> Option<u64> {
        let core = self.core.lock().unwrap_or_else(|e| e.into_inner());
        let off = self.file_offset(addr)?;
        let b = core.get(off..off.checked_add(8)?)?;
        Some(u64::from_le_bytes(b.try_into().ok()?))
    }

    /// Applies `patches` (address, bytes), runs `f` on a process image of the
    /// patched core, restores the bytes. Patches outside the file are dropped.
    pub fn with_patches<T>(
        &self,
        patches: &[(u64, Vec<u8>)],
        f: impl FnOnce(ProcessMemory) -> T,
    ) -> T {
        let mut guard = self.core.lock().unwrap_or_else(|e| e.into_inner());
        let mut originals = Vec::new();
        {
            let bytes = Arc::get_mut(&mut guard).expect("no Core outlives a run");
            for (addr, patch) in patches {
                let Some(off) = self.file_offset(*addr) else {
                    continue;
                };
                let Some(slot) = bytes.get_mut(off..off.saturating_add(patch.len())) else {
                    continue;
                };
                originals.push((off, slot.to_vec()));
                slot.copy_from_slice(patch);
            }
        }
        let result = {
            let core = Core::from_bytes(
                Path::new(self.name).join("core"),
                SharedBytes(guard.clone()),
            )
            .expect("patched core still parses (only memory bytes are patched)");
            let exe = Executable::from_bytes(&self.exe_path, SharedBytes(self.exe.clone()))
                .expect("exe parses");
            let mem = ProcessMemory::new(core, Some(exe)).expect("process memory");
            f(mem)
        };
        let bytes = Arc::get_mut(&mut guard).expect("the run dropped its Core");
        for (off, old) in originals.into_iter().rev() {
            if let Some(slot) = bytes.get_mut(off..off + old.len()) {
                slot.copy_from_slice(&old);
            }
        }
        result
    }
}

/// Reads the fuzz input as a little byte-code of patches. Each patch:
/// anchor selector (1 byte), anchor argument (1 byte), offset (2 bytes LE),
/// length (1 byte, 1..=16), then that many bytes. `anchor` maps
/// (selector, argument) to an address (or None to skip the patch).
pub fn parse_patches(
    mut data: &[u8],
    mut anchor: impl FnMut(u8, u8) -> Option<u64>,
) -> Vec<(u64, Vec<u8>)> {
    let mut patches = Vec::new();
    while patches.len() < 32 {
        let Some((head, rest)) = data.split_first_chunk::<5>() else {
            break;
        };
        let [sel, arg, o0, o1, len] = *head;
        let len = usize::from(len % 16) + 1;
        let Some(bytes) = rest.get(..len) else {
            break;
        };
        data = rest.get(len..).unwrap_or(&[]);
        let offset = u64::from(u16::from_le_bytes([o0, o1]));
        if let Some(base) = anchor(sel, arg) {
            patches.push((base.wrapping_add(offset), bytes.to_vec()));
        }
    }
    patches
}

/// The truth maps of a sample whose root is a global path
/// (`main.x.field`): their static type (resolved the way a root walk does)
/// and header address.
pub fn truth_map_targets(
    image: &BaseImage,
    dwarf: &mapscope_goruntime::dwarf::DwarfInfo,
) -> Vec<(mapscope_goruntime::dwarf::TypeId, u64)> {
    use mapscope_goruntime::dwarf::TypeKind;
    let types = dwarf.types();
    let mut out = Vec::new();
    let maps = image.truth["maps"].as_array().cloned().unwrap_or_default();
    for m in maps {
        let (Some(root), Some(addr)) = (m["root"].as_str(), m["address"].as_str()) else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(addr.trim_start_matches("0x"), 16) else {
            continue;
        };
        let parts: Vec<&str> = root.split('.').collect();
        if parts.len() < 2 || root.contains(' ') {
            continue;
        }
        let name = parts[..2].join(".");
        let Some(global) = dwarf.globals().by_name(&name) else {
            continue;
        };
        let mut ty = global.ty;
        let mut ok = true;
        for field in &parts[2..] {
            if let TypeKind::Pointer { target: Some(t) } = types.get(types.resolve(ty)).kind {
                ty = t;
            }
            match types.field_path(ty, field) {
                Some(f) => ty = f.ty,
                None => ok = false,
            }
        }
        if ok {
            out.push((ty, addr));
        }
    }
    out
}
