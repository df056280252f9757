//! Shared by the truth tests: open an incident (core + executable +
//! truth.json), find each recorded map's static type the way a root walk
//! would (global → fields, family element type, goroutine local), decode it
//! at the recorded address and compare with what the live program measured.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;

use mapscope_elfcore::{Core, Executable, ProcessMemory};
use mapscope_gomaps::discover::FoundMap;
use mapscope_gomaps::{Header, MapDecoder, MapInstance, NoHeapIndex, Storage};
use mapscope_goruntime::dwarf::{DwarfInfo, FieldRef, TypeId, TypeKind};
use mapscope_goruntime::GoProcess;
use serde_json::{json, Value};

pub struct Incident {
    pub name: String,
    pub mem: ProcessMemory,
    pub dwarf: DwarfInfo,
    pub truth: Value,
}

impl Incident {
    pub fn open(name: &str, core: &Path, exe: &Path, truth: Value) -> Incident {
        let core = Core::open(core).unwrap_or_else(|e| panic!("{}: {e}", core.display()));
        let exe = Executable::open(exe).unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
        let mem = ProcessMemory::new(core, Some(exe)).expect("process memory");
        let dwarf = DwarfInfo::load(mem.executable().expect("exe").data()).expect("dwarf");
        Incident {
            name: name.to_string(),
            mem,
            dwarf,
            truth,
        }
    }

    pub fn from_dir(dir: &Path) -> Option<Incident> {
        let truth: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).ok()?).ok()?;
        let core = dir.join("core");
        let exe = dir.join("mapzoo");
        if !core.is_file() || !exe.is_file() {
            return None;
        }
        let name = dir.file_name()?.to_string_lossy().into_owned();
        Some(Incident::open(&name, &core, &exe, truth))
    }
}

/// Every map of `maps` and its children (members, nested maps) by
/// address; the first one at an address wins.
pub fn by_address(maps: &[FoundMap]) -> HashMap<u64, &FoundMap> {
    fn add<'a>(maps: &'a [FoundMap], out: &mut HashMap<u64, &'a FoundMap>) {
        for m in maps {
            out.entry(m.address).or_insert(m);
            add(&m.children, out);
        }
    }
    let mut out = HashMap::new();
    add(maps, &mut out);
    out
}

pub fn parse_addr(v: &Value) -> u64 {
    let s = v.as_str().unwrap_or("0x0");
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or(0)
}

/// The static type of a root path such as `main.sessionsByID` or
/// `main.registry.endpoints` (pointers dereferenced like Go selectors),
/// and the address the path leads to (reading pointers from the core), to
/// check the walk reaches the recorded map.
pub fn resolve_root(inc: &Incident, root: &str) -> Option<(TypeId, u64)> {
    let types = inc.dwarf.types();
    let parts: Vec<&str> = root.split('.').collect();
    for split in (2..=parts.len()).rev() {
        let name = parts[..split].join(".");
        let Some(global) = inc.dwarf.globals().by_name(&name) else {
            continue;
        };
        let mut ty = global.ty;
        let mut addr = global.address; // address of the variable
        for field in &parts[split..] {
            // Dereference pointers implicitly.
            if let TypeKind::Pointer { target: Some(t) } = types.get(types.resolve(ty)).kind {
                addr = inc.mem.read_u64(addr).ok()?;
                ty = t;
            }
            let f = types
                .field_path(ty, field)
                .or_else(|| promoted_field(inc, ty, field))?;
            addr += f.offset;
            ty = f.ty;
        }
        return Some((ty, addr));
    }
    None
}

/// A field promoted from an embedded struct (`loader.counts` for
/// `loader.Reporter.counts`), as Go selectors allow.
fn promoted_field(inc: &Incident, ty: TypeId, name: &str) -> Option<FieldRef> {
    let types = inc.dwarf.types();
    let t = types.get(types.resolve(ty));
    t.fields.iter().filter(|f| f.embedded).find_map(|e| {
        let inner = types
            .field_path(e.ty, name)
            .or_else(|| promoted_field(inc, e.ty, name))?;
        Some(FieldRef {
            offset: e.offset + inner.offset,
            ty: inner.ty,
        })
    })
}

/// The value a map variable at `var_addr` holds (the header pointer).
pub fn map_pointer(inc: &Incident, var_addr: u64) -> u64 {
    inc.mem.read_u64(var_addr).unwrap_or(0)
}

/// The element type of a family container: map value or slice element.
pub fn family_elem(inc: &Incident, container: TypeId) -> Option<TypeId> {
    let types = inc.dwarf.types();
    if let Some(m) = types.map_type(container) {
        return Some(m.value);
    }
    match types.get(types.resolve(container)).kind {
        TypeKind::Slice { elem } => Some(elem),
        TypeKind::Array { elem, .. } => Some(elem),
        _ => None,
    }
}

/// The static type of `main.stackOnlyWorker`'s local `m`.
pub fn goroutine_local(inc: &Incident, function: &str, local: &str) -> Option<TypeId> {
    let f = inc.dwarf.functions().by_name(function)?;
    f.variables.iter().find(|v| v.name == local).map(|v| v.ty)
}

fn hex(v: u64) -> Value {
    Value::String(format!("{v:#x}"))
}

/// The decoder's result in truth.json's vocabulary.
pub fn truth_view(m: &MapInstance) -> (Value, Value) {
    match (&m.header, &m.storage) {
        (Header::Classic(h), Storage::Classic(s)) => {
            let mut header = json!({
                "count": h.count, "flags": h.flags, "B": h.b, "noverflow": h.noverflow,
                "hash0": h.hash0, "buckets": hex(h.buckets), "oldbuckets": hex(h.oldbuckets),
                "nevacuate": h.nevacuate, "extra": hex(h.extra),
            });
            if let Some(c) = h.clear_seq {
                header["clearSeq"] = json!(c);
            }
            let storage = json!({
                "bucket_size": s.bucket_size, "buckets": s.buckets,
                "overflow_buckets": s.overflow_buckets, "old_buckets": s.old_buckets,
                "old_overflow_buckets": s.old_overflow_buckets,
                "evacuated_old_buckets": s.evacuated_old_buckets, "live_slots": s.live_slots,
                "empty_slots": s.empty_slots, "indirect_keys": s.indirect_keys,
                "indirect_elems": s.indirect_elems,
            });
            (header, storage)
        }
        (Header::Swiss(h), Storage::Swiss(s)) => {
            let mut header = json!({
                "used": h.used, "dirPtr": hex(h.dir_ptr), "dirLen": h.dir_len,
                "globalDepth": h.global_depth, "globalShift": h.global_shift, "writing": h.writing,
                "clearSeq": h.clear_seq.unwrap_or(0),
            });
            if let Some(t) = h.tombstone_possible {
                header["tombstonePossible"] = json!(t);
            }
            let tables: Vec<Value> = s
                .table_list
                .iter()
                .map(|t| {
                    json!({
                        "address": hex(t.address), "used": t.used, "capacity": t.capacity,
                        "growthLeft": t.growth_left, "localDepth": t.local_depth, "index": t.index,
                        "groups": hex(t.groups), "lengthMask": t.length_mask, "full": t.full,
                        "deleted": t.deleted,
                    })
                })
                .collect();
            let storage = json!({
                "group_size": s.group_size, "small": s.small, "tables": s.tables,
                "groups": s.groups, "capacity": s.capacity, "full": s.full,
                "deleted": s.deleted, "empty": s.empty, "growth_left": s.growth_left,
                "indirect_keys": s.indirect_keys, "indirect_elems": s.indirect_elems,
                "split_group": s.split_group, "table_list": tables,
            });
            (header, storage)
        }
        (Header::ReadDirty(h), _) => (
            json!({
                "read": hex(h.read), "read_map": hex(h.read_map), "read_len": h.read_len,
                "amended": h.amended, "dirty": hex(h.dirty), "dirty_len": h.dirty_len,
                "misses": h.misses,
            }),
            Value::Null,
        ),
        (Header::HashTrie(h), _) => (
            json!({
                "inited": h.inited, "root": hex(h.root), "indirect_nodes": h.indirect_nodes,
                "entry_nodes": h.entry_nodes, "max_depth": h.max_depth,
            }),
            Value::Null,
        ),
        _ => (Value::Null, Value::Null),
    }
}

/// Differences between truth's `header`/`storage` and the decoded view,
/// one line each. Every key truth has must match (table_list: the first
/// 16 tables truth lists).
pub fn compare(truth: &Value, m: &MapInstance) -> Vec<String> {
    let mut diffs = Vec::new();
    let (header, storage) = truth_view(m);
    let mut check = |section: &str, t: &Value, mine: &Value| {
        let Some(obj) = t.as_object() else { return };
        for (k, tv) in obj {
            if k == "impl" || k == "tables_unlisted" {
                continue;
            }
            let mv = &mine[k];
            if k == "table_list" {
                let (ta, ma) = (tv.as_array(), mv.as_array());
                match (ta, ma) {
                    (Some(ta), Some(ma)) => {
                        for (i, t) in ta.iter().enumerate() {
                            if ma.get(i) != Some(t) {
                                diffs.push(format!(
                                    "{section}.table_list[{i}]: truth {t} decoded {:?}",
                                    ma.get(i)
                                ));
                            }
                        }
                    }
                    _ => diffs.push(format!("{section}.table_list missing")),
                }
                continue;
            }
            if tv != mv {
                diffs.push(format!("{section}.{k}: truth {tv} decoded {mv}"));
            }
        }
    };
    check("header", &truth["header"], &header);
    check("storage", &truth["storage"], &storage);
    let len = truth["len"].as_u64().unwrap_or(u64::MAX);
    if m.len != len {
        diffs.push(format!("len: truth {len} decoded {}", m.len));
    }
    if m.live_entries != len {
        diffs.push(format!(
            "live_entries: truth len {len} counted {}",
            m.live_entries
        ));
    }
    let growing = truth["growing"].as_bool().unwrap_or(false);
    if m.growing != growing {
        diffs.push(format!("growing: truth {growing} decoded {}", m.growing));
    }
    if !m.type_name.is_empty() && truth["type"].as_str() != Some(m.type_name.as_str()) {
        diffs.push(format!(
            "type: truth {} decoded {}",
            truth["type"], m.type_name
        ));
    }
    diffs
}

/// One map checked: name, what was compared, differences.
pub struct Checked {
    pub name: String,
    pub diffs: Vec<String>,
    pub instance: Option<MapInstance>,
}

/// Decodes and compares every map (and listed family member) of an
/// incident.
pub fn check_incident(inc: &Incident) -> Vec<Checked> {
    let decoder = MapDecoder::new(&inc.mem, &inc.dwarf);
    let mut out = Vec::new();
    let maps = inc.truth["maps"].as_array().cloned().unwrap_or_default();
    for m in &maps {
        let name = m["name"].as_str().unwrap_or("?").to_string();
        let root = m["root"].as_str().unwrap_or("");
        let address = parse_addr(&m["address"]);
        let kind = m["kind"].as_str().unwrap_or("");
        let mut diffs = Vec::new();
        // The static type of the place that holds the structure.
        let (ty, var_addr) = match m["root_kind"].as_str() {
            Some("goroutine") => {
                let f = m["function"].as_str().unwrap_or("");
                let l = m["local"].as_str().unwrap_or("");
                match goroutine_local(inc, f, l) {
                    Some(t) => (t, None),
                    None => {
                        out.push(Checked {
                            name,
                            diffs: vec![format!("no DWARF local {f}.{l}")],
                            instance: None,
                        });
                        continue;
                    }
                }
            }
            _ => match resolve_root(inc, root) {
                Some((t, a)) => (t, Some(a)),
                None => {
                    out.push(Checked {
                        name,
                        diffs: vec![format!("root {root} not found in DWARF")],
                        instance: None,
                    });
                    continue;
                }
            },
        };
        // The root walk must reach the recorded address.
        if let Some(var) = var_addr {
            // A sync.Map is its variable; so is an array family (inline:
            // truth records the array's address).
            let is_array = matches!(
                inc.dwarf.types().get(inc.dwarf.types().resolve(ty)).kind,
                TypeKind::Array { .. }
            );
            let reached = if kind == "sync.Map" || (kind == "map-family" && is_array) {
                var
            } else {
                map_pointer(inc, var)
            };
            if reached != address {
                diffs.push(format!(
                    "root {root} leads to {reached:#x}, truth address {address:#x}"
                ));
            }
        }
        let decoded = if kind == "map-family"
            && family_elem(inc, ty).is_some()
            && inc.dwarf.types().map_type(ty).is_none()
        {
            None // a slice family: only its members are maps
        } else {
            Some(decoder.decode(ty, address, &NoHeapIndex))
        };
        let mut instance = None;
        match decoded {
            Some(Ok(inst)) => {
                diffs.extend(compare(m, &inst));
                instance = Some(inst);
            }
            Some(Err(e)) => diffs.push(format!("decode failed: {e}")),
            None => {}
        }
        out.push(Checked {
            name: name.clone(),
            diffs,
            instance,
        });
        // Family members: the family's element type at the recorded address.
        if let Some(children) = m["children"].as_array() {
            let Some(elem) = family_elem(inc, ty) else {
                out.push(Checked {
                    name: format!("{name}.member"),
                    diffs: vec!["no element type".into()],
                    instance: None,
                });
                continue;
            };
            for (i, c) in children.iter().enumerate() {
                let caddr = parse_addr(&c["address"]);
                let mut d = Vec::new();
                let mut ci = None;
                match decoder.decode(elem, caddr, &NoHeapIndex) {
                    Ok(inst) => {
                        d.extend(compare(c, &inst));
                        ci = Some(inst);
                    }
                    Err(e) => d.push(format!("decode failed: {e}")),
                }
                out.push(Checked {
                    name: format!("{name}[{i}]"),
                    diffs: d,
                    instance: ci,
                });
            }
        }
    }
    out
}

/// A shipped sample opened with its executable's DWARF hidden (the same
/// build as a `-ldflags=-w` loader sees it), with its truth.json. The
/// executable without DWARF lives in `_dir` as long as this does.
pub struct WithoutDwarf {
    pub sample: mapscope_testsupport::Sample,
    pub process: GoProcess,
    pub truth: Value,
    _dir: tempfile::TempDir,
}

/// Opens sample `name` without DWARF ([`WithoutDwarf`]); panics (test code)
/// unless the program's types are really gone.
pub fn open_without_dwarf(name: &str) -> WithoutDwarf {
    let sample = mapscope_testsupport::sample(name);
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = dir.path().join("mapzoo");
    mapscope_testsupport::write_without_dwarf(&sample.exe, &exe);
    let process = GoProcess::open(&sample.core, Some(&exe)).expect("opens");
    assert!(
        !process.dwarf().expect("stand-in").has_program_types(),
        "{name}: DWARF still visible"
    );
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(sample.source.join("truth.json")).expect("truth.json"),
    )
    .expect("parses");
    WithoutDwarf {
        sample,
        process,
        truth,
        _dir: dir,
    }
}
