//! The memory view: a core and an executable (the input split in two by
//! its first four bytes) combined into a `ProcessMemory`, then reads at
//! segment edges, across segments and at addresses taken from the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mapscope_elfcore::{Core, Executable, ProcessMemory};

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let split = (u32::from_le_bytes(*head) as usize).min(rest.len());
    let (core_bytes, exe_bytes) = rest.split_at(split);
    let Ok(core) = Core::from_bytes("fuzz-core", core_bytes.to_vec()) else {
        return;
    };
    let exe = Executable::from_bytes("fuzz-exe", exe_bytes.to_vec()).ok();
    if let Some(exe) = &exe {
        let _ = mapscope_elfcore::match_executable(&core, exe);
        let _ = mapscope_elfcore::place_executable(&core, exe);
    }
    let Ok(mem) = ProcessMemory::new(core, exe) else {
        return;
    };
    mapscope_fuzz::exercise_memory(&mem, data);
});
