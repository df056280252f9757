//! ELF core and note parsing: the input is a whole core file (and, parsed a
//! second time, an executable). Every accessor must work on whatever parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mapscope_elfcore::{Core, Executable};

fuzz_target!(|data: &[u8]| {
    if let Ok(core) = Core::from_bytes("fuzz-core", data.to_vec()) {
        mapscope_fuzz::exercise_core(&core);
    }
    if let Ok(exe) = Executable::from_bytes("fuzz-exe", data.to_vec()) {
        mapscope_fuzz::exercise_executable(&exe);
    }
});
