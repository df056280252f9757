//! The DWARF loader against independent truth, per Go version: gdb's
//! `ptype /o` layouts and `print` of constants, `go tool nm` addresses and
//! sizes, llvm-dwarfdump's location lists, and what the probe program said
//! about itself (unsafe.Offsetof/Sizeof, &global, interface type words).
//!
//! Committed fixtures (tests/fixtures/dwarf): `mapzoo-go1.22` and
//! `mapzoo-go1.26` describe the shipped samples' executables
//! (samples/go1.XX/mapzoo.zst, checked by build ID, with the program's own
//! truth.json); `probe-go1.XX` (made by regen.sh, not committed) carry a small probe
//! program built with the same toolchains. More versions: run regen.sh per
//! toolchain into a directory and point `MAPSCOPE_DWARF_FIXTURES` at it.

mod dwarf_support;

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use dwarf_support::*;
use mapscope_goruntime::dwarf::{
    DwarfInfo, Location, MapFlavour, Piece, TypeId, TypeKind, TypeTable, VariableRole,
};

fn load(f: &Fixture) -> DwarfInfo {
    DwarfInfo::load(&f.exe).unwrap_or_else(|e| panic!("{}: {e}", f.label))
}

fn finish(problems: Vec<String>) {
    if !problems.is_empty() {
        let shown: Vec<_> = problems.iter().take(60).collect();
        panic!(
            "{} mismatches:\n{}",
            problems.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn struct_layouts_match_gdb() {
    let mut problems = Vec::new();
    for f in fixtures() {
        let info = load(&f);
        let types = info.types();
        let structs = parse_gdb(&f.text("gdb-ptype.txt"));
        assert!(
            structs.len() >= 30,
            "{}: only {} gdb structs",
            f.label,
            structs.len()
        );
        let mut checked = 0usize;
        for s in &structs {
            let Some(layout) = types.struct_layout(&s.name) else {
                problems.push(format!("{}: {}: not found in DWARF", f.label, s.name));
                continue;
            };
            if layout.size != Some(s.size) {
                problems.push(format!(
                    "{}: {}: size {:?}, gdb {}",
                    f.label, s.name, layout.size, s.size
                ));
            }
            let direct: Vec<_> = s.members.iter().filter(|m| m.depth == 1).collect();
            if direct.len() != layout.fields.len() {
                problems.push(format!(
                    "{}: {}: {} fields, gdb {}",
                    f.label,
                    s.name,
                    layout.fields.len(),
                    direct.len()
                ));
            }
            for (field, member) in layout.fields.iter().zip(&direct) {
                checked += 1;
                if field.name != member.path || field.offset != member.offset {
                    problems.push(format!(
                        "{}: {}: field {}@{}, gdb {}@{}",
                        f.label, s.name, field.name, field.offset, member.path, member.offset
                    ));
                }
                // gdb sizes func-typed members as 1 byte; Go stores a
                // pointer (the next member's offset, checked above, agrees).
                let is_func = types.get(types.resolve(field.ty)).kind == TypeKind::Func;
                if !(is_func && member.size == 1) {
                    let size = types.size_of(field.ty);
                    if size != Some(member.size) {
                        problems.push(format!(
                            "{}: {}.{}: size {:?}, gdb {} ({})",
                            f.label, s.name, field.name, size, member.size, member.decl
                        ));
                    }
                }
            }
            // Members of nested anonymous structs gdb expanded (slices,
            // strings): dotted paths from the outer struct.
            for member in s.members.iter().filter(|m| m.depth > 1) {
                checked += 1;
                let got = types.field_path(layout.id, &member.path).map(|r| r.offset);
                if got != Some(member.offset) {
                    problems.push(format!(
                        "{}: {}.{}: offset {:?}, gdb {}",
                        f.label, s.name, member.path, got, member.offset
                    ));
                }
            }
        }
        eprintln!(
            "{}: {} structs, {} members agree with gdb",
            f.label,
            structs.len(),
            checked
        );
    }
    finish(problems);
}

#[test]
fn nested_paths_match_gdb() {
    let mut problems = Vec::new();
    for f in fixtures() {
        let info = load(&f);
        let structs = parse_gdb(&f.text("gdb-ptype.txt"));
        let gdb = |name: &str, member: &str| -> u64 {
            structs
                .iter()
                .find(|s| s.name == name)
                .and_then(|s| s.members.iter().find(|m| m.path == member))
                .map(|m| m.offset)
                .unwrap_or_else(|| panic!("{}: gdb has no {name}.{member}", f.label))
        };
        let cases = [
            (
                "runtime.g",
                "sched.sp",
                gdb("runtime.g", "sched") + gdb("runtime.gobuf", "sp"),
            ),
            (
                "runtime.g",
                "sched.pc",
                gdb("runtime.g", "sched") + gdb("runtime.gobuf", "pc"),
            ),
            (
                "runtime.g",
                "stack.hi",
                gdb("runtime.g", "stack") + gdb("runtime.stack", "hi"),
            ),
            (
                "runtime.specialprofile",
                "special.offset",
                gdb("runtime.specialprofile", "special") + gdb("runtime.special", "offset"),
            ),
        ];
        let mut cases = cases.to_vec();
        if f.is_probe() {
            cases.push((
                "main.Outer",
                "In.C",
                gdb("main.Outer", "In") + gdb("main.Inner", "C"),
            ));
        }
        for (ty, path, want) in cases {
            let got = info.types().field_offset(ty, path);
            if got != Some(want) {
                problems.push(format!("{}: {ty} {path}: {got:?}, gdb {want}", f.label));
            }
        }
    }
    finish(problems);
}

/// Needs the probe fixtures, which are not committed (scripts/gen-corpus.sh
/// makes them with regen.sh into the corpus's `dwarf-probe/`):
/// `MAPSCOPE_CORPUS=DIR cargo test -p mapscope-goruntime --test dwarf
/// probe_facts_match -- --ignored`.
#[test]
#[ignore = "needs the incident corpus: MAPSCOPE_CORPUS=DIR (scripts/gen-corpus.sh)"]
fn probe_facts_match() {
    mapscope_testsupport::corpus::kind_dir("dwarf-probe");
    let probes: Vec<String> = fixtures()
        .into_iter()
        .filter(|f| f.is_probe())
        .map(|f| f.label)
        .collect();
    mapscope_testsupport::corpus::assert_checked("dwarf-probe", &probes, &[]);
    let mut problems = Vec::new();
    for f in fixtures().into_iter().filter(|f| f.is_probe()) {
        let info = load(&f);
        let types = info.types();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for fact in probe_facts(&f.text("probe.out")) {
            let kind = fact[0].as_str();
            *counts
                .entry(match kind {
                    "sizeof" => "sizeof",
                    "offsetof" => "offsetof",
                    "global" => "global",
                    _ => "typeaddr",
                })
                .or_default() += 1;
            match kind {
                "sizeof" => {
                    let want: u64 = fact[2].parse().unwrap();
                    let got = types.by_name(&fact[1]).and_then(|id| types.size_of(id));
                    if got != Some(want) {
                        problems.push(format!(
                            "{}: sizeof {}: {got:?}, Go {want}",
                            f.label, fact[1]
                        ));
                    }
                }
                "offsetof" => {
                    let want: u64 = fact[3].parse().unwrap();
                    let got = types.field_offset(&fact[1], &fact[2]);
                    if got != Some(want) {
                        problems.push(format!(
                            "{}: offsetof {}.{}: {got:?}, Go {want}",
                            f.label, fact[1], fact[2]
                        ));
                    }
                }
                "global" => {
                    let want = parse_hex(&fact[2]);
                    let got = info.globals().by_name(&fact[1]).map(|g| g.address);
                    if got != Some(want) {
                        problems.push(format!("{}: &{}: {got:x?}, Go {want:#x}", f.label, fact[1]));
                    }
                    // Range search finds it too.
                    let containing = info.globals().containing(want).map(|g| g.name.as_str());
                    if containing != Some(fact[1].as_str()) {
                        problems.push(format!(
                            "{}: containing({want:#x}) = {containing:?}, want {}",
                            f.label, fact[1]
                        ));
                    }
                }
                "typeaddr" => {
                    let want_name = fact[1..fact.len() - 1].join(" ");
                    let address = parse_hex(fact.last().unwrap());
                    let got = info
                        .type_by_runtime_address(address)
                        .map(|id| types.get(id).name.clone());
                    if got.as_deref() != Some(want_name.as_str()) {
                        problems.push(format!(
                            "{}: type at {address:#x}: {got:?}, Go says {want_name}",
                            f.label
                        ));
                    }
                }
                other => panic!("unknown probe fact {other}"),
            }
        }
        assert!(
            counts.values().all(|&n| n >= 5) && counts.len() == 4,
            "{}: {counts:?}",
            f.label
        );
    }
    finish(problems);
}

#[test]
fn globals_and_functions_match_nm() {
    let mut problems = Vec::new();
    for f in fixtures() {
        let info = load(&f);
        let nm = parse_nm(&f.text("nm.txt"));
        let (mut globals_checked, mut functions_checked) = (0usize, 0usize);
        let mut nm_data: HashSet<&str> = HashSet::new();
        for sym in &nm {
            match sym.kind {
                'D' | 'B' | 'd' | 'b' => {
                    nm_data.insert(sym.name.as_str());
                    if let Some(g) = info.globals().by_name(&sym.name) {
                        globals_checked += 1;
                        if g.address != sym.address {
                            problems.push(format!(
                                "{}: {}: {:#x}, nm {:#x}",
                                f.label, sym.name, g.address, sym.address
                            ));
                        }
                        // nm sizes include alignment padding only for the
                        // last symbol of a section; a type can't be larger.
                        if g.size > sym.size && sym.size != 0 {
                            problems.push(format!(
                                "{}: {}: DWARF size {} > nm size {}",
                                f.label, sym.name, g.size, sym.size
                            ));
                        }
                    }
                }
                'T' | 't' if sym.size > 0 => {
                    // Assembly functions are in DWARF too, named without
                    // the `.abi0` suffix nm shows; their Go-ABI wrapper
                    // has the same DWARF name, so compare by address.
                    // (Size-0 symbols are markers such as runtime.text.)
                    let dwarf_name = sym.name.strip_suffix(".abi0").unwrap_or(&sym.name);
                    let Some(func) = info.functions().at_pc(sym.address) else {
                        continue;
                    };
                    functions_checked += 1;
                    if func.name != dwarf_name
                        || func.low_pc != sym.address
                        || func.high_pc - func.low_pc != sym.size
                    {
                        problems.push(format!(
                            "{}: {} [{:#x},{:#x}), nm {} {:#x}+{}",
                            f.label,
                            func.name,
                            func.low_pc,
                            func.high_pc,
                            sym.name,
                            sym.address,
                            sym.size
                        ));
                    }
                    let last = sym.address + sym.size.saturating_sub(1);
                    let at = info.functions().at_pc(last).map(|f| f.low_pc);
                    if at != Some(sym.address) {
                        problems.push(format!(
                            "{}: at_pc({last:#x}) = {at:x?}, nm {}",
                            f.label, sym.name
                        ));
                    }
                    if info.functions().by_name(dwarf_name).is_none() {
                        problems.push(format!("{}: by_name({dwarf_name}) = None", f.label));
                    }
                }
                _ => {}
            }
        }
        // Every DWARF global of the runtime and main packages is a data
        // symbol nm knows.
        for g in info.globals().all() {
            if (g.name.starts_with("runtime.") || g.name.starts_with("main."))
                && !nm_data.contains(g.name.as_str())
            {
                problems.push(format!("{}: DWARF global {} not in nm", f.label, g.name));
            }
        }
        assert!(
            globals_checked > 200,
            "{}: {globals_checked} globals",
            f.label
        );
        assert!(
            functions_checked > 500,
            "{}: {functions_checked} functions",
            f.label
        );
        eprintln!(
            "{}: {globals_checked} globals and {functions_checked} functions agree with nm",
            f.label
        );
    }
    finish(problems);
}

/// llvm-dwarfdump's operation text → the location we expect.
fn expected_location(ops: &str) -> Location {
    fn simple(op: &str) -> Location {
        let words: Vec<&str> = op.split_whitespace().collect();
        match words.as_slice() {
            [] => Location::Unavailable,
            ["DW_OP_call_frame_cfa"] => Location::FrameOffset(0),
            ["DW_OP_fbreg", n] => Location::FrameOffset(n.trim_start_matches('+').parse().unwrap()),
            [reg, _name] if reg.starts_with("DW_OP_reg") => {
                Location::Register(reg.trim_start_matches("DW_OP_reg").parse().unwrap())
            }
            _ => Location::Unsupported,
        }
    }
    if !ops.contains("DW_OP_piece") {
        return simple(ops);
    }
    let mut pieces = Vec::new();
    let mut current = String::new();
    for op in ops.split(", ") {
        if let Some(size) = op.strip_prefix("DW_OP_piece ") {
            pieces.push(Piece {
                size: parse_hex(size),
                location: simple(&current),
            });
            current.clear();
        } else {
            current = op.to_string();
        }
    }
    Location::Pieces(pieces)
}

/// llvm-dwarfdump writes pointer types C-style (`main.Point *`).
fn dump_type_name(name: &str) -> String {
    let mut name = name.to_string();
    let mut stars = 0;
    while let Some(rest) = name.strip_suffix(" *") {
        name = rest.to_string();
        stars += 1;
    }
    format!("{}{name}", "*".repeat(stars))
}

#[test]
fn locals_match_dwarfdump() {
    let mut problems = Vec::new();
    for f in fixtures() {
        let info = load(&f);
        let (function, dump) = parse_dwarfdump_variables(&f.text("locals.dwarfdump"));
        let func = info
            .functions()
            .by_name(&function)
            .unwrap_or_else(|| panic!("{}: no {function}", f.label));
        assert!(func.frame_base_is_cfa);
        assert_eq!(func.variables.len(), dump.len(), "{}: {function}", f.label);
        for d in &dump {
            let Some(v) = func
                .variables
                .iter()
                .find(|v| v.name == d.name && v.inlined == d.inlined)
            else {
                problems.push(format!(
                    "{}: {function} has no {} (inlined {})",
                    f.label, d.name, d.inlined
                ));
                continue;
            };
            let role_ok = match v.role {
                VariableRole::Local => d.tag == "DW_TAG_variable",
                VariableRole::Parameter | VariableRole::Result => {
                    d.tag == "DW_TAG_formal_parameter"
                }
            };
            if !role_ok {
                problems.push(format!(
                    "{}: {}: role {:?} vs {}",
                    f.label, d.name, v.role, d.tag
                ));
            }
            let type_name = &info.types().get(v.ty).name;
            if d.type_name.is_empty() {
                // Inlined copy: the type comes from the abstract origin.
                if v.ty == TypeId::UNKNOWN {
                    problems.push(format!(
                        "{}: {}: no type via abstract origin",
                        f.label, d.name
                    ));
                }
            } else if *type_name != dump_type_name(&d.type_name) {
                problems.push(format!(
                    "{}: {}: type {type_name}, dump {}",
                    f.label, d.name, d.type_name
                ));
            }
            let got: Vec<(u64, u64, Location)> = v
                .locations
                .iter()
                .map(|l| (l.start, l.end, l.location.clone()))
                .collect();
            let want: Vec<(u64, u64, Location)> = d
                .ranges
                .iter()
                .map(|(s, e, ops)| (*s, *e, expected_location(ops)))
                .collect();
            if got != want {
                problems.push(format!(
                    "{}: {}: {got:?}\n   dump {want:?}",
                    f.label, d.name
                ));
            }
            // A map held in the frame: typed as a map, in a stack slot at
            // the end of the function.
            if d.type_name.starts_with("map[") {
                assert!(
                    info.types().map_type(v.ty).is_some(),
                    "{}: {}",
                    f.label,
                    d.name
                );
                assert!(
                    matches!(v.location_at(func.high_pc - 1), Some(Location::FrameOffset(o)) if *o < 0),
                    "{}: {}",
                    f.label,
                    d.name
                );
            }
        }
    }
    finish(problems);
}

#[test]
fn constants_match_gdb() {
    let mut problems = Vec::new();
    for f in fixtures() {
        let info = load(&f);
        let text = f.text("gdb-constants.txt");
        let mut n = 0;
        for line in text.lines() {
            let (name, value) = line.rsplit_once(' ').unwrap();
            let want: i64 = value.parse().unwrap();
            n += 1;
            if info.constant(name) != Some(want) {
                problems.push(format!(
                    "{}: {name}: {:?}, gdb {want}",
                    f.label,
                    info.constant(name)
                ));
            }
        }
        assert!(n >= 7, "{}: {n} constants", f.label);
    }
    finish(problems);
}

fn name_of(types: &TypeTable, id: TypeId) -> &str {
    &types.get(id).name
}

#[test]
fn map_types_and_flavour() {
    for f in fixtures() {
        let info = load(&f);
        let types = info.types();
        let gdb = f.text("gdb-ptype.txt");
        // gdb is the independent witness of which header type names exist.
        let classic = gdb.contains("\n### hash<");
        let swiss = gdb.contains("\n### map<");
        assert!(
            classic != swiss,
            "{}: gdb shows classic {classic} swiss {swiss}",
            f.label
        );
        let want = if classic {
            MapFlavour::Classic
        } else {
            MapFlavour::Swiss
        };
        assert_eq!(info.map_implementation(), Some(want), "{}", f.label);
        // Every map type's header and storage were found.
        for (id, map) in types.map_types() {
            assert_eq!(
                map.flavour,
                Some(want),
                "{}: {}",
                f.label,
                name_of(types, id)
            );
            assert_ne!(
                map.storage,
                TypeId::UNKNOWN,
                "{}: {}",
                f.label,
                name_of(types, id)
            );
        }
        if !f.is_probe() {
            continue;
        }

        let global = info.globals().by_name("main.GlobalStrMap").unwrap();
        assert_eq!(name_of(types, global.ty), "map[string]int");
        let map = *types.map_type(global.ty).unwrap();
        assert_eq!(name_of(types, map.key), "string");
        assert_eq!(name_of(types, map.value), "int");
        assert_eq!(map.flavour, Some(want));
        assert_eq!(types.size_of(global.ty), Some(8));
        match want {
            MapFlavour::Classic => {
                assert_eq!(name_of(types, map.header), "hash<string,int>");
                assert_eq!(name_of(types, map.storage), "bucket<string,int>");
                assert_eq!(map.table, TypeId::UNKNOWN);
            }
            MapFlavour::Swiss => {
                assert_eq!(name_of(types, map.header), "map<string,int>");
                assert_eq!(name_of(types, map.table), "table<string,int>");
                assert_eq!(name_of(types, map.storage), "noalg.map.group[string]int");
                let group = types.layout_of(map.storage).unwrap();
                let split = group.field("keys").is_some();
                assert_eq!(split, f.label.contains("mapsplitgroup"), "{}", f.label);
            }
        }
        // A named map type is a map too.
        let registry = info.globals().by_name("main.GlobalRegistry").unwrap();
        assert_eq!(name_of(types, registry.ty), "main.Registry");
        let registry = types.map_type(registry.ty).unwrap();
        assert_eq!(name_of(types, registry.value), "*main.Point");
        // Values over 128 bytes are stored indirectly: DWARF says so.
        let big = info.globals().by_name("main.GlobalKeyMap").unwrap();
        let big = types.map_type(big.ty).unwrap();
        assert_eq!(name_of(types, big.value), "main.BigValue");
        if want == MapFlavour::Classic {
            let bucket = types.layout_of(big.storage).unwrap();
            let values = bucket.field("values").unwrap();
            assert_eq!(types.size_of(values.ty), Some(8 * 8), "{}", f.label);
        }
        // The map of maps: value is itself a map.
        let nested = info.globals().by_name("main.GlobalNested").unwrap();
        let nested = types.map_type(nested.ty).unwrap();
        assert!(types.map_type(nested.value).is_some());
    }
}

#[test]
fn go_kinds() {
    for f in fixtures() {
        let info = load(&f);
        let t = info.types();
        let kind = |name: &str| {
            t.get(
                t.by_name(name)
                    .unwrap_or_else(|| panic!("{}: {name}", f.label)),
            )
            .kind
        };
        assert_eq!(kind("string"), TypeKind::String);
        assert_eq!(kind("bool"), TypeKind::Bool);
        assert_eq!(kind("int32"), TypeKind::Int);
        assert_eq!(kind("uint16"), TypeKind::Uint);
        assert_eq!(kind("float32"), TypeKind::Float);
        assert_eq!(kind("complex128"), TypeKind::Complex);
        assert!(matches!(
            kind("unsafe.Pointer"),
            TypeKind::Pointer { target: None }
        ));
        if f.is_probe() {
            match kind("*main.Point") {
                TypeKind::Pointer { target: Some(p) } => {
                    assert_eq!(name_of(t, t.resolve(p)), "main.Point")
                }
                other => panic!("{other:?}"),
            }
            match kind("[]main.Point") {
                TypeKind::Slice { elem } => assert_eq!(name_of(t, t.resolve(elem)), "main.Point"),
                other => panic!("{other:?}"),
            }
            match kind("[3]uint16") {
                TypeKind::Array { elem, count } => {
                    assert_eq!(count, 3);
                    assert_eq!(name_of(t, elem), "uint16");
                }
                other => panic!("{other:?}"),
            }
            match kind("interface {}") {
                TypeKind::Interface { repr, empty } => {
                    assert!(empty);
                    assert_eq!(name_of(t, repr), "runtime.eface");
                }
                other => panic!("{other:?}"),
            }
            assert!(matches!(
                kind("error"),
                TypeKind::Interface { empty: false, .. }
            ));
            if f.is_probe() {
                assert!(matches!(
                    kind("main.Shape"),
                    TypeKind::Interface { empty: false, .. }
                ));
            }
            match kind("chan int") {
                TypeKind::Chan { elem, .. } => assert_eq!(name_of(t, elem), "int"),
                other => panic!("{other:?}"),
            }
            assert_eq!(kind("func(int) error"), TypeKind::Func);
            assert_eq!(kind("main.Outer"), TypeKind::Struct);
            assert!(matches!(kind("main.Points"), TypeKind::Slice { .. }));
            let embeds = t.struct_layout("main.Embeds").unwrap();
            assert!(embeds.field("Inner").unwrap().embedded);
            assert!(!embeds.field("Tag").unwrap().embedded);
        }
        // No dangling references in a healthy binary.
        assert!(
            info.warnings().is_empty(),
            "{}: {:?}",
            f.label,
            info.warnings()
        );
        assert_eq!(info.pointer_size(), 8);
    }
}

#[test]
fn version_from_producer() {
    for f in fixtures() {
        let info = load(&f);
        let version = f.text("version");
        let want = version.split_whitespace().nth(2).unwrap();
        assert_eq!(info.go_version(), Some(want), "{}", f.label);
    }
}

/// Prints load time and counts (for humans); asserts every fixture yields
/// types, globals and functions without load warnings about skipped units.
#[test]
fn load_summary() {
    for f in fixtures() {
        let start = Instant::now();
        let info = load(&f);
        let elapsed = start.elapsed();
        eprintln!(
            "{}: {} bytes exe, {} types, {} globals, {} functions, loaded in {:?}",
            f.label,
            f.exe.len(),
            info.types().len(),
            info.globals().len(),
            info.functions().len(),
            elapsed
        );
        eprintln!("{}: warnings {:?}", f.label, info.warnings());
        assert!(
            info.types().len() > 100 && info.globals().len() > 100 && info.functions().len() > 100,
            "{}",
            f.label
        );
        assert_eq!(info.warnings().skipped_units, 0, "{}", f.label);
    }
}

/// Timing and a summary for any executable:
/// `MAPSCOPE_DWARF_EXE=/path/to/exe cargo test --release -p mapscope-goruntime
/// --test dwarf external_executable -- --ignored --nocapture`
#[test]
#[ignore]
fn external_executable() {
    let path = std::env::var("MAPSCOPE_DWARF_EXE").expect("set MAPSCOPE_DWARF_EXE");
    let exe = std::fs::read(&path).unwrap();
    let start = Instant::now();
    let info = DwarfInfo::load(&exe).unwrap();
    let elapsed = start.elapsed();
    let variables: usize = info
        .functions()
        .all()
        .iter()
        .map(|f| f.variables.len())
        .sum();
    let unsupported: usize = info
        .functions()
        .all()
        .iter()
        .flat_map(|f| &f.variables)
        .flat_map(|v| &v.locations)
        .filter(|l| l.location == Location::Unsupported)
        .count();
    eprintln!(
        "{path}: {} bytes, {:?}: {} types ({} maps), {} globals, {} functions, {variables} variables ({unsupported} unsupported location entries), {} runtime types, version {:?}, maps {:?}, warnings {:?}",
        exe.len(),
        elapsed,
        info.types().len(),
        info.types().map_types().count(),
        info.globals().len(),
        info.functions().len(),
        info.runtime_types().len(),
        info.go_version(),
        info.map_implementation(),
        info.warnings()
    );
}

/// The type a root path names: a global (`main.sessionsByID`), a field
/// path from a global through pointers (`main.registry.endpoints`), or a
/// goroutine's local (`goroutine 9 main.stackOnlyWorker.m`).
fn root_type(info: &DwarfInfo, root: &str) -> Option<TypeId> {
    let types = info.types();
    if let Some(rest) = root.strip_prefix("goroutine ") {
        let (_, path) = rest.split_once(' ')?;
        let (function, local) = path.rsplit_once('.')?;
        let func = info.functions().by_name(function)?;
        return func
            .variables
            .iter()
            .find(|v| v.name == local && !v.inlined)
            .map(|v| v.ty);
    }
    let mut parts = root.split('.');
    let global = format!("{}.{}", parts.next()?, parts.next()?);
    let mut ty = info.globals().by_name(&global)?.ty;
    for field in parts {
        let mut resolved = types.resolve(ty);
        if let TypeKind::Pointer { target: Some(t) } = types.get(resolved).kind {
            resolved = types.resolve(t);
        }
        ty = selector(types, resolved, field, 0)?;
    }
    Some(ty)
}

/// Go's selector rule: `field` of struct `ty`, else a field promoted from an
/// embedded struct (`DW_AT_go_embedded_field`), shallowest first; truth.json
/// names promoted fields the Go way (`main.loader.counts`).
fn selector(types: &TypeTable, ty: TypeId, field: &str, depth: usize) -> Option<TypeId> {
    let t = types.get(ty);
    if let Some(f) = t.field(field) {
        return Some(f.ty);
    }
    if depth >= 8 {
        return None;
    }
    t.fields
        .iter()
        .filter(|f| f.embedded)
        .find_map(|f| selector(types, types.resolve(f.ty), field, depth + 1))
}

/// The key and value slot types of a map's bucket/group (a pointer when
/// stored indirectly).
fn slot_types(types: &TypeTable, map: &mapscope_goruntime::dwarf::MapType) -> (TypeId, TypeId) {
    let storage = types.layout_of(map.storage).expect("storage struct");
    let elem_of = |name: &str| match types
        .get(types.resolve(storage.field(name).unwrap().ty))
        .kind
    {
        TypeKind::Array { elem, count } => {
            assert_eq!(count, 8);
            elem
        }
        other => panic!("{name}: {other:?}"),
    };
    match map.flavour {
        Some(MapFlavour::Classic) => (elem_of("keys"), elem_of("values")),
        _ if storage.field("keys").is_some() => (elem_of("keys"), elem_of("elems")),
        _ => {
            let slot = types.layout_of(elem_of("slots")).expect("slot struct");
            (
                slot.field("key").unwrap().ty,
                slot.field("elem").unwrap().ty,
            )
        }
    }
}

/// What the sample program recorded about itself (truth.json: `%T` of each
/// map, the map implementation, bucket/group sizes and indirect slots read
/// from the runtime's own `abi.MapType`) against DWARF.
#[test]
fn program_truth_matches() {
    let mut problems = Vec::new();
    let mut programs = 0;
    for f in fixtures() {
        let Some(truth) = f.program_truth() else {
            continue;
        };
        programs += 1;
        let info = load(&f);
        let types = info.types();
        let want = match truth["map_implementation"].as_str().unwrap() {
            "classic" => MapFlavour::Classic,
            "swiss" => MapFlavour::Swiss,
            other => panic!("{other}"),
        };
        assert_eq!(info.map_implementation(), Some(want), "{}", f.label);
        // runtime.Version() may carry experiments: "go1.24.11 X:noswissmap".
        let version = truth["go_version"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .next();
        assert_eq!(info.go_version(), version, "{}", f.label);
        let mut checked = 0;
        for m in truth["maps"].as_array().unwrap() {
            let root = m["root"].as_str().unwrap();
            let go_type = m["type"].as_str().unwrap();
            let Some(ty) = root_type(&info, root) else {
                problems.push(format!("{}: root {root} not found", f.label));
                continue;
            };
            checked += 1;
            if name_of(types, ty) != go_type {
                problems.push(format!(
                    "{}: {root}: DWARF {}, Go {go_type}",
                    f.label,
                    name_of(types, ty)
                ));
            }
            let Some(map) = types.map_type(ty) else {
                continue;
            };
            let storage = &m["storage"];
            let size = storage["bucket_size"]
                .as_u64()
                .or(storage["group_size"].as_u64());
            if types.size_of(map.storage) != size {
                problems.push(format!(
                    "{}: {root}: {} is {:?} bytes, runtime says {size:?}",
                    f.label,
                    name_of(types, map.storage),
                    types.size_of(map.storage)
                ));
            }
            let (key_slot, value_slot) = slot_types(types, map);
            let indirect_key = types.size_of(key_slot) != types.size_of(map.key);
            let indirect_value = types.size_of(value_slot) != types.size_of(map.value);
            if Some(indirect_key) != storage["indirect_keys"].as_bool()
                || Some(indirect_value) != storage["indirect_elems"].as_bool()
            {
                problems.push(format!(
                    "{}: {root}: indirect key/value {indirect_key}/{indirect_value}, runtime {}/{}",
                    f.label, storage["indirect_keys"], storage["indirect_elems"]
                ));
            }
            if let Some(split) = storage["split_group"].as_bool() {
                let has_keys = types
                    .layout_of(map.storage)
                    .unwrap()
                    .field("keys")
                    .is_some();
                if has_keys != split {
                    problems.push(format!(
                        "{}: {root}: split group {has_keys}, runtime {split}",
                        f.label
                    ));
                }
            }
        }
        assert!(checked >= 10, "{}: {checked} maps", f.label);
        eprintln!("{}: {checked} maps of truth.json agree with DWARF", f.label);
    }
    assert!(programs >= 2);
    finish(problems);
}

/// Reads `len` bytes at a virtual address of the executable's file image.
fn exe_bytes_at(exe: &[u8], address: u64, len: usize) -> Option<&[u8]> {
    use object::{Object, ObjectSection};
    let file = object::File::parse(exe).ok()?;
    for section in file.sections() {
        let (start, size) = (section.address(), section.size());
        if start <= address && address + len as u64 <= start + size {
            let data = section.data().ok()?;
            let from = (address - start) as usize;
            return data.get(from..from + len);
        }
    }
    None
}

/// The name a runtime type descriptor gives itself (`abi.Type.Str`, a
/// NameOff from `runtime.types`: flags byte, varint length, bytes).
fn descriptor_name(
    exe: &[u8],
    types_base: u64,
    str_offset: u64,
    tflag_offset: u64,
    at: u64,
) -> Option<String> {
    let name_off = i32::from_le_bytes(exe_bytes_at(exe, at + str_offset, 4)?.try_into().ok()?);
    let tflag = exe_bytes_at(exe, at + tflag_offset, 1)?[0];
    let name_at = types_base.checked_add_signed(i64::from(name_off))?;
    let header = exe_bytes_at(exe, name_at, 11)?;
    let (mut len, mut shift, mut i) = (0usize, 0, 1);
    loop {
        let b = *header.get(i)?;
        len |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let bytes = exe_bytes_at(exe, name_at + i as u64, len)?;
    let name = String::from_utf8_lossy(bytes).into_owned();
    // tflagExtraStar: the stored name has a '*' the type does not.
    Some(if tflag & 2 != 0 {
        name.strip_prefix('*').unwrap_or(&name).to_string()
    } else {
        name
    })
}

/// Every `DW_AT_go_runtime_type` points at a descriptor that names the same
/// type (the Go runtime's own name, as a heap object's malloc header would
/// lead to it). DWARF spells some names differently, normalized here:
/// `noalg.` prefixes, `·N` suffixes of function-local types, package-
/// qualified field names in struct literals, and package paths
/// (`internal/abi.Type`, `encoding/json/v2.X`) where descriptors use the
/// package name (`abi.Type`, `json.X`).
#[test]
fn runtime_types_name_themselves() {
    fn normalize(name: &str) -> String {
        let name = name.replace("noalg.", "");
        // Function-local types: DWARF `main.item·1`, descriptor `main.item`.
        let mut plain = String::new();
        let mut chars = name.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '·' {
                while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                    chars.next();
                }
            } else {
                plain.push(c);
            }
        }
        // Field names of struct literals: DWARF qualifies them with the
        // package (`{ runtime.len int }`), descriptors do not (`{ len int }`).
        // Embedded fields (followed by `;` or ` }`) keep their type name.
        let mut unqualified = String::new();
        let mut rest = plain.as_str();
        while let Some(i) = rest.find(['{', ';']) {
            unqualified.push_str(&rest[..=i]);
            rest = &rest[i + 1..];
            if let Some(field) = rest.strip_prefix(' ') {
                let end = field.find([' ', ';', '}']).unwrap_or(field.len());
                let (token, after) = field.split_at(end);
                unqualified.push(' ');
                if after.starts_with(" ") && !after.starts_with(" }") {
                    unqualified.push_str(token.rsplit('.').next().unwrap());
                } else {
                    unqualified.push_str(token);
                }
                rest = after;
            }
        }
        unqualified.push_str(rest);
        // Package paths: keep the package name, the last path element
        // before each '.' (`encoding/json/v2.X` is package json).
        fn package_name(word: &str) -> String {
            let mut elements: Vec<&str> = word.split('/').collect();
            let last = elements.pop().unwrap();
            let is_major = |e: &str| {
                e.len() > 1 && e.starts_with('v') && e[1..].bytes().all(|b| b.is_ascii_digit())
            };
            match last.split_once('.') {
                Some((pkg, rest)) if is_major(pkg) && !elements.is_empty() => {
                    format!("{}.{rest}", elements.last().unwrap())
                }
                _ => last.to_string(),
            }
        }
        let mut out = String::new();
        let mut word = String::new();
        for c in unqualified.chars() {
            if c.is_alphanumeric() || c == '_' || c == '/' || c == '.' || c == '-' {
                word.push(c);
            } else {
                out.push_str(&package_name(&word));
                word.clear();
                out.push(c);
            }
        }
        out.push_str(&package_name(&word));
        out
    }
    let mut problems = Vec::new();
    for f in fixtures() {
        let info = load(&f);
        let types = info.types();
        let base = info.runtime_types_base().expect("runtime.types in .symtab");
        let str_offset = types.field_offset("internal/abi.Type", "Str").unwrap_or(40);
        let tflag_offset = types
            .field_offset("internal/abi.Type", "TFlag")
            .unwrap_or(20);
        let (mut same, mut total) = (0, 0);
        for &(offset, id) in info.runtime_types() {
            total += 1;
            let Some(name) = descriptor_name(&f.exe, base, str_offset, tflag_offset, base + offset)
            else {
                problems.push(format!(
                    "{}: descriptor at +{offset:#x} unreadable",
                    f.label
                ));
                continue;
            };
            let dwarf_name = &types.get(id).name;
            if normalize(dwarf_name) == normalize(&name) {
                same += 1;
            } else {
                problems.push(format!(
                    "{}: +{offset:#x}: DWARF {dwarf_name}, descriptor {name}",
                    f.label
                ));
            }
        }
        assert!(total > 300, "{}: {total}", f.label);
        eprintln!(
            "{}: {same} of {total} runtime types name themselves as DWARF does",
            f.label
        );
    }
    finish(problems);
}
