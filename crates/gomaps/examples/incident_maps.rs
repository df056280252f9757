//! Decodes every map global recorded in an incident's truth.json and prints
//! its storage (sizes estimated from size classes, no heap walk) next to the
//! program's measured retained bytes:
//! `cargo run -p mapscope-gomaps --example incident_maps -- /tmp/incidents/go1.26`
use mapscope_elfcore::{Core, Executable, ProcessMemory};
use mapscope_gomaps::{MapDecoder, NoHeapIndex};
use mapscope_goruntime::dwarf::DwarfInfo;
fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap());
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap();
    let mem = ProcessMemory::new(
        Core::open(dir.join("core")).unwrap(),
        Some(Executable::open(dir.join("mapzoo")).unwrap()),
    )
    .unwrap();
    let dwarf = DwarfInfo::load(mem.executable().unwrap().data()).unwrap();
    let dec = MapDecoder::new(&mem, &dwarf);
    println!("size classes from {}", dec.size_classes().source);
    for m in truth["maps"].as_array().unwrap() {
        let name = m["root"].as_str().unwrap();
        let g = dwarf.globals().by_name(name);
        let Some(g) = g else { continue };
        let addr = u64::from_str_radix(m["address"].as_str().unwrap().trim_start_matches("0x"), 16)
            .unwrap();
        let Ok(inst) = dec.decode(g.ty, addr, &NoHeapIndex) else {
            continue;
        };
        println!(
            "{:20} {:34} storage {:8} retained {:8} objs {:5} lf {:.3} cap {} ovf {} tomb {}",
            m["name"].as_str().unwrap(),
            inst.type_name,
            inst.storage_bytes,
            m["retained_bytes"],
            inst.objects.len(),
            inst.load_factor,
            inst.capacity,
            inst.overflow_slots,
            inst.tombstones
        );
        for w in &inst.warnings {
            println!("   warn {w}");
        }
    }
}
