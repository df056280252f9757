//! mapscope-elfcore
