//! The profile ↔ core join: from a decoded process, the maps discovery found
//! and (optionally) a pprof heap profile file, build the inputs of
//! [`attribute`](crate::attribution::attribute) and run it — in one call, [`join_profile`].
//!
//! Owns: turning the core's profile buckets into stacks (PCs → frames via
//! pclntab, inlined expansions merged), matching the file's samples to the
//! core's buckets, comparing the file with the profile the core's buckets
//! rebuild, and the per-map object sets (owned + retained through the
//! object graph).
//!
//! # Matching a file sample to its core bucket
//! `runtime/pprof` writes one sample per bucket: its location addresses are
//! the bucket's return PCs minus one, with the leading runtime frames
//! hidden, and its `bytes` label is the bucket's object size. That pair is
//! the exact key ([`Heap::pprof_stack`] rebuilds it from the core): one
//! user call site allocating several sizes (a map's growth allocates each
//! bucket array size at the same line) gives several samples with the same
//! frames, told apart only by `bytes`. Buckets that differ only inside the
//! runtime share a key; their samples are paired in order, preferring the
//! bucket whose rebuilt value equals the file's. A sample whose addresses
//! do not resolve (another build, a profile without addresses) falls back
//! to its (function, line) frames.
//!
//! Does not touch: opening files, discovering maps (it reuses the
//! [`Discovery`]'s graph and roots), cross-checking a profile's build
//! against the executable (`mapscope-incident` does that), rendering.

use crate::attribution::{
    attribute_partial, Attribution, CutPart, ProfileStack, SampledObject, Site,
};
use mapscope_gomaps::discover::Discovery;
use mapscope_goruntime::heap::Heap;
use mapscope_goruntime::layout::funcs::{is_hidden_by_pprof, GOEXIT};
use mapscope_goruntime::timing::phase;
use mapscope_goruntime::GoProcess;
use mapscope_pprof::Profile;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The runtime's default `MemProfileRate`, used when the core does not say.
const DEFAULT_MEM_PROFILE_RATE: i64 = 512 * 1024;

/// A heap profile file and where it came from (named in warnings).
#[derive(Clone, Copy)]
pub struct ProfileFile<'a> {
    pub path: &'a Path,
    pub profile: &'a Profile,
}

/// Which profile the attribution used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileSource {
    /// The given pprof file.
    File,
    /// The profile rebuilt from the core's `runtime.mbuckets`.
    Core,
}

impl ProfileSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileSource::File => "file",
            ProfileSource::Core => "core",
        }
    }
}

/// What [`join_profile`] concluded.
pub struct Joined {
    /// Per map (in [`Discovery::maps`] order) attributed `inuse_space`, the
    /// non-map, unattributed and cut remainders; conserves the profile
    /// total.
    pub attribution: Attribution,
    pub source: ProfileSource,
    /// With a file: whether it equals the core's rebuilt profile stack by
    /// stack. `None` without a file (or when the file was not usable).
    pub core_profile_matches: Option<bool>,
    /// The sampling rate the split used (the core's, else the default).
    pub mem_profile_rate: i64,
    /// File samples matched to a core bucket by PCs and object size, and by
    /// (function, line) frames only (the fallback).
    pub matched_by_pc: usize,
    pub matched_by_line: usize,
    pub warnings: Vec<String>,
}

type Frame = (String, String, i64);

/// Attributes the profile's `inuse_space` to the discovered maps.
///
/// `profile`: the pprof file when given; without one (or when it has no
/// `inuse_space` sample type) the core's own buckets are the profile.
pub fn join_profile(
    process: &GoProcess,
    heap: &Heap,
    discovery: &Discovery,
    profile: Option<ProfileFile<'_>>,
) -> Joined {
    let mut warnings = Vec::new();
    let rate = heap.mem_profile_rate().unwrap_or(DEFAULT_MEM_PROFILE_RATE);
    let core = phase("join: core stacks", || core_stacks(process, heap, rate));

    let mut source = ProfileSource::Core;
    let mut core_profile_matches = None;
    let mut stacks = core.stacks.clone();
    let (mut matched_by_pc, mut matched_by_line) = (0, 0);
    if let Some(file) = profile {
        match file_stacks(file, &core) {
            Ok(matched) => {
                source = ProfileSource::File;
                core_profile_matches = Some(matched.same_as_core);
                warnings.extend(matched.warning);
                stacks = matched.stacks;
                (matched_by_pc, matched_by_line) = (matched.by_pc, matched.by_line);
            }
            Err(w) => warnings.push(w),
        }
    }

    // Each sampled object's map, from discovery's retained-size pass (the
    // labels it left on every object): no new graph walk.
    let (objects, shared): (Vec<SampledObject>, u64) = phase("join: sampled objects", || {
        let found: Vec<(SampledObject, bool)> = heap
            .profiled_objects()
            .par_iter()
            .filter_map(|&(addr, bucket)| {
                let o = heap.object_at(addr)?;
                let (map, also) = discovery.map_retaining(o.address);
                let object = SampledObject {
                    address: o.address,
                    size: o.size,
                    bucket,
                    map,
                };
                Some((object, also))
            })
            .collect();
        let shared = found.iter().filter(|(_, also)| *also).count() as u64;
        (found.into_iter().map(|(o, _)| o).collect(), shared)
    });
    // A partial core: with span records missing, the profile specials on
    // them (the sampled objects) cannot be looked for; an object whose
    // bytes are absent cannot be placed. Both count as cut, not as
    // unattributed or non-map.
    let mem = process.memory();
    let absent = |address: u64, size: u64| !mem.is_readable(address, size.max(1));
    let buckets = heap.profile_buckets();
    let sampled_live = |bucket: u32| {
        let b = buckets.get(bucket as usize)?;
        let allocs = b.published.allocs.saturating_add(b.unpublished.allocs);
        let frees = b.published.frees.saturating_add(b.unpublished.frees);
        Some((allocs.saturating_sub(frees), b.size))
    };
    let cut = CutPart {
        // Only a cut core: on a complete one with damaged span records
        // the stacks stay unattributed (nothing is in a cut part).
        objects_unsearched: !heap.spans_complete() && !mem.core().is_complete(),
        absent: &absent,
        sampled_live: &sampled_live,
    };
    let mut attribution = phase("join: attribute", || {
        attribute_partial(&stacks, &objects, discovery.maps.len(), rate, &cut)
    });
    attribution.shared_objects = shared;
    Joined {
        attribution,
        source,
        core_profile_matches,
        mem_profile_rate: rate,
        matched_by_pc,
        matched_by_line,
        warnings,
    }
}

/// The core's buckets as stacks, with the lookup the file matching needs.
struct CoreStacks {
    /// Non-empty buckets, each with its bucket id and site.
    stacks: Vec<ProfileStack>,
    /// Logical stack → bucket ids sharing it (the fallback key).
    by_logical_stack: HashMap<Vec<(String, i64)>, Vec<u32>>,
    /// `runtime/pprof` location addresses → (bucket id, object size) of the
    /// buckets with that stack (the exact key, with the `bytes` label).
    by_pprof_stack: HashMap<Vec<u64>, Vec<(u32, u64)>>,
    /// Per bucket id, its site.
    sites: Vec<Site>,
}

fn core_stacks(process: &GoProcess, heap: &Heap, rate: i64) -> CoreStacks {
    let pclntab = process.pclntab();
    let buckets = heap.profile_buckets();
    let mut by_logical_stack: HashMap<Vec<(String, i64)>, Vec<u32>> = HashMap::new();
    let mut by_pprof_stack: HashMap<Vec<u64>, Vec<(u32, u64)>> = HashMap::new();
    let mut sites: Vec<Site> = Vec::with_capacity(buckets.len());
    for (i, b) in buckets.iter().enumerate() {
        let pcs = heap.bucket_stack(b);
        // Return PCs: the call is at pc-1; expand inlined frames.
        let per_pc: Vec<Vec<Frame>> = match pclntab {
            Some(p) => pcs
                .iter()
                .map(|&pc| {
                    p.frames(pc.saturating_sub(1))
                        .into_iter()
                        .map(|f| (f.function.to_string(), f.file.to_string(), f.line as i64))
                        .collect()
                })
                .collect(),
            None => Vec::new(),
        };
        let frames = merge_inline_expansions(&per_pc);
        sites.push(site_of_frames(&frames));
        if let Ok(id) = u32::try_from(i) {
            by_logical_stack
                .entry(logical_key(&frames))
                .or_default()
                .push(id);
            if pclntab.is_some() {
                by_pprof_stack
                    .entry(heap.pprof_stack(process, b))
                    .or_default()
                    .push((id, b.size));
            }
        }
    }
    let stacks = buckets
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let (_, space) = b.scaled_inuse(rate);
            (space != 0).then(|| ProfileStack {
                bucket: u32::try_from(i).ok(),
                inuse_space: space,
                site: sites.get(i).cloned().unwrap_or_default(),
            })
        })
        .collect();
    CoreStacks {
        stacks,
        by_logical_stack,
        by_pprof_stack,
        sites,
    }
}

/// The file's samples, each matched to a core bucket where one exists.
struct FileStacks {
    stacks: Vec<ProfileStack>,
    same_as_core: bool,
    warning: Option<String>,
    by_pc: usize,
    by_line: usize,
}

/// The core bucket of one file sample: by location addresses and `bytes`
/// label first, else by (function, line) frames. Among candidates, an
/// unused bucket whose rebuilt value equals the file's wins, then any
/// unused one. Returns the bucket and whether it was matched by PC.
fn match_sample(
    core: &CoreStacks,
    addresses: Option<&[u64]>,
    block_size: Option<u64>,
    frames: &[Frame],
    value: i64,
    used: &HashSet<u32>,
    core_value: &HashMap<u32, i64>,
) -> Option<(u32, bool)> {
    let pick = |candidates: &mut dyn Iterator<Item = u32>| -> Option<u32> {
        let unused: Vec<u32> = candidates.filter(|b| !used.contains(b)).collect();
        unused
            .iter()
            .find(|b| core_value.get(b) == Some(&value))
            .or_else(|| unused.first())
            .copied()
    };
    let by_pc = addresses
        .and_then(|a| core.by_pprof_stack.get(a))
        .and_then(|c| {
            pick(
                &mut c
                    .iter()
                    .filter(|(_, size)| !matches!(block_size, Some(s) if s != *size))
                    .map(|(b, _)| *b),
            )
        });
    if let Some(b) = by_pc {
        return Some((b, true));
    }
    core.by_logical_stack
        .get(&logical_key(frames))
        .and_then(|c| pick(&mut c.iter().copied()))
        .map(|b| (b, false))
}

/// Matches the file's samples to the core's buckets. `Err` is a warning:
/// the file has no `inuse_space`, so the core's buckets stay the profile.
fn file_stacks(file: ProfileFile<'_>, core: &CoreStacks) -> Result<FileStacks, String> {
    let profile = file.profile;
    let idx = profile
        .sample_types
        .iter()
        .position(|t| t.r#type == "inuse_space")
        .ok_or_else(|| {
            format!(
                "{}: no inuse_space sample type; using the core's buckets",
                file.path.display()
            )
        })?;
    let mut stacks = Vec::new();
    let mut matched = 0usize;
    let (mut by_pc, mut by_line) = (0usize, 0usize);
    let mut used_buckets: HashSet<u32> = HashSet::new();
    let core_value: HashMap<u32, i64> = core
        .stacks
        .iter()
        .filter_map(|c| Some((c.bucket?, c.inuse_space)))
        .collect();
    for s in &profile.samples {
        let v = s.values.get(idx).copied().unwrap_or(0);
        let frames: Vec<Frame> = s
            .locations
            .iter()
            .filter_map(|&l| profile.locations.get(l))
            .flat_map(|l| l.lines.iter())
            .filter_map(|ln| {
                let f = profile.functions.get(ln.function)?;
                Some((f.name.clone(), f.filename.clone(), ln.line))
            })
            .collect();
        // Location addresses, when every location has one.
        let addresses: Option<Vec<u64>> = s
            .locations
            .iter()
            .map(|&l| {
                profile
                    .locations
                    .get(l)
                    .map(|x| x.address)
                    .filter(|&a| a != 0)
            })
            .collect();
        // runtime/pprof labels a sample `bytes` = its bucket's object size
        // (absent when the bucket had no allocation yet).
        let block_size = s
            .num_labels
            .iter()
            .find(|l| l.key == "bytes")
            .and_then(|l| u64::try_from(l.value).ok())
            .filter(|&b| b > 0);
        let found = match_sample(
            core,
            addresses.as_deref(),
            block_size,
            &frames,
            v,
            &used_buckets,
            &core_value,
        );
        let bucket = found.map(|(b, _)| b);
        if let Some((b, pc)) = found {
            used_buckets.insert(b);
            matched += 1;
            if pc {
                by_pc += 1;
            } else {
                by_line += 1;
            }
        }
        let site = match bucket.and_then(|b| core.sites.get(b as usize)) {
            Some(s) if frames.is_empty() => s.clone(),
            _ => site_of_frames(&frames),
        };
        if v != 0 {
            stacks.push(ProfileStack {
                bucket,
                inuse_space: v,
                site,
            });
        }
    }
    // Compare with the core's rebuilt profile.
    let mut file_by_bucket: HashMap<u32, i64> = HashMap::new();
    for s in &stacks {
        if let Some(b) = s.bucket {
            let e = file_by_bucket.entry(b).or_insert(0);
            *e = e.saturating_add(s.inuse_space);
        }
    }
    let differs =
        |c: &&ProfileStack| c.bucket.and_then(|b| file_by_bucket.get(&b)) != Some(&c.inuse_space);
    let same_as_core = stacks.iter().all(|s| s.bucket.is_some())
        && core.stacks.len() == file_by_bucket.len()
        && !core.stacks.iter().any(|c| differs(&c));
    let mut warning = (!same_as_core).then(|| {
        let differing = core.stacks.iter().filter(differs).count();
        format!(
            "{}: {} of {} profile stacks match a core bucket; {} of the core's {} non-empty buckets differ in inuse_space from the file (the file was written at another moment than the core)",
            file.path.display(),
            matched,
            profile.samples.len(),
            differing,
            core.stacks.len()
        )
    });
    if by_line > 0 {
        let note = format!(
            "{}: {by_line} profile stacks matched a core bucket by function and line only, not by address (is the profile from this executable?)",
            file.path.display()
        );
        warning = Some(match warning {
            Some(w) => format!("{w}; {note}"),
            None => note,
        });
    }
    Ok(FileStacks {
        stacks,
        same_as_core,
        warning,
        by_pc,
        by_line,
    })
}

/// The bucket records a PC per logical frame (inline marks included), so
/// expanding each PC repeats the inlined callers that the next PC expands
/// again. When the next PC's first frame appears inside this PC's
/// expansion (past its leaf), keep only the part before it.
pub fn merge_inline_expansions(per_pc: &[Vec<Frame>]) -> Vec<Frame> {
    let mut out = Vec::new();
    for (i, cur) in per_pc.iter().enumerate() {
        let cut = per_pc
            .get(i + 1)
            .and_then(|next| next.first())
            .and_then(|first| cur.iter().skip(1).position(|f| f == first).map(|k| k + 1))
            .unwrap_or(cur.len());
        out.extend(cur.iter().take(cut).cloned());
    }
    out
}

/// A stack as (function, line) frames, leaf first, with the runtime's
/// allocation frames at the leaf and `runtime.goexit` at the root dropped —
/// runtime/pprof hides both, the core's buckets keep them.
pub fn logical_key(frames: &[Frame]) -> Vec<(String, i64)> {
    let start = frames
        .iter()
        .position(|f| !is_hidden_by_pprof(&f.0))
        .unwrap_or(0);
    let mut v: Vec<(String, i64)> = frames
        .get(start..)
        .unwrap_or(&[])
        .iter()
        .map(|f| (f.0.clone(), f.2))
        .collect();
    while v.last().is_some_and(|f| f.0 == GOEXIT) {
        v.pop();
    }
    // An inlined call's PC and its caller's return PC can both expand to
    // the caller's frame; runtime/pprof shows it once.
    v.dedup();
    v
}

/// The site of a stack: its first frame outside the runtime.
pub fn site_of_frames(frames: &[Frame]) -> Site {
    let pick = frames
        .iter()
        .find(|f| !is_hidden_by_pprof(&f.0))
        .or_else(|| frames.first());
    match pick {
        Some((f, file, line)) => Site {
            function: f.clone(),
            file: file.clone(),
            line: *line,
        },
        None => Site::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, line: i64) -> Frame {
        (name.to_string(), "x.go".to_string(), line)
    }

    #[test]
    fn inline_expansions_are_merged() {
        // PC 1 expands to [leaf, inlined caller]; PC 2 expands to the caller.
        let per_pc = vec![vec![f("a", 1), f("b", 2)], vec![f("b", 2), f("c", 3)]];
        let merged = merge_inline_expansions(&per_pc);
        assert_eq!(merged, vec![f("a", 1), f("b", 2), f("c", 3)]);
    }

    /// One user line allocating two sizes (a map's growth: the entry and
    /// the bucket array) gives two samples with the same frames; only the
    /// addresses and `bytes` label tell them apart, whatever the values.
    #[test]
    fn samples_sharing_frames_join_by_size() {
        let frames = vec![f("main.build", 7)];
        let stack = vec![0x401000u64, 0x402000];
        let core = CoreStacks {
            stacks: Vec::new(),
            by_logical_stack: HashMap::from([(logical_key(&frames), vec![0, 1])]),
            by_pprof_stack: HashMap::from([(stack.clone(), vec![(0, 81920), (1, 96)])]),
            sites: Vec::new(),
        };
        // The core's values differ from the file's (another moment).
        let core_value = HashMap::from([(0u32, 81_920i64), (1u32, 300_000i64)]);
        let used = HashSet::new();
        let m = |size: Option<u64>, value: i64, used: &HashSet<u32>| {
            match_sample(&core, Some(&stack), size, &frames, value, used, &core_value)
        };
        assert_eq!(m(Some(96), 327_390, &used), Some((1, true)));
        assert_eq!(m(Some(81920), 81_000, &used), Some((0, true)));
        // No such size: nothing by PC, then the frames (fallback).
        assert_eq!(m(Some(48), 5, &used), Some((0, false)));
        // Without a label: the unused bucket with the same value first.
        assert_eq!(m(None, 300_000, &used), Some((1, true)));
        let used_one = HashSet::from([1u32]);
        assert_eq!(m(Some(96), 1, &used_one), Some((0, false)));
        // Addresses from another build: frames only.
        let other = [0x999u64];
        assert_eq!(
            match_sample(
                &core,
                Some(&other),
                Some(96),
                &frames,
                1,
                &used,
                &core_value
            ),
            Some((0, false))
        );
    }

    #[test]
    fn logical_key_drops_runtime_leaf_and_goexit() {
        let frames = vec![
            f("runtime.mallocgc", 1),
            f("main.alloc", 2),
            f("main.alloc", 2),
            f("runtime.goexit", 3),
        ];
        assert_eq!(logical_key(&frames), vec![("main.alloc".to_string(), 2)]);
        assert_eq!(site_of_frames(&frames).function, "main.alloc");
    }
}
