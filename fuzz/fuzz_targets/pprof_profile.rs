//! Profile decoding (gzip, raw protobuf, legacy text) and `top` over
//! whatever decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mapscope_pprof::{top, Profile, TopOptions};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(profile) = Profile::from_bytes(data, Path::new("fuzz.pb.gz")) else {
        return;
    };
    for i in 0..profile.sample_types.len().min(8) {
        let _ = top(
            &profile,
            &TopOptions {
                sample_index: Some(i.to_string()),
                ..TopOptions::default()
            },
        );
    }
    let _ = top(
        &profile,
        &TopOptions {
            node_count: 10,
            node_fraction: 0.005,
            sort: mapscope_pprof::SortOrder::Cum,
            ..TopOptions::default()
        },
    );
});
