//! mapscope-pprof
