//! The heap walk over a mutated core image: patches land on `runtime.mheap_`
//! (arenas, allspans, central lists), on `mspan` records of real spans, on
//! what those point at (allocation bits, specials) and on span contents;
//! then the Go view is built and the heap walked, including specials and
//! profile buckets, and goroutines are listed.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mapscope_fuzz::{parse_patches, BaseImage};
use mapscope_goruntime::GoProcess;

struct Anchors {
    image: &'static BaseImage,
    mheap: u64,
    /// (mspan record, span start) of every in-use span.
    spans: Vec<(u64, u64)>,
}

fn anchors() -> &'static [Anchors] {
    static ANCHORS: OnceLock<Vec<Anchors>> = OnceLock::new();
    ANCHORS.get_or_init(|| {
        ["go1.26", "go1.22"]
            .into_iter()
            .map(|name| {
                let image = BaseImage::get(name);
                image.with_patches(&[], |mem| {
                    let process = GoProcess::new(mem).expect("sample process");
                    let mheap = process.global("runtime.mheap_").expect("mheap_").address;
                    let heap = process.heap().expect("sample heap");
                    let spans = heap.spans().iter().map(|s| (s.mspan, s.start)).collect();
                    Anchors {
                        image,
                        mheap,
                        spans,
                    }
                })
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&[which], rest)) = data.split_first_chunk::<1>() else {
        return;
    };
    let all = anchors();
    let a = &all[usize::from(which) % all.len()];
    let image = a.image;
    let patches = parse_patches(rest, |sel, arg| {
        let span = a.spans.get(usize::from(arg) * a.spans.len() / 256).copied();
        match sel % 6 {
            // Anywhere in the first 64 KiB of mheap_ (arenas, allspans,
            // pages, central lists).
            0 => Some(a.mheap),
            // Farther into mheap_ (its central array is large).
            1 => a.mheap.checked_add(u64::from(arg) << 16),
            // What a pointer field of mheap_ points to.
            2 => image.read_u64(a.mheap.checked_add(u64::from(arg) * 8)?),
            3 => span.map(|s| s.0),
            // What a pointer field of an mspan points to (allocBits,
            // specials, next).
            4 => image.read_u64(span?.0.checked_add(u64::from(arg % 32) * 8)?),
            _ => span.map(|s| s.1),
        }
    });
    image.with_patches(&patches, |mem| {
        let Ok(process) = GoProcess::new(mem) else {
            return;
        };
        if let Ok(heap) = process.heap() {
            let _ = (heap.object_count(), heap.in_use_bytes(), heap.span_bytes());
            let _ = heap.objects().take(100_000).count();
            for bucket in heap.profile_buckets().iter().take(256) {
                let _ = heap.pprof_stack(&process, bucket);
            }
            let _ = heap.specials().len();
            let _ = heap.runtime_stats();
        }
        let _ = process.goroutines().map(|g| g.goroutines.len());
    });
});
