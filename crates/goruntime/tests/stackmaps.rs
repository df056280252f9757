//! Precise stack roots from the compiler's stack maps, against the sample
//! program's truth: the goroutine that alone holds `main.stackOnlyWorker.m`
//! has the map header among the live pointer slots its stack maps name,
//! and decoding survives hostile frame geometry.

use mapscope_goruntime::goroutines::FrameRoots;
use mapscope_goruntime::pclntab::FrameGeometry;
use mapscope_goruntime::GoProcess;
use mapscope_testsupport::sample;
use serde_json::Value;

fn parse_addr(v: &Value) -> u64 {
    v.as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0)
}

/// Live pointer values of a goroutine from precise frames only.
fn precise_values(process: &GoProcess, goid: u64) -> (Vec<u64>, usize, usize) {
    let gs = process.goroutines().expect("goroutines");
    let g = gs.by_id(goid).expect("truth goroutine present");
    let mem = process.memory();
    let (mut precise, mut conservative) = (0, 0);
    let mut values = Vec::new();
    for f in &g.frames {
        match &f.roots {
            FrameRoots::Precise(p) => {
                precise += 1;
                values.extend(p.words.iter().filter_map(|&a| mem.read_u64(a).ok()));
                for o in &p.objects {
                    for &a in o.pointer_words.iter().flatten() {
                        values.extend(mem.read_u64(a).ok());
                    }
                }
            }
            FrameRoots::Conservative { .. } => conservative += 1,
        }
    }
    (values, precise, conservative)
}

fn stack_only_map_is_a_live_slot(name: &str) {
    let s = sample(name);
    let truth = s.truth();
    let process = GoProcess::open(&s.core, Some(&s.exe)).expect("open");
    let m = truth["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "stackOnly")
        .expect("stackOnly in truth");
    let goid = m["goroutine"].as_u64().expect("goroutine id");
    let header = parse_addr(&m["address"]);
    let (values, precise, conservative) = precise_values(&process, goid);
    assert!(precise > 0, "{name}: no precise frame");
    assert_eq!(
        conservative, 0,
        "{name}: a parked goroutine needs no fallback"
    );
    assert!(
        values.contains(&header),
        "{name}: map header {header:#x} not among the live pointer slots of goroutine {goid}"
    );
}

#[test]
fn go1_22_stack_maps_hold_the_stack_only_map() {
    stack_only_map_is_a_live_slot("go1.22");
}

#[test]
fn go1_26_stack_maps_hold_the_stack_only_map() {
    stack_only_map_is_a_live_slot("go1.26");
}

/// Every parked goroutine (started from `g.sched`, stopped at a call) is
/// scanned precisely, frame by frame.
#[test]
fn parked_goroutines_are_precise() {
    for name in ["go1.22", "go1.26"] {
        let s = sample(name);
        let process = GoProcess::open(&s.core, Some(&s.exe)).expect("open");
        let gs = process.goroutines().expect("goroutines");
        let mut precise = 0;
        for g in gs.goroutines.iter().filter(|g| g.thread.is_none()) {
            for f in &g.frames {
                match &f.roots {
                    FrameRoots::Precise(_) => precise += 1,
                    FrameRoots::Conservative { reason, .. } => {
                        panic!("{name} goroutine {} {}: {reason}", g.id, f.function)
                    }
                }
            }
        }
        assert!(precise > 10, "{name}: {precise} precise frames");
    }
}

/// Any function, any pc, any frame addresses: an answer or an error, never
/// a panic, and never more slots than the frame could hold.
#[test]
fn hostile_geometry_never_panics() {
    let s = sample("go1.26");
    let process = GoProcess::open(&s.core, Some(&s.exe)).expect("open");
    let tab = process.pclntab().expect("pclntab");
    let edges = [0u64, 1, 8, 0x1000, u64::MAX - 7, u64::MAX];
    for f in tab.funcs() {
        for &pc in &[f.entry, f.entry + 1, f.end.saturating_sub(1), f.end + 64, 0] {
            for &sp in &edges {
                for &varp in &edges {
                    let g = FrameGeometry {
                        continpc: pc,
                        sp,
                        varp,
                        argp: varp,
                        min_locals: 0,
                    };
                    if let Ok(p) = tab.frame_pointers(&f, &g) {
                        assert!(p.words.len() <= (1 << 23) * 2);
                    }
                }
            }
        }
    }
}
