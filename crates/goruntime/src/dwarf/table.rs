//! Runtime layout tables: the part of a Go executable's DWARF that mapscope
//! reads by name (runtime struct layouts, runtime constants, the types of
//! runtime globals), written as a compact text table and read back into a
//! [`TypeTable`] — so an executable without DWARF (`-ldflags=-w`,
//! `-ldflags='-s -w'`) gets the same layouts from a table generated from a
//! reference build of the same Go release, GOARCH and map experiment.
//!
//! Owns: the table format, [`extract`] (DWARF → text, used by
//! `examples/dump-layouts.rs` and `scripts/gen-layout-tables.sh`),
//! [`LayoutTable::parse`] (text → types, constants, global types), the
//! built-in tables (`crates/goruntime/layouts/*.txt`, embedded) and their
//! selection by build info ([`builtin`]).
//!
//! Does not touch: addresses (globals' addresses come from the symbol table
//! or a search of the stripped executable, see [`crate::pclntab::globals`]),
//! cores, program types. With DWARF, DWARF stays the source of truth.
//!
//! Format (one record a line, fields separated by tabs, deterministic):
//! ```text
//! # comment
//! layout-table 1
//! go go1.26.6
//! goarch amd64
//! experiments -            (or a comma list: noswissmap)
//! pointer 8
//! t <id> <kind> <args> <size|-> <go_kind|-> <name>
//! f <name> <offset> <type id> <embedded 0|1>     (members of the last t)
//! c <name> <value>
//! g <name> <type id>
//! ```
//! Type id 0 is the unknown placeholder. Kinds and their args (space
//! separated): `unknown bool int uint float complex struct string func`
//! (`-`), `ptr <target|->`, `array <elem> <count>`, `slice <elem>`,
//! `map <key> <value> <pointer> <header> <c|s|-> <storage> <table>`,
//! `chan <elem> <pointer>`, `iface <repr> <0|1 empty>`, `typedef <target>`.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::types::{Field, MapFlavour, MapType, Type, TypeId, TypeKind, TypeTable};
use super::DwarfInfo;
use crate::buildinfo::BuildInfo;

/// Runtime types mapscope looks up by name (goruntime's heap and goroutine
/// layouts, gomaps' map decoders and pointer maps). Names absent from a
/// release's DWARF are skipped.
pub const ROOT_TYPES: &[&str] = &[
    // Heap walk (crate::layout).
    "runtime.mheap",
    "runtime.heapArena",
    "runtime.mspan",
    "runtime.mSpanStateBox",
    "runtime.special",
    "runtime.specialprofile",
    "runtime.specialfinalizer",
    "runtime.bucket",
    "runtime.memRecord",
    "runtime.memRecordCycle",
    "runtime.mstats",
    "runtime.heapStatsDelta",
    "runtime.consistentHeapStats",
    "runtime.gcControllerState",
    "runtime._type",
    "runtime.spanInlineMarkBits",
    "runtime.moduledata",
    "runtime.bitvector",
    // Goroutines (crate::goroutines).
    "runtime.g",
    "runtime.m",
    "runtime.stack",
    "runtime.gobuf",
    "runtime.schedt",
    "runtime.funcval",
    // Maps (gomaps).
    "runtime.hmap",
    "runtime.mapextra",
    "runtime.bmap",
    "runtime.eface",
    "runtime.iface",
    "sync.Map",
    "sync.readOnly",
    "sync.entry",
    "internal/sync.HashTrieMap[interface {},interface {}]",
    "internal/sync.indirect[interface {},interface {}]",
    "internal/sync.entry[interface {},interface {}]",
    "internal/sync.node[interface {},interface {}]",
];

/// Every non-generic type of these packages is a root too (type
/// descriptors and the Swiss map internals).
pub const ROOT_PREFIXES: &[&str] = &["internal/abi.", "internal/runtime/maps."];

/// Constants whose names start with one of these are kept (every constant
/// mapscope reads, and the families they belong to).
pub const CONSTANT_PREFIXES: &[&str] = &[
    "internal/abi.",
    "internal/runtime/gc.",
    "internal/runtime/maps.",
    "runtime._G",
    "runtime._Kind",
    "runtime._MaxSmallSize",
    "runtime._PageS",
    "runtime._NumSizeClasses",
    "runtime.arena",
    "runtime.bucketCnt",
    "runtime.empty",
    "runtime.evacuated",
    "runtime.hashWriting",
    "runtime.heapArenaBytes",
    "runtime.iterator",
    "runtime.mSpan",
    "runtime.mallocHeaderSize",
    "runtime.maxElemSize",
    "runtime.maxKeySize",
    "runtime.maxProfStackDepth",
    "runtime.maxSmallSize",
    "runtime.maxStack",
    "runtime.memProfile",
    "runtime.minSizeForMallocHeader",
    "runtime.minTopHash",
    "runtime.oldIterator",
    "runtime.pageS",
    "runtime.pagesPerArena",
    "runtime.sameSizeGrow",
    "runtime.tinySize",
];

/// Runtime globals mapscope reads, whose types the table records.
pub const RUNTIME_GLOBALS: &[&str] = &[
    "runtime.mheap_",
    "runtime.allgs",
    "runtime.allglen",
    "runtime.allm",
    "runtime.sched",
    "runtime.waitReasonStrings",
    "runtime.buildVersion",
    "runtime.mbuckets",
    "runtime.memstats",
    "runtime.gcController",
    "runtime.MemProfileRate",
    "runtime.mProfCycle",
    "internal/runtime/gc.SizeClassToSize",
    "runtime.class_to_size",
    "runtime.firstmoduledata",
    "runtime.inProgress",
    "sync.expunged",
];

/// Types reached from a root through at most this many member or pointer
/// steps keep their members; deeper ones are written as opaque (name,
/// size, and for pointers no target).
const MAX_FULL_DEPTH: u32 = 2;

/// Bounds on a table read back (the shipped tables are far below them).
const MAX_TABLE_TYPES: usize = 1 << 16;
const MAX_TABLE_FIELDS: usize = 1 << 18;

/// The identity of a table: which build its layouts describe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableHeader {
    /// `go1.26.6`.
    pub go: String,
    /// `amd64` or `arm64`.
    pub goarch: String,
    /// GOEXPERIMENTs of the reference build that change layouts
    /// (`noswissmap`), sorted.
    pub experiments: Vec<String>,
    pub pointer_size: u8,
}

impl TableHeader {
    /// `go1.26.6 linux/amd64` (plus ` GOEXPERIMENT=noswissmap`).
    pub fn describe(&self) -> String {
        let mut s = format!("{} linux/{}", self.go, self.goarch);
        if !self.experiments.is_empty() {
            s.push_str(&format!(" GOEXPERIMENT={}", self.experiments.join(",")));
        }
        s
    }
}

impl TableHeader {
    /// The identity of a table made from an executable with this build
    /// info: release, GOARCH and the layout-changing experiments.
    pub fn for_build(
        info: &BuildInfo,
        pointer_size: u8,
    ) -> Result<TableHeader, crate::error::TableHeaderError> {
        let version = info.version();
        if version.release.is_empty() {
            return Err(crate::error::TableHeaderError::UnknownVersion { raw: version.raw });
        }
        let goarch = info
            .setting("GOARCH")
            .ok_or(crate::error::TableHeaderError::NoGoarch)?
            .to_string();
        let experiments = info
            .experiments()
            .into_iter()
            .filter(|e| e == "noswissmap")
            .collect();
        Ok(TableHeader {
            go: version.release,
            goarch,
            experiments,
            pointer_size,
        })
    }
}

/// Why a table could not be read.
#[derive(Debug, thiserror::Error)]
#[error("layout table line {line}: {problem}")]
pub struct TableError {
    pub line: usize,
    pub problem: String,
}

/// Writes the layout table of `dwarf` (see the module docs for the format).
pub fn extract(dwarf: &DwarfInfo, header: &TableHeader) -> String {
    let types = dwarf.types();
    // Roots: named types, the prefixed packages' types, globals' types.
    let mut roots: Vec<TypeId> = Vec::new();
    for name in ROOT_TYPES {
        if let Some(id) = types.by_name(name) {
            roots.push(id);
        }
    }
    let mut prefixed: Vec<(&str, TypeId)> = types
        .iter()
        .filter(|(_, t)| {
            ROOT_PREFIXES.iter().any(|p| t.name.starts_with(p)) && !t.name.contains(['[', '<', ' '])
        })
        .filter_map(|(_, t)| Some((t.name.as_str(), types.by_name(&t.name)?)))
        .collect();
    prefixed.sort();
    prefixed.dedup();
    roots.extend(prefixed.iter().map(|&(_, id)| id));
    let mut globals: Vec<(&str, TypeId)> = Vec::new();
    for name in RUNTIME_GLOBALS {
        if let Some(g) = dwarf.globals().by_name(name) {
            globals.push((name, g.ty));
            roots.push(g.ty);
        }
    }

    // Breadth first from the roots: new ids in order of discovery.
    let mut walk = Walk::default();
    for &root in &roots {
        walk.visit(root, 0);
    }
    let mut lines: Vec<String> = Vec::new();
    while let Some(old) = walk.queue.pop_front() {
        let Some(&(new, depth)) = walk.ids.get(&old) else {
            continue;
        };
        let ty = types.get(old);
        let full = depth <= MAX_FULL_DEPTH;
        let size = |s: Option<u64>| s.map_or("-".to_string(), |s| s.to_string());
        let mut r = |id: TypeId, step: u32| -> String { walk.visit(id, depth + step).to_string() };
        let (kind, args, size_text) = if !full {
            match ty.kind {
                TypeKind::Pointer { .. } => ("ptr", "-".to_string(), size(ty.size)),
                TypeKind::Bool => ("bool", "-".into(), size(ty.size)),
                TypeKind::Int => ("int", "-".into(), size(ty.size)),
                TypeKind::Uint => ("uint", "-".into(), size(ty.size)),
                TypeKind::Float => ("float", "-".into(), size(ty.size)),
                TypeKind::Complex => ("complex", "-".into(), size(ty.size)),
                _ => ("unknown", "-".into(), size(types.size_of(old))),
            }
        } else {
            match ty.kind {
                TypeKind::Unknown => ("unknown", "-".into(), size(ty.size)),
                TypeKind::Bool => ("bool", "-".into(), size(ty.size)),
                TypeKind::Int => ("int", "-".into(), size(ty.size)),
                TypeKind::Uint => ("uint", "-".into(), size(ty.size)),
                TypeKind::Float => ("float", "-".into(), size(ty.size)),
                TypeKind::Complex => ("complex", "-".into(), size(ty.size)),
                TypeKind::Struct => ("struct", "-".into(), size(ty.size)),
                TypeKind::String => ("string", "-".into(), size(ty.size)),
                TypeKind::Func => ("func", "-".into(), size(ty.size)),
                TypeKind::Pointer { target } => (
                    "ptr",
                    target.map_or("-".to_string(), |t| r(t, 1)),
                    size(ty.size),
                ),
                TypeKind::Array { elem, count } => {
                    ("array", format!("{} {count}", r(elem, 0)), size(ty.size))
                }
                TypeKind::Slice { elem } => ("slice", r(elem, 0), size(ty.size)),
                TypeKind::Map(m) => {
                    let flavour = match m.flavour {
                        Some(MapFlavour::Classic) => "c",
                        Some(MapFlavour::Swiss) => "s",
                        None => "-",
                    };
                    let args = format!(
                        "{} {} {} {} {flavour} {} {}",
                        r(m.key, 1),
                        r(m.value, 1),
                        r(m.pointer, 1),
                        r(m.header, 1),
                        r(m.storage, 1),
                        r(m.table, 1)
                    );
                    ("map", args, size(ty.size))
                }
                TypeKind::Chan { elem, pointer } => (
                    "chan",
                    format!("{} {}", r(elem, 1), r(pointer, 1)),
                    size(ty.size),
                ),
                TypeKind::Interface { repr, empty } => (
                    "iface",
                    format!("{} {}", r(repr, 0), u8::from(empty)),
                    size(ty.size),
                ),
                TypeKind::Typedef { target } => ("typedef", r(target, 0), size(ty.size)),
            }
        };
        let go_kind = ty.go_kind.map_or("-".to_string(), |k| k.to_string());
        lines.push(format!(
            "t\t{new}\t{kind}\t{args}\t{size_text}\t{go_kind}\t{}",
            ty.name
        ));
        if full {
            for f in &ty.fields {
                let t = r(f.ty, 1);
                lines.push(format!(
                    "f\t{}\t{}\t{t}\t{}",
                    f.name,
                    f.offset,
                    u8::from(f.embedded)
                ));
            }
        }
    }

    let mut out = String::new();
    out.push_str(&format!(
        "# mapscope runtime layout table for {}: generated by scripts/gen-layout-tables.sh from the DWARF of a reference build; do not edit\n",
        header.describe()
    ));
    out.push_str("layout-table 1\n");
    out.push_str(&format!("go {}\n", header.go));
    out.push_str(&format!("goarch {}\n", header.goarch));
    let experiments = if header.experiments.is_empty() {
        "-".to_string()
    } else {
        header.experiments.join(",")
    };
    out.push_str(&format!("experiments {experiments}\n"));
    out.push_str(&format!("pointer {}\n", header.pointer_size));
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    let constants: BTreeMap<&str, i64> = dwarf
        .constants()
        .filter(|(name, _)| CONSTANT_PREFIXES.iter().any(|p| name.starts_with(p)))
        .collect();
    for (name, value) in constants {
        out.push_str(&format!("c\t{name}\t{value}\n"));
    }
    for (name, ty) in globals {
        let id = walk.ids.get(&ty).map_or(0, |&(new, _)| new);
        out.push_str(&format!("g\t{name}\t{id}\n"));
    }
    out
}

/// The breadth-first numbering of [`extract`].
#[derive(Default)]
struct Walk {
    /// Old id → (new id, depth from the nearest root).
    ids: HashMap<TypeId, (u32, u32)>,
    queue: VecDeque<TypeId>,
}

impl Walk {
    fn visit(&mut self, id: TypeId, depth: u32) -> u32 {
        if id == TypeId::UNKNOWN {
            return 0;
        }
        if let Some(&(new, _)) = self.ids.get(&id) {
            return new;
        }
        let new = self.ids.len() as u32 + 1;
        self.ids.insert(id, (new, depth));
        self.queue.push_back(id);
        new
    }
}

/// A table read back.
#[derive(Debug)]
pub struct LayoutTable {
    pub header: TableHeader,
    pub types: TypeTable,
    pub constants: HashMap<String, i64>,
    /// Runtime globals and their types.
    pub globals: Vec<(String, TypeId)>,
}

impl LayoutTable {
    /// Parses a table. Every id and count is checked; nothing panics on a
    /// damaged table.
    pub fn parse(text: &str) -> Result<LayoutTable, TableError> {
        let err = |line: usize, problem: &str| TableError {
            line,
            problem: problem.to_string(),
        };
        let mut header = TableHeader {
            go: String::new(),
            goarch: String::new(),
            experiments: Vec::new(),
            pointer_size: 8,
        };
        let mut types: Vec<Type> = vec![Type::unknown("<unknown>")];
        let mut constants = HashMap::new();
        let mut globals = Vec::new();
        let mut field_count = 0usize;
        let mut saw_magic = false;
        for (n, line) in text.lines().enumerate() {
            let n = n + 1;
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            match cols.as_slice() {
                ["t", id, kind, args, size, go_kind, name] => {
                    let id: usize = id.parse().map_err(|_| err(n, "bad type id"))?;
                    if id != types.len() || id >= MAX_TABLE_TYPES {
                        return Err(err(n, "type ids must count up from 1"));
                    }
                    let size = match *size {
                        "-" => None,
                        s => Some(s.parse::<u64>().map_err(|_| err(n, "bad size"))?),
                    };
                    let go_kind = match *go_kind {
                        "-" => None,
                        s => Some(s.parse::<u8>().map_err(|_| err(n, "bad go kind"))?),
                    };
                    let kind = parse_kind(kind, args).ok_or_else(|| err(n, "bad kind"))?;
                    types.push(Type {
                        name: name.to_string(),
                        size,
                        kind,
                        fields: Vec::new(),
                        go_kind,
                        runtime_type_offset: None,
                    });
                }
                ["f", name, offset, ty, embedded] => {
                    field_count += 1;
                    if field_count > MAX_TABLE_FIELDS {
                        return Err(err(n, "too many members"));
                    }
                    let field = Field {
                        name: name.to_string(),
                        offset: offset.parse().map_err(|_| err(n, "bad offset"))?,
                        ty: TypeId(ty.parse().map_err(|_| err(n, "bad member type"))?),
                        embedded: *embedded == "1",
                    };
                    match types.last_mut() {
                        Some(t) if types_len_ok(&t.name) => t.fields.push(field),
                        _ => return Err(err(n, "member before any type")),
                    }
                }
                ["c", name, value] => {
                    let v: i64 = value.parse().map_err(|_| err(n, "bad constant"))?;
                    constants.insert(name.to_string(), v);
                }
                ["g", name, ty] => {
                    let ty: u32 = ty.parse().map_err(|_| err(n, "bad global type"))?;
                    globals.push((name.to_string(), TypeId(ty)));
                }
                [single] => {
                    let (key, value) = single.split_once(' ').unwrap_or((single, ""));
                    match key {
                        "layout-table" if value == "1" => saw_magic = true,
                        "layout-table" => return Err(err(n, "unknown table version")),
                        "go" => header.go = value.to_string(),
                        "goarch" => header.goarch = value.to_string(),
                        "experiments" => {
                            header.experiments = value
                                .split(',')
                                .filter(|e| !e.is_empty() && *e != "-")
                                .map(str::to_string)
                                .collect()
                        }
                        "pointer" => {
                            header.pointer_size =
                                value.parse().map_err(|_| err(n, "bad pointer size"))?
                        }
                        _ => return Err(err(n, "unknown header line")),
                    }
                }
                _ => return Err(err(n, "unknown record")),
            }
        }
        if !saw_magic {
            return Err(err(0, "not a mapscope layout table"));
        }
        // Every reference must name a type of the table.
        let count = types.len();
        let ok = |id: TypeId| id.index() < count;
        for t in &types {
            let refs_ok = t.fields.iter().all(|f| ok(f.ty))
                && match t.kind {
                    TypeKind::Pointer { target } => target.is_none_or(ok),
                    TypeKind::Array { elem, .. } | TypeKind::Slice { elem } => ok(elem),
                    TypeKind::Map(m) => [m.key, m.value, m.pointer, m.header, m.storage, m.table]
                        .into_iter()
                        .all(ok),
                    TypeKind::Chan { elem, pointer } => ok(elem) && ok(pointer),
                    TypeKind::Interface { repr, .. } => ok(repr),
                    TypeKind::Typedef { target } => ok(target),
                    _ => true,
                };
            if !refs_ok {
                return Err(err(0, &format!("type {:?} refers to no type", t.name)));
            }
        }
        if globals.iter().any(|&(_, ty)| !ok(ty)) {
            return Err(err(0, "a global refers to no type"));
        }
        Ok(LayoutTable {
            types: TypeTable::new(types, u64::from(header.pointer_size)),
            header,
            constants,
            globals,
        })
    }
}

/// Members may follow any type line (the placeholder excepted).
fn types_len_ok(name: &str) -> bool {
    name != "<unknown>"
}

fn parse_kind(kind: &str, args: &str) -> Option<TypeKind> {
    let a: Vec<&str> = args.split(' ').collect();
    let id = |s: &str| s.parse::<u32>().ok().map(TypeId);
    Some(match (kind, a.as_slice()) {
        ("unknown", _) => TypeKind::Unknown,
        ("bool", _) => TypeKind::Bool,
        ("int", _) => TypeKind::Int,
        ("uint", _) => TypeKind::Uint,
        ("float", _) => TypeKind::Float,
        ("complex", _) => TypeKind::Complex,
        ("struct", _) => TypeKind::Struct,
        ("string", _) => TypeKind::String,
        ("func", _) => TypeKind::Func,
        ("ptr", ["-"]) => TypeKind::Pointer { target: None },
        ("ptr", [t]) => TypeKind::Pointer {
            target: Some(id(t)?),
        },
        ("array", [e, c]) => TypeKind::Array {
            elem: id(e)?,
            count: c.parse().ok()?,
        },
        ("slice", [e]) => TypeKind::Slice { elem: id(e)? },
        ("map", [k, v, p, h, f, s, t]) => TypeKind::Map(MapType {
            key: id(k)?,
            value: id(v)?,
            pointer: id(p)?,
            header: id(h)?,
            flavour: match *f {
                "c" => Some(MapFlavour::Classic),
                "s" => Some(MapFlavour::Swiss),
                _ => None,
            },
            storage: id(s)?,
            table: id(t)?,
        }),
        ("chan", [e, p]) => TypeKind::Chan {
            elem: id(e)?,
            pointer: id(p)?,
        },
        ("iface", [r, e]) => TypeKind::Interface {
            repr: id(r)?,
            empty: *e == "1",
        },
        ("typedef", [t]) => TypeKind::Typedef { target: id(t)? },
        _ => return None,
    })
}

/// One built-in table: its file name and text.
#[derive(Clone, Copy, Debug)]
pub struct BuiltinTable {
    /// `go1.26-amd64`, `go1.24-arm64-noswiss`.
    pub name: &'static str,
    pub text: &'static str,
}

macro_rules! tables {
    ($($name:literal),* $(,)?) => {
        &[$(BuiltinTable {
            name: $name,
            text: include_str!(concat!("../../layouts/", $name, ".txt")),
        }),*]
    };
}

/// Every table shipped in the binary.
pub const BUILTIN_TABLES: &[BuiltinTable] = tables!(
    "go1.21-amd64",
    "go1.21-arm64",
    "go1.22-amd64",
    "go1.22-arm64",
    "go1.23-amd64",
    "go1.23-arm64",
    "go1.24-amd64",
    "go1.24-arm64",
    "go1.24-amd64-noswiss",
    "go1.24-arm64-noswiss",
    "go1.25-amd64",
    "go1.25-arm64",
    "go1.25-amd64-noswiss",
    "go1.25-arm64-noswiss",
    "go1.26-amd64",
    "go1.26-arm64",
    "go1.27-amd64",
    "go1.27-arm64",
);

/// The file name of the table for Go 1.`minor` on `goarch`
/// (`go1.24-amd64-noswiss`).
pub fn table_name(minor: u32, goarch: &str, noswissmap: bool) -> String {
    let mut name = format!("go1.{minor}-{goarch}");
    if noswissmap {
        name.push_str("-noswiss");
    }
    name
}

/// The built-in table for Go 1.`minor` on `goarch` (`amd64`, `arm64`), with
/// classic maps when `noswissmap` (only 1.24 and 1.25 have such tables).
pub fn builtin(minor: u32, goarch: &str, noswissmap: bool) -> Option<BuiltinTable> {
    let name = table_name(minor, goarch, noswissmap);
    BUILTIN_TABLES.iter().find(|t| t.name == name).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_table_parses_and_names_itself() {
        for t in BUILTIN_TABLES {
            let table = LayoutTable::parse(t.text).unwrap_or_else(|e| panic!("{}: {e}", t.name));
            let minor: u32 = table.header.go["go1.".len()..]
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .expect("minor");
            let noswiss = table.header.experiments.iter().any(|e| e == "noswissmap");
            assert_eq!(
                table_name(minor, &table.header.goarch, noswiss),
                t.name,
                "header of {}",
                t.name
            );
            assert!(table.types.struct_layout("runtime.mspan").is_some());
            assert!(table.types.field_offset("runtime.g", "sched.sp").is_some());
        }
    }

    #[test]
    fn damaged_tables_are_errors() {
        for text in [
            "",
            "layout-table 2\n",
            "layout-table 1\nt\t2\tstruct\t-\t8\t-\tx\n",
            "layout-table 1\nt\t1\tptr\t9\t8\t-\tx\n",
            "layout-table 1\nf\ta\t0\t0\t0\n",
            "layout-table 1\nt\t1\tarray\t1\t8\t-\tx\n",
            "layout-table 1\ng\tx\t7\n",
        ] {
            assert!(LayoutTable::parse(text).is_err(), "{text:?}");
        }
    }
}
