//! Splitting profile stacks over sampled objects and objects over maps.

use serde::Serialize;
use std::collections::HashMap;

/// Where an allocation happened: the first frame outside the runtime.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Site {
    pub function: String,
    pub file: String,
    pub line: i64,
}

/// One stack of the profile, with its `inuse_space` value and the id of the
/// core bucket it matched (None: no bucket with the same stack).
#[derive(Clone, Debug)]
pub struct ProfileStack {
    pub bucket: Option<u32>,
    pub inuse_space: i64,
    pub site: Site,
}

/// A sampled live object: the heap object carrying a profile special, and
/// the map (index into the caller's list) that retains it, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampledObject {
    pub address: u64,
    pub size: u64,
    pub bucket: u32,
    pub map: Option<usize>,
}

/// A site and the bytes attributed from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SiteValue {
    #[serde(flatten)]
    pub site: Site,
    pub inuse_space: i64,
}

/// The result of [`attribute`]. `per_map + non_map + unattributed + cut ==
/// total`.
#[derive(Clone, Debug, Default)]
pub struct Attribution {
    pub total: i64,
    /// Per map (same order as the input), attributed inuse_space.
    pub per_map: Vec<i64>,
    /// Per map, sites sorted by value (descending).
    pub sites: Vec<Vec<SiteValue>>,
    /// Sampled live objects in no map.
    pub non_map: i64,
    /// Stacks with no sampled live object in the core.
    pub unattributed: i64,
    pub unattributed_sites: Vec<SiteValue>,
    /// The part of the profile that fell into the cut part of a partial
    /// core ([`CutPart`]): stacks whose sampled objects could not be
    /// looked for (the span records holding their profile specials are
    /// absent), and the shares of sampled objects whose own bytes are
    /// absent. Always 0 on a complete core.
    pub cut: i64,
    pub cut_sites: Vec<SiteValue>,
    /// Sampled objects found in more than one map (given to the first;
    /// counted by the caller that decides [`SampledObject::map`]).
    pub shared_objects: u64,
}

impl Attribution {
    pub fn attributed(&self) -> i64 {
        self.per_map.iter().sum()
    }
}

/// `size / (1 - exp(-size/rate))`: one sampled object's unbiased estimate of
/// the bytes it stands for (runtime/pprof scaleHeapSample with count 1).
pub fn object_weight(size: u64, rate: i64) -> f64 {
    let s = size as f64;
    if rate <= 1 || size == 0 {
        return s;
    }
    let p = 1.0 - (-s / rate as f64).exp();
    if p <= 0.0 {
        s
    } else {
        s / p
    }
}

/// Splits `value` over `weights` in integers summing to `value` exactly:
/// floors first, then the remainder to the largest fractions (ties: lower
/// index). Negative values are split the same way on their magnitude.
pub fn split_exact(value: i64, weights: &[f64]) -> Vec<i64> {
    if weights.is_empty() {
        return Vec::new();
    }
    let sum: f64 = weights.iter().sum();
    let neg = value < 0;
    let v = value.unsigned_abs() as i128;
    let mut shares: Vec<i128> = Vec::with_capacity(weights.len());
    let mut fracs: Vec<(f64, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let exact = if sum > 0.0 {
            v as f64 * (w / sum)
        } else {
            v as f64 / weights.len() as f64
        };
        let fl = exact.floor().max(0.0) as i128;
        shares.push(fl);
        fracs.push((exact - fl as f64, i));
    }
    let mut given: i128 = shares.iter().sum();
    // Float error may overshoot: take back from the smallest fractions.
    if given > v {
        fracs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for &(_, i) in fracs.iter().cycle().take(weights.len() * 4) {
            if given <= v {
                break;
            }
            if let Some(s) = shares.get_mut(i) {
                if *s > 0 {
                    *s -= 1;
                    given -= 1;
                }
            }
        }
    }
    fracs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut k = 0usize;
    while given < v && !fracs.is_empty() {
        if let Some(&(_, i)) = fracs.get(k % fracs.len()) {
            if let Some(s) = shares.get_mut(i) {
                *s += 1;
            }
        }
        given += 1;
        k += 1;
    }
    shares
        .into_iter()
        .map(|s| {
            let s = s as i64;
            if neg {
                -s
            } else {
                s
            }
        })
        .collect()
}

fn add_site(acc: &mut HashMap<Site, i64>, site: &Site, v: i64) {
    *acc.entry(site.clone()).or_insert(0) += v;
}

fn sorted_sites(acc: HashMap<Site, i64>) -> Vec<SiteValue> {
    let mut v: Vec<SiteValue> = acc
        .into_iter()
        .filter(|(_, x)| *x != 0)
        .map(|(site, inuse_space)| SiteValue { site, inuse_space })
        .collect();
    v.sort_by(|a, b| b.inuse_space.cmp(&a.inuse_space).then(a.site.cmp(&b.site)));
    v
}

/// What of a partial core is missing, as [`attribute_partial`] needs it.
pub struct CutPart<'a> {
    /// The search for sampled objects was incomplete (some in-use span
    /// records, which hold the profile specials, are absent): a stack with
    /// no sampled object found may have its objects there, so it counts in
    /// [`Attribution::cut`], not `unattributed`.
    pub objects_unsearched: bool,
    /// Whether an object's bytes (`address`, `size`) are absent from the
    /// core: its share counts in [`Attribution::cut`] (nothing can say
    /// what it holds or what holds it).
    pub absent: &'a dyn Fn(u64, u64) -> bool,
    /// Per bucket id, the live sampled objects the core's bucket record
    /// counts (all cycles, published or not) and their size, when known.
    /// With [`CutPart::objects_unsearched`], a stack whose search found
    /// fewer objects than that gives the missing ones' share (weighted
    /// like any sampled object of that size) to the cut part.
    pub sampled_live: &'a dyn Fn(u32) -> Option<(u64, u64)>,
}

/// Attributes every profile stack's `inuse_space` to maps, non-map objects
/// or "unattributed", exactly (see the crate docs for the split), on a
/// complete core: [`attribute_partial`] with nothing cut.
pub fn attribute(
    stacks: &[ProfileStack],
    objects: &[SampledObject],
    maps: usize,
    rate: i64,
) -> Attribution {
    let cut = CutPart {
        objects_unsearched: false,
        absent: &|_, _| false,
        sampled_live: &|_| None,
    };
    attribute_partial(stacks, objects, maps, rate, &cut)
}

/// [`attribute`] over the objects a partial core can place; what fell into
/// the cut part goes to [`Attribution::cut`]. Conserves the total exactly.
pub fn attribute_partial(
    stacks: &[ProfileStack],
    objects: &[SampledObject],
    maps: usize,
    rate: i64,
    cut: &CutPart<'_>,
) -> Attribution {
    // Bucket → its sampled objects, sorted by address for determinism.
    let mut by_bucket: HashMap<u32, Vec<SampledObject>> = HashMap::new();
    for o in objects {
        by_bucket.entry(o.bucket).or_default().push(*o);
    }
    for v in by_bucket.values_mut() {
        v.sort_by_key(|o| o.address);
    }
    // The same bucket may appear in several file stacks only if the file
    // repeats a stack; each is split on its own.
    let mut out = Attribution {
        per_map: vec![0; maps],
        ..Default::default()
    };
    let mut map_sites: Vec<HashMap<Site, i64>> = vec![HashMap::new(); maps];
    let mut unattributed_sites: HashMap<Site, i64> = HashMap::new();
    let mut cut_sites: HashMap<Site, i64> = HashMap::new();
    for s in stacks {
        out.total += s.inuse_space;
        let objs = s.bucket.and_then(|b| by_bucket.get(&b));
        let objs = match objs {
            Some(o) if !o.is_empty() => o,
            _ if cut.objects_unsearched => {
                out.cut += s.inuse_space;
                add_site(&mut cut_sites, &s.site, s.inuse_space);
                continue;
            }
            _ => {
                out.unattributed += s.inuse_space;
                add_site(&mut unattributed_sites, &s.site, s.inuse_space);
                continue;
            }
        };
        let mut weights: Vec<f64> = objs.iter().map(|o| object_weight(o.size, rate)).collect();
        // Objects the bucket counts but the incomplete search did not
        // find: one aggregate weight (no allocation sized by the count).
        let (missing, size) = match (cut.objects_unsearched, s.bucket.and_then(cut.sampled_live)) {
            (true, Some((live, size))) => (live.saturating_sub(objs.len() as u64), size),
            _ => (0, 0),
        };
        if missing > 0 {
            weights.push(missing as f64 * object_weight(size, rate));
        }
        let mut shares = split_exact(s.inuse_space, &weights);
        if missing > 0 {
            let share = shares.pop().unwrap_or(0);
            out.cut += share;
            add_site(&mut cut_sites, &s.site, share);
        }
        for (o, share) in objs.iter().zip(shares) {
            if (cut.absent)(o.address, o.size) {
                out.cut += share;
                add_site(&mut cut_sites, &s.site, share);
                continue;
            }
            match o.map {
                Some(mi) => {
                    if let Some(p) = out.per_map.get_mut(mi) {
                        *p += share;
                    }
                    if let Some(acc) = map_sites.get_mut(mi) {
                        add_site(acc, &s.site, share);
                    }
                }
                None => out.non_map += share,
            }
        }
    }
    out.sites = map_sites.into_iter().map(sorted_sites).collect();
    out.unattributed_sites = sorted_sites(unattributed_sites);
    out.cut_sites = sorted_sites(cut_sites);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_exact() {
        for v in [0i64, 1, 7, 1000, 123_457, -99] {
            let w = [1.0, 2.0, 3.0, 0.5];
            assert_eq!(split_exact(v, &w).iter().sum::<i64>(), v);
        }
        assert_eq!(split_exact(10, &[1.0, 1.0, 1.0]), vec![4, 3, 3]);
        assert_eq!(split_exact(5, &[0.0, 0.0]).iter().sum::<i64>(), 5);
    }

    #[test]
    fn conservation() {
        let site = |f: &str| Site {
            function: f.into(),
            file: "x.go".into(),
            line: 1,
        };
        let stacks = vec![
            ProfileStack {
                bucket: Some(0),
                inuse_space: 100_003,
                site: site("a"),
            },
            ProfileStack {
                bucket: Some(1),
                inuse_space: 5_001,
                site: site("b"),
            },
            ProfileStack {
                bucket: None,
                inuse_space: 777,
                site: site("c"),
            },
            ProfileStack {
                bucket: Some(9),
                inuse_space: 11,
                site: site("d"),
            },
        ];
        let objects = vec![
            SampledObject {
                address: 0x10,
                size: 48,
                bucket: 0,
                map: Some(0),
            },
            SampledObject {
                address: 0x20,
                size: 4096,
                bucket: 0,
                map: None,
            },
            SampledObject {
                address: 0x30,
                size: 16,
                bucket: 1,
                map: Some(1),
            },
        ];
        let a = attribute(&stacks, &objects, 2, 4096);
        assert_eq!(a.total, 100_003 + 5_001 + 777 + 11);
        assert_eq!(a.attributed() + a.non_map + a.unattributed, a.total);
        assert_eq!(a.per_map[1], 5_001);
        assert_eq!(a.unattributed, 788);
        assert!(a.per_map[0] > 0 && a.non_map > a.per_map[0]);
        assert_eq!(a.sites[1][0].site.function, "b");
        assert_eq!(a.cut, 0);

        // The object at 0x20 absent, and the search for objects incomplete:
        // its share and the stacks with no object found are cut; the rest
        // is unchanged and the total still conserved.
        let absent = |addr: u64, _size: u64| addr == 0x20;
        let partial = CutPart {
            objects_unsearched: true,
            absent: &absent,
            sampled_live: &|_| None,
        };
        let p = attribute_partial(&stacks, &objects, 2, 4096, &partial);
        assert_eq!(p.total, a.total);
        assert_eq!(p.attributed() + p.non_map + p.unattributed + p.cut, p.total);
        assert_eq!((p.unattributed, p.non_map), (0, 0));
        assert_eq!(p.cut, 788 + a.non_map);
        assert_eq!(p.per_map, a.per_map);

        // Bucket 1 counts 3 live sampled objects of 16 bytes, one found:
        // two thirds of its stack are cut. A huge count allocates nothing.
        let live = |b: u32| match b {
            1 => Some((3, 16)),
            0 => Some((u64::MAX, 48)),
            _ => None,
        };
        let counted = CutPart {
            objects_unsearched: true,
            absent: &|_, _| false,
            sampled_live: &live,
        };
        let c = attribute_partial(&stacks, &objects, 2, 4096, &counted);
        assert_eq!(c.attributed() + c.non_map + c.unattributed + c.cut, c.total);
        assert_eq!(c.per_map[1], 1_667);
        assert!(c.per_map[0] + c.non_map <= 1, "{c:?}");
        assert_eq!(c.cut, c.total - c.per_map[1] - c.per_map[0] - c.non_map);
    }
}
