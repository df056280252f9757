//! The cached analyses' errors are typed: a core cut right after its notes
//! (every `PT_LOAD` segment's bytes gone) still opens, and the heap walk
//! fails with [`GoRuntimeError::Unavailable`] carrying the walk's own error
//! — `runtime.mheap_` unreadable at the address the executable's ELF symbol
//! table gives (read here with `object`, not with mapscope's symbols) —
//! shared by every caller, with the one-line message the CLI prints.

use std::sync::Arc;

use mapscope_goruntime::{GoProcess, GoRuntimeError};
use object::{Object, ObjectSymbol};

/// The sample's core cut to its headers and notes, in `dir`.
fn notes_only_core(core: &std::path::Path, dir: &std::path::Path) -> std::path::PathBuf {
    let cut = dir.join("core");
    mapscope_testsupport::write_core_without_segment_data(core, &cut);
    cut
}

fn symbol_address(exe: &std::path::Path, name: &str) -> u64 {
    let bytes = std::fs::read(exe).expect("read exe");
    let file = object::File::parse(&*bytes).expect("exe parses as ELF");
    let found = file
        .symbols()
        .find(|s| s.name() == Ok(name))
        .unwrap_or_else(|| panic!("{name} in the symbol table"));
    found.address()
}

#[test]
fn heap_walk_failure_is_typed_cached_and_worded_as_before() {
    for name in ["go1.22", "go1.26"] {
        let s = mapscope_testsupport::sample(name);
        let dir = std::env::temp_dir().join(format!(
            "mapscope-cached-errors-{}-{name}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let core = notes_only_core(&s.core, &dir);
        let process = GoProcess::open(&core, Some(&s.exe)).expect("a cut core still opens");
        let mheap = symbol_address(&s.exe, "runtime.mheap_");
        // The samples are not PIE: the symbol's address is the runtime's.
        assert_eq!(process.load_bias(), 0, "{name}");

        let first = process.heap().expect_err("no heap without segments");
        let GoRuntimeError::Unavailable { what, cause } = &first else {
            panic!("{name}: not Unavailable: {first:?}");
        };
        assert_eq!(*what, "Go heap walk", "{name}");
        match &**cause {
            GoRuntimeError::Corrupt {
                what,
                address,
                problem,
            } => {
                assert_eq!(*what, "runtime.mheap_", "{name}");
                assert_eq!(*address, mheap, "{name}");
                assert_eq!(problem, "unreadable (sweepgen)", "{name}");
            }
            other => panic!("{name}: cause is not Corrupt: {other:?}"),
        }
        // The text every report and the CLI print, unchanged by typing.
        assert_eq!(
            first.to_string(),
            format!(
                "Go heap walk unavailable: runtime.mheap_ at {mheap:#x}: unreadable (sweepgen)"
            ),
            "{name}"
        );
        // The cause is in the message, not a `source` a chain would repeat.
        assert!(std::error::Error::source(&first).is_none(), "{name}");

        // Walked once: the second caller gets the same cached error.
        let second = process.heap().expect_err("still no heap");
        let GoRuntimeError::Unavailable { cause: again, .. } = &second else {
            panic!("{name}: not Unavailable: {second:?}");
        };
        assert!(Arc::ptr_eq(cause, again), "{name}: the heap walk ran twice");
        // The layout itself resolved (it needs DWARF only).
        assert!(process.layout().is_ok(), "{name}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
