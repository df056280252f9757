//! Maps of an executable without DWARF: the names of their global roots
//! and the warning that says what such a run can and cannot find.
//!
//! Without DWARF the program's globals have no types, so the GC's root
//! set holds every data/bss pointer word in one unnamed root
//! ([`crate::roots::UNNAMED_GLOBALS`]), and maps are found from their
//! storage's runtime types ([`crate::unrooted`], with the map types
//! `mapscope_goruntime::rtype` read from the type descriptors). This
//! module names the global a map's path starts at: the data/bss pointer
//! word that points at the path's first object, named by the ELF symbol
//! covering it (`main.sessionsByID`, kept by `-ldflags=-w`) or, with no
//! symbol table (`-s -w`), by its address (`global 0x6a1f20`). A global
//! pointing at the map header itself names the map as its variable does
//! with DWARF.
//!
//! Owns: those names and the stripped-build warning.
//! Must not touch: the root set, the graph (mapscope-goheap) or the
//! unrooted search itself.

use std::collections::HashMap;
use std::sync::Arc;

use mapscope_goruntime::symbols::SymbolClass;
use mapscope_goruntime::GoProcess;

use crate::discover::{FoundMap, RootKind, RootOrigin, RootVia};
use crate::graph::{ObjectGraph, UNREACHED};
use crate::pointers::PointerMaps;
use crate::roots::UNNAMED_GLOBALS;

/// Longest object path followed back to its root.
const MAX_PATH: usize = 1 << 20;

/// The root end of the shortest path from a root to `id` (`parents` of
/// [`ObjectGraph::shortest_paths`]), or `None` when no root reaches it.
fn path_root(parents: &[u32], mut id: u32) -> Option<u32> {
    for _ in 0..MAX_PATH {
        let p = *parents.get(id as usize)?;
        if p == UNREACHED {
            return None;
        }
        if p == id {
            return Some(id);
        }
        id = p;
    }
    None
}

/// Data and bss symbols with a size, by address (section markers such as
/// `runtime.bss` have none and name no variable).
pub struct GlobalSymbols<'p> {
    bias: u64,
    symbols: Vec<(u64, u64, &'p str)>,
}

impl<'p> GlobalSymbols<'p> {
    pub fn new(process: &'p GoProcess) -> GlobalSymbols<'p> {
        let mut symbols: Vec<(u64, u64, &str)> = process
            .symbols()
            .iter()
            .filter(|s| matches!(s.class, SymbolClass::Data | SymbolClass::Bss) && s.size > 0)
            .map(|s| (s.address, s.size, s.name))
            .collect();
        symbols.sort_unstable();
        GlobalSymbols {
            bias: process.load_bias(),
            symbols,
        }
    }

    /// The name of the global holding the pointer word at `word` (a
    /// runtime address): the covering symbol (`+0x10` when the word is
    /// not its first), else `global 0x…` (link address).
    pub fn name(&self, word: u64) -> String {
        let link = word.wrapping_sub(self.bias);
        let i = self.symbols.partition_point(|s| s.0 <= link);
        match i.checked_sub(1).and_then(|i| self.symbols.get(i)) {
            Some(&(a, size, name)) if link - a < size => {
                if a == link {
                    name.to_string()
                } else {
                    format!("{name}+{:#x}", link - a)
                }
            }
            _ => format!("global {link:#x}"),
        }
    }
}

/// Names the global roots of `maps` whose path starts at the unnamed
/// data/bss root (see the module doc). `parents` is the shortest-path
/// forest the maps were named from.
pub fn name_global_roots(
    process: &GoProcess,
    pointers: &PointerMaps,
    graph: &ObjectGraph,
    parents: &[u32],
    maps: &mut [FoundMap],
) {
    let Some(words) = pointers.global_words() else {
        return;
    };
    // The first object of each unnamed path.
    let mut firsts: HashMap<u32, Option<u64>> = HashMap::new();
    let mut wanted: Vec<Option<u32>> = Vec::with_capacity(maps.len());
    for m in maps.iter() {
        let first = m
            .root
            .starts_with(UNNAMED_GLOBALS)
            .then(|| graph.id_of_address(m.address))
            .flatten()
            .and_then(|id| path_root(parents, id));
        if let Some(f) = first {
            firsts.insert(f, None);
        }
        wanted.push(first);
    }
    if firsts.is_empty() {
        return;
    }
    // The lowest data/bss word pointing into each (words are sorted).
    let mem = process.memory();
    for &w in words {
        let Ok(v) = mem.read_u64(w) else { continue };
        if let Some(id) = graph.id_of_address(v) {
            if let Some(slot @ None) = firsts.get_mut(&id) {
                *slot = Some(w);
            }
        }
    }
    let symbols = GlobalSymbols::new(process);
    for (m, first) in maps.iter_mut().zip(wanted) {
        let Some(word) = first.and_then(|f| firsts.get(&f).copied().flatten()) else {
            continue;
        };
        let name = symbols.name(word);
        let direct = m.root == format!("{UNNAMED_GLOBALS} → map");
        if direct && m.root_kind == RootKind::Global {
            m.root = name.clone();
            m.via = RootVia::Variable;
        } else {
            m.root = m.root.replacen(UNNAMED_GLOBALS, &name, 1);
        }
        m.origin = RootOrigin::Global {
            variable: Arc::from(name.as_str()),
        };
    }
}

/// The warning of a run without DWARF: how many maps were found from
/// their storage's runtime types, with `len` decoded from a header, and
/// what cannot be found this way.
pub fn warning(maps: &[FoundMap], map_types: usize) -> String {
    let with_header = maps.iter().filter(|m| m.capacity > 0 || m.len > 0).count();
    let storage_only = maps.len() - with_header;
    format!(
        "no DWARF: maps found from their storage's runtime types ({map_types} map types read from the type descriptors): {} maps, {with_header} decoded from their header{}; maps whose storage carries no runtime type (small maps without malloc headers, pointer-free storage such as map[int]int, any map before Go 1.22) are not found, and globals are named by symbol or address",
        maps.len(),
        if storage_only > 0 {
            format!(", {storage_only} storage without a header found (len shown as 0)")
        } else {
            String::new()
        }
    )
}
