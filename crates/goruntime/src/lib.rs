//! mapscope-goruntime
