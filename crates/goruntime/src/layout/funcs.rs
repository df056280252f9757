//! Which functions belong to the Go runtime, by the names pclntab and
//! profiles give them — the one set of rules every layer above asks
//! instead of testing name prefixes itself.
//!
//! Owns: the runtime's package prefixes and the few runtime functions the
//! layers above name (`runtime.goexit`, `runtime.main`), and
//! `runtime/pprof`'s own rule for the frames it hides.

/// `runtime.goexit`: the return address at the root of every goroutine.
pub const GOEXIT: &str = "runtime.goexit";

/// `runtime.main`: the main goroutine's root frame, which runs `main.main`
/// and lives as long as the program.
pub const RUNTIME_MAIN: &str = "runtime.main";

/// Whether `name` is a function of the runtime or its own packages:
/// `runtime.…`, `runtime/…` (`runtime/internal/…` before 1.22, also
/// `runtime/pprof`, `runtime/trace`, …) and `internal/runtime…` (1.22+).
pub fn is_runtime_function(name: &str) -> bool {
    name.starts_with("runtime.") || name.starts_with("runtime/") || is_internal_runtime(name)
}

/// Whether `name` is a function `runtime/pprof` leaves out of a heap
/// profile's stack when it leads the stack (`protomem.go`), and out of a
/// printed stack (`pprof.go`): `runtime.…` and `internal/runtime/…`.
/// Stacks from the core are matched to the profile's with this rule, so
/// it is pprof's, not [`is_runtime_function`].
pub fn is_hidden_by_pprof(name: &str) -> bool {
    name.starts_with("runtime.") || is_internal_runtime(name)
}

/// Whether `name` is outside both the runtime ([`is_runtime_function`])
/// and the standard library's internal packages (`internal/…`, e.g.
/// `internal/poll`): a frame that says what a goroutine is about.
pub fn is_outside_runtime_and_internal(name: &str) -> bool {
    !is_runtime_function(name) && !name.starts_with("internal/")
}

fn is_internal_runtime(name: &str) -> bool {
    name.starts_with("internal/runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert!(is_runtime_function("runtime.mallocgc"));
        assert!(is_runtime_function("runtime/internal/syscall.EpollWait"));
        assert!(is_runtime_function("internal/runtime/maps.(*Map).putSlot"));
        assert!(!is_runtime_function("main.main"));
        assert!(!is_runtime_function("internal/poll.runtime_pollWait"));
        assert!(is_hidden_by_pprof("runtime.newobject"));
        assert!(is_hidden_by_pprof("internal/runtime/maps.newarray"));
        assert!(!is_hidden_by_pprof("runtime/pprof.(*profileBuilder).build"));
        assert!(!is_outside_runtime_and_internal(
            "internal/poll.runtime_pollWait"
        ));
        assert!(!is_outside_runtime_and_internal("runtime.gopark"));
        assert!(!is_outside_runtime_and_internal(
            "runtime/internal/syscall.Syscall6"
        ));
        assert!(is_outside_runtime_and_internal("main.worker"));
    }
}
