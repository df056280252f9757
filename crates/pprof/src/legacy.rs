//! Legacy text heap profiles: `heap profile: ...` as written by
//! `pprof.Lookup("heap").WriteTo(w, 1)` (`/debug/pprof/heap?debug=1`), and
//! the older heapz/heapprofile/growthz variants google/pprof also reads.
//!
//! Values are decoded exactly as google/pprof's `profile/legacy_profile.go`
//! does (header variants, `heap/N` meaning a period of N/2, the Poisson
//! un-sampling of v2 profiles with amd64 Go's own `math.Exp`), so totals
//! equal `go tool pprof` on the same file.
//!
//! Symbols: pprof symbolizes a legacy profile with the executable. We read
//! the runtime's own symbolization instead: the `#\t0xPC\tfunc+0xOFF\tfile:line`
//! lines Go prints under each sample (inlined frames included). Addresses
//! with no such line are the frames the runtime chose not to print (the
//! allocator's `runtime.*` frames at the leaf, `runtime.goexit` at the
//! root); they are left out of the stacks, as pprof's own allocator
//! frame-dropping would drop the former. A file without any such lines keeps
//! bare addresses.

use crate::error::ProfileError;
use crate::model::{Function, Line, Location, NumLabel, Profile, Sample, ValueType};
use regex::Regex;
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

struct Patterns {
    heap_header: Regex,
    growth_header: Regex,
    fragmentation_header: Regex,
    heap_sample: Regex,
    hex_number: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        // The regexps of google/pprof's legacy_profile.go, with \d spelled
        // [0-9] (Go's \d is ASCII only).
        let re = |s: &str| Regex::new(s).expect("static regexp");
        Patterns {
            heap_header: re(
                r"heap profile: *([0-9]+): *([0-9]+) *\[ *([0-9]+): *([0-9]+) *\] *@ *(heap[_a-z0-9]*)/?([0-9]*)",
            ),
            growth_header: re(
                r"heap profile: *([0-9]+): *([0-9]+) *\[ *([0-9]+): *([0-9]+) *\] @ growthz?",
            ),
            fragmentation_header: re(
                r"heap profile: *([0-9]+): *([0-9]+) *\[ *([0-9]+): *([0-9]+) *\] @ fragmentationz?",
            ),
            heap_sample: re(
                r"(-?[0-9]+): *(-?[0-9]+) *\[ *([0-9]+): *([0-9]+) *\] @([ x0-9a-f]*)",
            ),
            hex_number: re(r"0x[0-9a-f]+"),
        }
    })
}

/// pprof's frame-dropping regexps for heap profiles (`allocRxStr`,
/// `allocSkipRxStr` in legacy_profile.go).
const ALLOC_DROP_FRAMES: &str = concat!(
    r"calloc|cfree|malloc|free|memalign|do_memalign|(__)?posix_memalign|pvalloc|valloc|realloc|",
    r"tcmalloc::.*|tc_calloc|tc_cfree|tc_malloc|tc_free|tc_memalign|tc_posix_memalign|tc_pvalloc|",
    r"tc_valloc|tc_realloc|tc_new|tc_delete|tc_newarray|tc_deletearray|tc_new_nothrow|",
    r"tc_newarray_nothrow|malloc_zone_malloc|malloc_zone_calloc|malloc_zone_valloc|",
    r"malloc_zone_realloc|malloc_zone_memalign|malloc_zone_free|runtime\..*|BaseArena::.*|",
    r"(::)?do_malloc_no_errno|(::)?do_malloc_pages|(::)?do_malloc|DoSampledAllocation|",
    r"MallocedMemBlock::MallocedMemBlock|_M_allocate|__builtin_(vec_)?delete|__builtin_(vec_)?new|",
    r"__gnu_cxx::new_allocator::allocate|__libc_malloc|__malloc_alloc_template::allocate|allocate|",
    r"cpp_alloc|operator new(\[\])?|simple_alloc::allocate"
);
const ALLOC_KEEP_FRAMES: &str = r"runtime\.panic|runtime\.reflectcall|runtime\.call[0-9]*";

const MEMORY_MAP_SENTINELS: [&str; 2] = ["--- Memory map: ---", "MAPPED_LIBRARIES:"];

/// Longest line we accept (Go's bufio.Scanner default limit).
const MAX_LINE: usize = 64 * 1024;

fn first_line(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let line = &bytes[..end.min(MAX_LINE)];
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Whether the data starts like a legacy heap profile.
pub(crate) fn is_legacy_heap(bytes: &[u8]) -> bool {
    let Ok(line) = std::str::from_utf8(first_line(bytes)) else {
        return false;
    };
    line.contains("heap profile:") && {
        let p = patterns();
        p.heap_header.is_match(line)
            || p.growth_header.is_match(line)
            || p.fragmentation_header.is_match(line)
    }
}

/// How sample values are un-sampled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sampling {
    /// Values are taken as they are.
    None,
    /// Poisson sampling with mean period `rate` bytes ("v2").
    V2,
}

/// One frame the runtime printed under a sample.
struct Frame {
    function: Option<(String, String)>, // (name, file)
    line: i64,
}

fn legacy_err(path: &Path, line: usize, detail: impl Into<String>) -> ProfileError {
    ProfileError::Legacy {
        path: path.to_path_buf(),
        line,
        detail: detail.into(),
    }
}

pub(crate) fn parse_heap(bytes: &[u8], path: &Path) -> Result<Profile, ProfileError> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)));
    let p = patterns();

    let (_, header) = lines.next().unwrap_or((1, ""));
    let (sampling, period, has_alloc) = if let Some(c) = p.heap_header.captures(header) {
        let field = |i: usize| c.get(i).map_or("", |m| m.as_str());
        let mut period: i64 = 0;
        if !field(6).is_empty() {
            period = field(6)
                .parse()
                .map_err(|_| legacy_err(path, 1, "sampling period out of range"))?;
        }
        // Alloc columns that differ from the in-use ones (and are not 0).
        let has_alloc =
            (field(3) != field(1) && field(3) != "0") || (field(4) != field(2) && field(4) != "0");
        match field(5) {
            "heapz_v2" | "heap_v2" => (Sampling::V2, period, has_alloc),
            "heapprofile" => (Sampling::None, 1, has_alloc),
            // Go writes `heap/<2*MemProfileRate>`.
            "heap" => (Sampling::V2, period / 2, has_alloc),
            other => {
                return Err(ProfileError::NotAProfile {
                    path: path.to_path_buf(),
                    detail: format!("unsupported legacy heap profile kind {other:?}"),
                })
            }
        }
    } else if p.growth_header.is_match(header) || p.fragmentation_header.is_match(header) {
        (Sampling::None, 1, false)
    } else {
        return Err(ProfileError::NotAProfile {
            path: path.to_path_buf(),
            detail: "first line is not a legacy heap profile header".to_string(),
        });
    };

    let vt = |t: &str, u: &str| ValueType {
        r#type: t.to_string(),
        unit: u.to_string(),
    };
    let sample_types = if has_alloc {
        // alloc before inuse, so that the default (last) type is inuse_space.
        vec![
            vt("alloc_objects", "count"),
            vt("alloc_space", "bytes"),
            vt("inuse_objects", "count"),
            vt("inuse_space", "bytes"),
        ]
    } else {
        vec![vt("objects", "count"), vt("space", "bytes")]
    };

    // Samples with their raw addresses, and the frames printed below each.
    let mut raw_samples: Vec<(Vec<i64>, i64, Vec<u64>)> = Vec::new();
    let mut frames_by_pc: HashMap<u64, Vec<Frame>> = HashMap::new();
    let mut pending: Vec<(u64, Frame)> = Vec::new();
    let flush = |pending: &mut Vec<(u64, Frame)>, frames_by_pc: &mut HashMap<u64, Vec<Frame>>| {
        // Keep the first printing of each PC; consecutive lines with one PC
        // are the inlined frames at that PC, innermost first.
        let mut taken: Vec<u64> = Vec::new();
        for (pc, frame) in pending.drain(..) {
            if !frames_by_pc.contains_key(&pc) || taken.contains(&pc) {
                if !taken.contains(&pc) {
                    taken.push(pc);
                }
                frames_by_pc.entry(pc).or_default().push(frame);
            }
        }
    };

    for (number, raw) in lines {
        if raw.len() > MAX_LINE {
            return Err(legacy_err(path, number, "line longer than 64 KiB"));
        }
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('#') {
            if !raw_samples.is_empty() {
                if let Some((pc, frame)) = parse_frame_comment(line) {
                    pending.push((pc, frame));
                }
            }
            continue;
        }
        if MEMORY_MAP_SENTINELS.iter().any(|s| line.contains(s)) {
            break;
        }
        flush(&mut pending, &mut frames_by_pc);
        let sample = parse_heap_sample(line, period, sampling, has_alloc)
            .map_err(|detail| legacy_err(path, number, detail))?;
        raw_samples.push(sample);
    }
    flush(&mut pending, &mut frames_by_pc);

    // Build locations (one per distinct call address) and functions.
    let symbolized = !frames_by_pc.is_empty();
    let mut functions: Vec<Function> = Vec::new();
    let mut function_index: HashMap<(String, String), usize> = HashMap::new();
    let mut locations: Vec<Location> = Vec::new();
    let mut location_index: HashMap<u64, usize> = HashMap::new();
    let mut samples = Vec::with_capacity(raw_samples.len());
    for (values, block_size, addrs) in raw_samples {
        let mut stack = Vec::with_capacity(addrs.len());
        for addr in addrs {
            // Stack addresses are return addresses; step back onto the call.
            let addr = addr.wrapping_sub(1);
            if let Some(&i) = location_index.get(&addr) {
                stack.push(i);
                continue;
            }
            let frames = frames_by_pc.get(&addr);
            if symbolized && frames.is_none() {
                continue; // a frame the runtime did not print
            }
            let mut loc_lines = Vec::new();
            for frame in frames.into_iter().flatten() {
                let Some((name, file)) = &frame.function else {
                    continue;
                };
                let key = (name.clone(), file.clone());
                let function = *function_index.entry(key).or_insert_with(|| {
                    functions.push(Function {
                        id: functions.len() as u64 + 1,
                        name: name.clone(),
                        system_name: name.clone(),
                        filename: file.clone(),
                        start_line: 0,
                    });
                    functions.len() - 1
                });
                loc_lines.push(Line {
                    function,
                    line: frame.line,
                    column: 0,
                });
            }
            location_index.insert(addr, locations.len());
            stack.push(locations.len());
            locations.push(Location {
                id: locations.len() as u64 + 1,
                mapping: None,
                address: addr,
                lines: loc_lines,
                is_folded: false,
            });
        }
        samples.push(Sample {
            locations: stack,
            values,
            labels: Vec::new(),
            num_labels: vec![NumLabel {
                key: "bytes".to_string(),
                value: block_size,
                unit: None,
            }],
        });
    }

    Ok(Profile {
        path: path.to_path_buf(),
        format: None,
        sample_types,
        default_sample_type: None,
        samples,
        locations,
        functions,
        mappings: Vec::new(),
        period_type: Some(vt("space", "bytes")),
        period,
        time_nanos: 0,
        duration_nanos: 0,
        comments: Vec::new(),
        drop_frames: ALLOC_DROP_FRAMES.to_string(),
        keep_frames: ALLOC_KEEP_FRAMES.to_string(),
        doc_url: String::new(),
    })
}

/// Parses `#\t0x4e1b5c\tmain.appendLog+0x13c\t/src/main.go:155` (or just
/// `#\t0x4e1b5c` for a frame without symbol).
fn parse_frame_comment(line: &str) -> Option<(u64, Frame)> {
    let mut fields = line
        .strip_prefix('#')?
        .split('\t')
        .map(str::trim)
        .filter(|f| !f.is_empty());
    let pc = u64::from_str_radix(fields.next()?.strip_prefix("0x")?, 16).ok()?;
    let Some(func) = fields.next() else {
        return Some((
            pc,
            Frame {
                function: None,
                line: 0,
            },
        ));
    };
    let name = match func.rfind("+0x") {
        Some(i) => &func[..i],
        None => func,
    };
    let location = fields.next().unwrap_or("");
    let (file, line_no) = match location.rsplit_once(':') {
        Some((f, l)) => (f, l.parse().unwrap_or(0)),
        None => (location, 0),
    };
    Some((
        pc,
        Frame {
            function: Some((name.to_string(), file.to_string())),
            line: line_no,
        },
    ))
}

/// One sample line: `inuse_count: inuse_bytes [alloc_count: alloc_bytes] @ 0x.. 0x..`.
/// Returns (values, block size, addresses).
fn parse_heap_sample(
    line: &str,
    rate: i64,
    sampling: Sampling,
    include_alloc: bool,
) -> Result<(Vec<i64>, i64, Vec<u64>), String> {
    let p = patterns();
    let c = p
        .heap_sample
        .captures(line)
        .ok_or_else(|| format!("not a sample line: {:?}", truncate(line)))?;
    let field = |i: usize| c.get(i).map_or("", |m| m.as_str());
    let mut values = Vec::with_capacity(4);
    let mut block_size = 0i64;
    let mut add = |count: &str, size: &str, label: &str| -> Result<(), String> {
        let count: i64 = count
            .parse()
            .map_err(|_| format!("{label} count {count:?} out of range"))?;
        let size: i64 = size
            .parse()
            .map_err(|_| format!("{label} bytes {size:?} out of range"))?;
        if count == 0 && size != 0 {
            return Err(format!("{label} count was 0 but {label} bytes was {size}"));
        }
        let (mut count, mut size) = (count, size);
        if count != 0 {
            block_size = size / count;
            if sampling == Sampling::V2 {
                (count, size) = scale_heap_sample(count, size, rate);
            }
        }
        values.push(count);
        values.push(size);
        Ok(())
    };
    if include_alloc {
        add(field(3), field(4), "allocation")?;
    }
    add(field(1), field(2), "inuse")?;
    let mut addrs = Vec::new();
    for hex in p.hex_number.find_iter(field(5)) {
        let digits = &hex.as_str()[2..];
        let addr = u64::from_str_radix(digits, 16)
            .map_err(|_| format!("address {} does not fit 64 bits", hex.as_str()))?;
        addrs.push(addr);
    }
    Ok((values, block_size, addrs))
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// pprof's `scaleHeapSample`: the expected unsampled count and size of a
/// v2 (Poisson) heap sample with mean sampling period `rate`.
fn scale_heap_sample(count: i64, size: i64, rate: i64) -> (i64, i64) {
    if count == 0 || size == 0 {
        return (0, 0);
    }
    if rate <= 1 {
        return (count, size);
    }
    let avg_size = size as f64 / count as f64;
    let scale = 1.0 / (1.0 - go_exp(-avg_size / rate as f64));
    ((count as f64 * scale) as i64, (size as f64 * scale) as i64)
}

/// `math.Exp` exactly as Go computes it on amd64 (math/exp_amd64.s: the
/// Shibata/SLEEF method, with the FMA variant when the CPU has AVX and FMA,
/// as Go chooses at run time). pprof truncates `count * scale` to an
/// integer, so the last bit of `exp` can change a printed total.
pub(crate) fn go_exp(x: f64) -> f64 {
    go_exp_with(x, use_fma())
}

// The constants are written as in Go's source; they round to the same f64s.
#[allow(clippy::excessive_precision, clippy::approx_constant)]
fn go_exp_with(x: f64, fma: bool) -> f64 {
    const LOG2E: f64 = 1.442_695_040_888_963_4;
    const LN2U: f64 = 0.693_147_180_559_662_956_511_601_805_686_950_683_593_75;
    const LN2L: f64 = 0.282_352_905_630_315_771_225_884_481_750_134_360_255_254_120_68e-12;
    const OVERFLOW: f64 = 7.097_827_128_933_84e2;
    const C: [f64; 9] = [
        0.5,
        1.0,
        2.0,
        1.666_666_666_666_666_666_7e-1,
        4.166_666_666_666_666_666_7e-2,
        8.333_333_333_333_333_333_3e-3,
        1.388_888_888_888_888_888_9e-3,
        1.984_126_984_126_984_127_0e-4,
        2.480_158_730_158_730_158_7e-5,
    ];
    let bits = x.to_bits();
    let abs_bits = bits & !(1u64 << 63);
    if abs_bits >= 0x7FF0_0000_0000_0000 {
        // Not finite: -Inf gives 0, NaN and +Inf themselves.
        return if bits == 0xFFF0_0000_0000_0000 {
            0.0
        } else {
            x
        };
    }
    if x > OVERFLOW {
        return f64::INFINITY;
    }
    // CVTSD2SL rounds to nearest even (the default MXCSR mode); out of
    // range it yields i32::MIN, which `as` saturation also gives here.
    let exponent = (x * LOG2E).round_ties_even() as i32;
    let k = f64::from(exponent);
    let mut r;
    if fma {
        r = (-k).mul_add(LN2U, x);
        r = (-k).mul_add(LN2L, r);
        r *= 0.0625;
        let mut t = C[8];
        for c in [C[7], C[6], C[5], C[4], C[3], C[0], C[1]] {
            t = t.mul_add(r, c);
        }
        r *= t;
        for _ in 0..3 {
            let t = r + C[2];
            r *= t;
        }
        let t = r + C[2];
        r = t.mul_add(r, C[1]);
    } else {
        r = x - k * LN2U;
        r -= k * LN2L;
        r *= 0.0625;
        let mut t = C[8];
        for c in [C[7], C[6], C[5], C[4], C[3], C[0], C[1]] {
            t = t * r + c;
        }
        r *= t;
        for _ in 0..4 {
            let t = C[2] + r;
            r *= t;
        }
        r += C[1];
    }
    // r * 2**exponent, with Go's denormal and overflow handling.
    let mut biased = i64::from(exponent) + 0x3FF;
    if biased <= 0 {
        if biased < -52 {
            return 0.0;
        }
        biased += 0x3FE;
        r *= f64::from_bits((biased as u64) << 52);
        biased = 1;
    } else if biased >= 0x7FF {
        return f64::INFINITY;
    }
    r * f64::from_bits((biased as u64) << 52)
}

fn use_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static FMA: OnceLock<bool> = OnceLock::new();
        *FMA.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx") && std::arch::is_x86_feature_detected!("fma")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GO_HEAP: &str = "heap profile: 2: 2048 [3: 4096] @ heap/1048576
1: 1024 [2: 2048] @ 0x47c9b3 0x4e1b5d 0x44ce95 0x484ba1
#\t0x4e1b5c\tmain.appendLog+0x13c\t/src/main.go:155
#\t0x44ce94\truntime.main+0x2d4\t/go/src/runtime/proc.go:290

1: 1024 [1: 2048] @ 0x47c9b3 0x4e1716 0x4e1b5d 0x44ce95 0x484ba1
#\t0x4e1715\tmain.newBuf+0x93\t\t/src/main.go:73
#\t0x4e1715\tmain.collect+0x37\t\t/src/main.go:128
#\t0x4e1b5c\tmain.appendLog+0x13c\t/src/main.go:155
#\t0x44ce94\truntime.main+0x2d4\t/go/src/runtime/proc.go:290


# runtime.MemStats
# Alloc = 62460456
";

    #[test]
    fn parses_go_debug1_heap_profiles() {
        assert!(is_legacy_heap(GO_HEAP.as_bytes()));
        let p = parse_heap(GO_HEAP.as_bytes(), Path::new("heap.txt")).unwrap();
        assert_eq!(p.sample_types.len(), 4);
        assert_eq!(p.period, 524288);
        assert_eq!(p.samples.len(), 2);
        // Leaf runtime frame (not printed) and goexit are left out.
        let names = |s: &Sample| -> Vec<String> {
            s.locations
                .iter()
                .flat_map(|&l| {
                    p.locations[l]
                        .lines
                        .iter()
                        .map(|ln| p.functions[ln.function].name.clone())
                })
                .collect()
        };
        assert_eq!(names(&p.samples[0]), ["main.appendLog", "runtime.main"]);
        assert_eq!(
            names(&p.samples[1]),
            [
                "main.newBuf",
                "main.collect",
                "main.appendLog",
                "runtime.main"
            ]
        );
        assert_eq!(p.samples[0].num_labels[0].value, 1024);
        // v2 scaling: 1 object of 1024 bytes at rate 512 KiB.
        let scale = 1.0 / (1.0 - go_exp(-1024.0 / 524288.0));
        assert_eq!(p.samples[0].values[2], scale as i64);
        assert_eq!(p.samples[0].values[3], (1024.0 * scale) as i64);
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let bad = "heap profile: 1: 1 [1: 1] @ heap/2\n0: 5 [0: 0] @ 0x1\n";
        let e = parse_heap(bad.as_bytes(), Path::new("h.txt"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "h.txt:2: malformed legacy heap profile: inuse count was 0 but inuse bytes was 5"
        );
        let bad = "heap profile: 1: 1 [1: 1] @ heap/2\nwhat\n";
        let e = parse_heap(bad.as_bytes(), Path::new("h.txt"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("h.txt:2: malformed legacy heap profile: not a sample line"),
            "{e}"
        );
    }

    #[test]
    fn go_exp_matches_go_on_amd64_with_fma() {
        // (x, math.Exp(x)) as bit patterns, printed by Go 1.26 on an amd64
        // CPU with AVX+FMA (Go's exp_amd64.s FMA path).
        const GO: [(u64, u64); 17] = [
            (0x0000000000000000, 0x3ff0000000000000),
            (0x3ff0000000000000, 0x4005bf0a8b145769),
            (0xbf50624dd2f1a9fc, 0x3feff7cfe56f1a9e),
            (0xbfe0000000000000, 0x3fe368b2fc6f960a),
            (0xc008000000000000, 0x3fa97db0ccceb0af),
            (0xc034000000000000, 0x3e21b48655f37267),
            (0xc085e00000000000, 0x00d14f2b0fb9307f),
            (0x4004000000000000, 0x40285d6fd931e0bb),
            (0x4059000000000000, 0x48f3494a9b171bf5),
            (0xbf60000000000000, 0x3feff003ff556aa9),
            (0xbf28000000000000, 0x3feffe8008ffdc00),
            (0xbfe7700000000000, 0x3fdec47f75311e1c),
            (0xbf88000000000000, 0x3fefa08f706bbf54),
            (0xbe112e0be826d695, 0x3fefffffff768fa1),
            (0xc08749999999999a, 0x0000000000000000),
            (0xc086240000000000, 0x000e6cf6d08897ac),
            (0x40862d999999999a, 0x7ff0000000000000),
        ];
        for (x, want) in GO {
            let x = f64::from_bits(x);
            assert_eq!(go_exp_with(x, true).to_bits(), want, "exp({x})");
        }
        assert_eq!(go_exp(f64::NEG_INFINITY), 0.0);
        assert!(go_exp(f64::NAN).is_nan());
        assert_eq!(go_exp(f64::INFINITY), f64::INFINITY);
        // The plain SSE2 path stays within an ulp or two of the FMA one.
        for (x, want) in GO {
            let (x, want) = (f64::from_bits(x), f64::from_bits(want));
            let got = go_exp_with(x, false);
            assert!(
                got == want || ((got - want) / want).abs() < 1e-15,
                "exp({x})"
            );
        }
    }
}
