//! Globals and functions (with their parameters and locals) from DWARF,
//! indexed by name and by address.
//!
//! All addresses are as linked in the executable. For a PIE, add the load
//! bias before comparing with addresses from a core.

use std::collections::HashMap;

use super::location::Location;
use super::types::TypeId;

/// A package-level variable (`DW_TAG_variable` under a compile unit with a
/// `DW_OP_addr` location).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Global {
    /// Fully qualified: `runtime.mheap_`, `main.registry`.
    pub name: String,
    pub address: u64,
    pub ty: TypeId,
    /// Size of the type in bytes (0 when unknown).
    pub size: u64,
}

impl Global {
    /// One past the last byte (saturating).
    pub fn end(&self) -> u64 {
        self.address.saturating_add(self.size)
    }
}

/// All globals, sorted by address, with a name index.
#[derive(Debug, Default)]
pub struct Globals {
    sorted: Vec<Global>,
    by_name: HashMap<String, usize>,
}

impl Globals {
    pub(crate) fn new(mut globals: Vec<Global>) -> Globals {
        globals.sort_by(|a, b| a.address.cmp(&b.address).then(a.name.cmp(&b.name)));
        let mut by_name = HashMap::with_capacity(globals.len());
        for (i, g) in globals.iter().enumerate() {
            by_name.entry(g.name.clone()).or_insert(i);
        }
        Globals {
            sorted: globals,
            by_name,
        }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// All globals, sorted by address.
    pub fn all(&self) -> &[Global] {
        &self.sorted
    }

    pub fn by_name(&self, name: &str) -> Option<&Global> {
        self.by_name.get(name).and_then(|&i| self.sorted.get(i))
    }

    /// The global whose bytes contain `address` (zero-sized globals never
    /// match).
    pub fn containing(&self, address: u64) -> Option<&Global> {
        let after = self.sorted.partition_point(|g| g.address <= address);
        // Zero-sized globals can share an address with the real one; look
        // back over a few candidates.
        self.sorted[..after]
            .iter()
            .rev()
            .take(8)
            .find(|g| address < g.end())
    }

    /// Globals starting in `[start, end)`, sorted by address.
    pub fn starting_in(&self, start: u64, end: u64) -> &[Global] {
        let from = self.sorted.partition_point(|g| g.address < start);
        let to = self.sorted.partition_point(|g| g.address < end);
        self.sorted.get(from..to.max(from)).unwrap_or(&[])
    }
}

/// How a variable relates to its function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VariableRole {
    Parameter,
    /// A named or `~rN` result (`DW_AT_variable_parameter` set).
    Result,
    Local,
}

/// Where a variable is over one PC range `[start, end)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcLocation {
    pub start: u64,
    pub end: u64,
    pub location: Location,
}

/// A parameter or local of a function, including variables of functions
/// inlined into it (they live in the same physical frame).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    pub ty: TypeId,
    pub role: VariableRole,
    /// Declared in a function inlined into this one.
    pub inlined: bool,
    /// Location by PC. A single-expression location is recorded over the
    /// PC ranges of its scope (function, lexical block or inlined call).
    /// Empty: no location at all (e.g. an unused result).
    pub locations: Vec<PcLocation>,
}

impl Variable {
    /// The location valid at `pc`, if any.
    pub fn location_at(&self, pc: u64) -> Option<&Location> {
        self.locations
            .iter()
            .find(|l| l.start <= pc && pc < l.end)
            .map(|l| &l.location)
    }
}

/// A function with code (`DW_TAG_subprogram` with a PC range).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// Fully qualified: `main.work`, `runtime.mallocgc`.
    pub name: String,
    pub low_pc: u64,
    /// One past the last instruction.
    pub high_pc: u64,
    /// `DW_AT_frame_base` is `DW_OP_call_frame_cfa` (always, for Go code).
    pub frame_base_is_cfa: bool,
    pub variables: Vec<Variable>,
}

impl Function {
    pub fn contains(&self, pc: u64) -> bool {
        self.low_pc <= pc && pc < self.high_pc
    }
}

/// All functions, sorted by `low_pc`, with a name index.
#[derive(Debug, Default)]
pub struct Functions {
    sorted: Vec<Function>,
    by_name: HashMap<String, usize>,
}

impl Functions {
    pub(crate) fn new(mut functions: Vec<Function>) -> Functions {
        functions.sort_by(|a, b| a.low_pc.cmp(&b.low_pc).then(a.high_pc.cmp(&b.high_pc)));
        let mut by_name = HashMap::with_capacity(functions.len());
        for (i, f) in functions.iter().enumerate() {
            by_name.entry(f.name.clone()).or_insert(i);
        }
        Functions {
            sorted: functions,
            by_name,
        }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// All functions, sorted by `low_pc`.
    pub fn all(&self) -> &[Function] {
        &self.sorted
    }

    pub fn by_name(&self, name: &str) -> Option<&Function> {
        self.by_name.get(name).and_then(|&i| self.sorted.get(i))
    }

    /// The function whose code contains `pc`.
    pub fn at_pc(&self, pc: u64) -> Option<&Function> {
        let after = self.sorted.partition_point(|f| f.low_pc <= pc);
        let candidate = self.sorted.get(after.checked_sub(1)?)?;
        candidate.contains(pc).then_some(candidate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(name: &str, address: u64, size: u64) -> Global {
        Global {
            name: name.into(),
            address,
            ty: TypeId::UNKNOWN,
            size,
        }
    }

    #[test]
    fn globals_by_address() {
        let g = Globals::new(vec![
            global("b", 0x1010, 8),
            global("a", 0x1000, 16),
            global("z", 0x1010, 0),
        ]);
        assert_eq!(g.all()[0].name, "a");
        assert_eq!(g.containing(0x100f).map(|g| g.name.as_str()), Some("a"));
        assert_eq!(g.containing(0x1010).map(|g| g.name.as_str()), Some("b"));
        assert_eq!(g.containing(0x1018), None);
        assert_eq!(g.starting_in(0x1001, 0x2000).len(), 2);
        assert_eq!(g.starting_in(0x2000, 0x1000).len(), 0);
        assert_eq!(g.by_name("b").map(|g| g.address), Some(0x1010));
    }

    #[test]
    fn functions_by_pc() {
        let f = |name: &str, low, high| Function {
            name: name.into(),
            low_pc: low,
            high_pc: high,
            frame_base_is_cfa: true,
            variables: vec![],
        };
        let fs = Functions::new(vec![f("b", 0x200, 0x280), f("a", 0x100, 0x180)]);
        assert_eq!(fs.at_pc(0x100).map(|f| f.name.as_str()), Some("a"));
        assert_eq!(fs.at_pc(0x17f).map(|f| f.name.as_str()), Some("a"));
        assert_eq!(fs.at_pc(0x180), None);
        assert_eq!(fs.at_pc(0x50), None);
        assert_eq!(fs.at_pc(0x27f).map(|f| f.name.as_str()), Some("b"));
    }
}
