//! The Go view of one process image: a core plus the executable it ran.
//!
//! Owns: loading, once, everything static the executable says (DWARF,
//! pclntab, symbols, build info), the Go version and experiments, the map
//! implementation, the pointer size, and the list of everything that had to
//! be degraded ([`GoProcess::warnings`]). Global lookup by name (DWARF
//! first, ELF symbols second). The heap model is built lazily on first use
//! ([`GoProcess::heap`]).
//!
//! Does not touch: struct offsets (those live in [`crate::layout`]), output
//! formatting. Nothing here tests a Go version number to decide a layout;
//! the version is reported, not used.
//!
//! An executable without DWARF (`-ldflags=-w` or `-s -w`) gets a stand-in
//! [`DwarfInfo`] built from the built-in layout table of its release,
//! GOARCH and map experiment ([`crate::dwarf::table`]), its runtime globals
//! placed by symbol or by a validated search
//! ([`crate::pclntab::globals`]), with one warning naming the table. A
//! release without a table still yields a process (version, symbols and
//! pclntab work) and [`GoProcess::require_dwarf`] returns a typed error for
//! the parts that need layouts — never a guessed layout.
//!
//! DWARF and the ELF symbol table may come from a separate debug file
//! ([`crate::debugfile`]: `--symbols FILE`, or the build-ID tree searched
//! when the executable has no DWARF); text and data still come from the
//! core and the executable. One warning says which file gave them.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use mapscope_elfcore::{Arch, Core, Executable, ProcessMemory, ReadError};

use crate::buildinfo::{BuildInfo, GoVersion};
use crate::debugfile::DebugFile;
use crate::dwarf::{DwarfError, DwarfInfo, MapFlavour, TypeId};
use crate::error::GoRuntimeError;
use crate::heap::Heap;
use crate::layout::RuntimeLayout;
use crate::pclntab::{ExeImage, Pclntab};
use crate::symbols::SymbolTable;

/// The executable's tables that borrow its bytes (pclntab, symbols).
struct ExeTables<'a> {
    pclntab: Option<Pclntab<'a>>,
    symbols: SymbolTable<'a>,
    /// Why the pclntab could not be read, when it could not.
    pclntab_error: Option<String>,
    /// The symbols are the separate debug file's (the executable has none).
    symbols_from_debug: bool,
}

impl<'a> ExeTables<'a> {
    fn build(exe: &'a [u8], debug: Option<&'a [u8]>) -> ExeTables<'a> {
        if exe.is_empty() {
            return ExeTables {
                pclntab: None,
                symbols: SymbolTable::default(),
                pclntab_error: Some("no executable".to_string()),
                symbols_from_debug: false,
            };
        }
        let file = match object::File::parse(exe) {
            Ok(f) => f,
            Err(e) => {
                return ExeTables {
                    pclntab: None,
                    symbols: SymbolTable::default(),
                    pclntab_error: Some(format!("not a readable object file: {e}")),
                    symbols_from_debug: false,
                }
            }
        };
        let mut symbols = SymbolTable::from_object(&file);
        // A stripped executable: the same build's debug file has them at
        // the same addresses.
        let mut symbols_from_debug = false;
        if symbols.is_empty() {
            if let Some(debug) = debug.and_then(|d| object::File::parse(d).ok()) {
                symbols = SymbolTable::from_object(&debug);
                symbols_from_debug = !symbols.is_empty();
            }
        }
        let parsed = ExeImage::from_object(exe, &file)
            .map_err(|e| e.to_string())
            .and_then(|image| Pclntab::from_parts(image, &symbols).map_err(|e| e.to_string()));
        let (pclntab, pclntab_error) = match parsed {
            Ok(p) => (Some(p), None),
            Err(e) => (None, Some(e)),
        };
        ExeTables {
            pclntab,
            symbols,
            pclntab_error,
            symbols_from_debug,
        }
    }
}

/// The process memory and the separate debug file, owning the bytes the
/// tables borrow.
struct ImageOwner {
    memory: ProcessMemory,
    debug: Option<DebugFile>,
}

self_cell::self_cell!(
    /// The process memory together with the executable tables borrowing it.
    struct ImageCell {
        owner: ImageOwner,
        #[covariant]
        dependent: ExeTables,
    }
);

/// Address, size and (when DWARF knows it) type of a global variable, as
/// mapped in this process (PIE load bias applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalRef {
    pub address: u64,
    /// Size in bytes; 0 when only a sizeless symbol says where it is.
    pub size: u64,
    /// `None` when the global came from the ELF symbol table only.
    pub ty: Option<TypeId>,
}

/// A Go process image with its executable's static knowledge loaded.
pub struct GoProcess {
    image: ImageCell,
    dwarf: Option<DwarfInfo>,
    buildinfo: Option<BuildInfo>,
    version: GoVersion,
    experiments: Vec<String>,
    map_implementation: Option<MapFlavour>,
    arch: Arch,
    load_bias: u64,
    warnings: Vec<String>,
    layout: OnceLock<Result<RuntimeLayout, Arc<GoRuntimeError>>>,
    heap: OnceLock<Result<Heap, Arc<GoRuntimeError>>>,
}

impl fmt::Debug for GoProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoProcess")
            .field("core", &self.memory().core().path())
            .field("version", &self.version.raw)
            .field("map_implementation", &self.map_implementation)
            .field("has_dwarf", &self.dwarf.is_some())
            .field("warnings", &self.warnings.len())
            .finish()
    }
}

impl GoProcess {
    /// Opens a core and its executable. `exe` may be omitted when the core's
    /// `NT_FILE` note names an executable that exists on disk.
    pub fn open(core_path: &Path, exe: Option<&Path>) -> Result<GoProcess, GoRuntimeError> {
        let core = Core::open(core_path)?;
        let exe_path = match exe {
            Some(p) => p.to_path_buf(),
            None => {
                let named = core.executable_path().map(str::to_string);
                match named.as_deref().map(Path::new).filter(|p| p.is_file()) {
                    Some(p) => p.to_path_buf(),
                    None => {
                        return Err(GoRuntimeError::NoExecutable {
                            core: core_path.to_path_buf(),
                            named,
                        })
                    }
                }
            }
        };
        let executable = Executable::open(&exe_path)?;
        let memory = ProcessMemory::new(core, Some(executable))?;
        GoProcess::new(memory)
    }

    /// Builds the Go view over a process image. Fails only when the
    /// executable is missing or is not a Go program at all; everything else
    /// that is missing becomes a warning. An executable without DWARF gets
    /// the debug file of its build ID when the build-ID tree has one
    /// ([`DebugFile::search`]).
    pub fn new(memory: ProcessMemory) -> Result<GoProcess, GoRuntimeError> {
        GoProcess::with_debug_file(memory, None)
    }

    /// [`GoProcess::new`] with DWARF and symbols from `debug` (already
    /// matched to the executable by [`DebugFile::open_for`]); `None`
    /// searches the build-ID tree when the executable has no DWARF.
    pub fn with_debug_file(
        memory: ProcessMemory,
        debug: Option<DebugFile>,
    ) -> Result<GoProcess, GoRuntimeError> {
        let mut warnings: Vec<String> = memory.core().warnings().to_vec();
        let Some(exe) = memory.executable() else {
            return Err(GoRuntimeError::NoExecutable {
                core: memory.core().path().to_path_buf(),
                named: memory.core().executable_path().map(str::to_string),
            });
        };
        let exe_path = exe.path().to_path_buf();
        let exe_bytes = exe.data();
        let arch = memory.core().arch();
        let load_bias = memory.placement().map(|p| p.bias).unwrap_or(0);

        let buildinfo = match BuildInfo::parse(exe_bytes) {
            Ok(b) => Some(b),
            Err(e) => {
                warnings.push(format!("{}: no Go build info: {e}", exe_path.display()));
                None
            }
        };
        let mut debug = debug;
        let mut loaded = None;
        if debug.is_none() {
            let own = DwarfInfo::load(exe_bytes);
            if matches!(own, Err(DwarfError::NoDwarf)) {
                let (found, note) = DebugFile::search(exe);
                warnings.extend(note);
                debug = found;
            }
            if debug.is_none() {
                loaded = Some(own);
            }
        }
        let mut dwarf_path = exe_path.clone();
        let mut dwarf_from_debug = false;
        let loaded = match (loaded, &debug) {
            (Some(own), _) => own,
            (None, Some(d)) => match DwarfInfo::load(d.data()) {
                Err(DwarfError::NoDwarf) => {
                    warnings.push(format!(
                        "{}: the separate debug file has no DWARF",
                        d.path().display()
                    ));
                    DwarfInfo::load(exe_bytes)
                }
                other => {
                    dwarf_path = d.path().to_path_buf();
                    dwarf_from_debug = true;
                    other
                }
            },
            (None, None) => DwarfInfo::load(exe_bytes),
        };
        let mut no_dwarf = false;
        let mut dwarf = match loaded {
            Ok(d) => {
                let w = d.warnings();
                if w.count > 0 {
                    warnings.push(format!(
                        "{}: DWARF partly unreadable ({} problems; first: {})",
                        dwarf_path.display(),
                        w.count,
                        w.messages.first().map(String::as_str).unwrap_or("?")
                    ));
                }
                Some(d)
            }
            Err(DwarfError::NoDwarf) => {
                no_dwarf = true;
                None
            }
            Err(e) => {
                warnings.push(format!("{}: DWARF unreadable: {e}", dwarf_path.display()));
                None
            }
        };

        let image = ImageCell::new(ImageOwner { memory, debug }, |o| {
            ExeTables::build(
                o.memory.executable().map(|e| e.data()).unwrap_or(&[]),
                o.debug.as_ref().map(DebugFile::data),
            )
        });
        let tables = image.borrow_dependent();
        if let Some(d) = &image.borrow_owner().debug {
            let what = match (dwarf_from_debug, tables.symbols_from_debug) {
                (true, true) => Some("DWARF and ELF symbols"),
                (true, false) => Some("DWARF"),
                (false, true) => Some("ELF symbols"),
                (false, false) => None,
            };
            if let Some(what) = what {
                warnings.push(format!(
                    "{what} from {} (the executable's build: {})",
                    d.path().display(),
                    d.matched()
                ));
            }
        }
        if let Some(reason) = &tables.pclntab_error {
            if buildinfo.is_none() {
                return Err(GoRuntimeError::NotGo {
                    path: exe_path,
                    reason: reason.clone(),
                });
            }
            warnings.push(format!(
                "{}: no usable pclntab: {reason}",
                exe_path.display()
            ));
        }

        // No DWARF: the runtime's layouts from the built-in table for this
        // build, its globals from symbols or a validated search.
        if no_dwarf {
            match crate::pclntab::globals::table_dwarf(
                buildinfo.as_ref(),
                arch,
                &tables.symbols,
                tables.pclntab.as_ref(),
                &image.borrow_owner().memory,
                load_bias,
            ) {
                Ok((table, notes)) => {
                    dwarf = Some(table);
                    warnings.extend(notes);
                }
                Err(why) => warnings.push(format!(
                    "{}: no DWARF (stripped, or built with -ldflags=-w) and {why}: runtime struct layouts are unknown; the heap walk is not available, version and symbols still are",
                    exe_path.display()
                )),
            }
        }

        // `DW_AT_go_runtime_type` offsets are from `runtime.types`; without
        // `.symtab` the moduledata says where the type data starts.
        if let Some(d) = dwarf.as_mut() {
            if d.runtime_types_base().is_none() {
                if let Some(md) = tables.pclntab.as_ref().and_then(|p| p.moduledata()) {
                    d.set_runtime_types_base(md.types);
                }
            }
        }

        let version = match (&buildinfo, &dwarf) {
            (Some(b), _) => b.version(),
            (None, Some(d)) => GoVersion::parse(d.go_version().unwrap_or("")),
            (None, None) => GoVersion::default(),
        };
        let experiments = buildinfo
            .as_ref()
            .map(|b| b.experiments())
            .unwrap_or_else(|| version.experiments.clone());
        if version.major == 0 {
            warnings.push("Go version unknown (no build info, no DWARF producer)".to_string());
        }

        let map_implementation = match &dwarf {
            Some(d) if d.has_program_types() => d.map_implementation(),
            // Without DWARF: the runtime's functions, else the layout
            // table's map types (the table was chosen by the build's
            // experiments).
            _ => tables
                .pclntab
                .as_ref()
                .and_then(map_implementation_from_functions)
                .or_else(|| dwarf.as_ref().and_then(|d| d.map_implementation())),
        };
        if map_implementation.is_none() {
            warnings.push("map implementation unknown: neither DWARF type names nor runtime function names tell classic from Swiss".to_string());
        }

        let mut process = GoProcess {
            image,
            dwarf,
            buildinfo,
            version,
            experiments,
            map_implementation,
            arch,
            load_bias,
            warnings,
            layout: OnceLock::new(),
            heap: OnceLock::new(),
        };
        // The version from the running image is the one that counts; the
        // build info is static and normally identical.
        if let Some(running) = process.read_build_version() {
            if !process.version.raw.is_empty() && running != process.version.raw {
                process.warnings.push(format!(
                    "runtime.buildVersion in the core is {running:?} but the executable's build info says {:?}: is this the executable the core ran?",
                    process.version.raw
                ));
            }
        }
        Ok(process)
    }

    /// The process image (core + executable) by virtual address.
    pub fn memory(&self) -> &ProcessMemory {
        &self.image.borrow_owner().memory
    }

    /// The separate debug file DWARF or symbols came from, if any.
    pub fn debug_file(&self) -> Option<&DebugFile> {
        self.image.borrow_owner().debug.as_ref()
    }

    /// The executable's DWARF; without DWARF the built-in layout table's
    /// stand-in ([`DwarfInfo::source`] says which); `None` when neither.
    pub fn dwarf(&self) -> Option<&DwarfInfo> {
        self.dwarf.as_ref()
    }

    /// The DWARF or a typed error saying that `what` needs it.
    pub fn require_dwarf(&self, what: &'static str) -> Result<&DwarfInfo, GoRuntimeError> {
        self.dwarf.as_ref().ok_or_else(|| GoRuntimeError::NoDwarf {
            path: self
                .memory()
                .executable()
                .map(|e| e.path().to_path_buf())
                .unwrap_or_default(),
            what,
        })
    }

    /// The executable's pclntab (addresses as linked; add
    /// [`GoProcess::load_bias`] for a PIE).
    pub fn pclntab(&self) -> Option<&Pclntab<'_>> {
        self.image.borrow_dependent().pclntab.as_ref()
    }

    /// The executable's ELF symbol table (empty when stripped).
    pub fn symbols(&self) -> &SymbolTable<'_> {
        &self.image.borrow_dependent().symbols
    }

    pub fn buildinfo(&self) -> Option<&BuildInfo> {
        self.buildinfo.as_ref()
    }

    /// The Go version (build info, else the DWARF producer).
    pub fn version(&self) -> &GoVersion {
        &self.version
    }

    /// The version string as stored, e.g. `go1.24.11 X:noswissmap`.
    pub fn version_string(&self) -> &str {
        &self.version.raw
    }

    /// GOEXPERIMENTs the binary was built with (beyond the defaults).
    pub fn experiments(&self) -> &[String] {
        &self.experiments
    }

    /// Classic or Swiss maps, from DWARF type names (or, stripped, from
    /// which map runtime functions exist); never from the version.
    pub fn map_implementation(&self) -> Option<MapFlavour> {
        self.map_implementation
    }

    /// Pointer size in bytes (8 on both supported machines).
    pub fn pointer_size(&self) -> u64 {
        8
    }

    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// What was added to the executable's link addresses to map it (0 for
    /// the usual non-PIE Go binary).
    pub fn load_bias(&self) -> u64 {
        self.load_bias
    }

    /// Everything degraded while loading (missing DWARF, core warnings,
    /// version mismatch...). Heap-walk warnings are on the heap model.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// A global variable by its Go name (`runtime.mheap_`, `main.cache`):
    /// DWARF first (with its type), then the ELF symbol table.
    pub fn global(&self, name: &str) -> Option<GlobalRef> {
        if let Some(g) = self.dwarf.as_ref().and_then(|d| d.globals().by_name(name)) {
            return Some(GlobalRef {
                address: g.address.wrapping_add(self.load_bias),
                size: g.size,
                ty: Some(g.ty),
            });
        }
        let s = self.symbols().lookup(name)?;
        Some(GlobalRef {
            address: s.address.wrapping_add(self.load_bias),
            size: s.size,
            ty: None,
        })
    }

    /// Reads a Go string header `{ptr, len}` at `address` and its bytes
    /// (at most `max_len` bytes; longer strings are an error).
    pub fn read_go_string(&self, address: u64, max_len: u64) -> Result<&[u8], ReadError> {
        let mem = self.memory();
        let ptr = mem.read_ptr(address)?;
        let len = mem.read_u64(address.wrapping_add(8))?;
        if len > max_len {
            return Err(ReadError::Overflow { addr: ptr, len });
        }
        if len == 0 {
            return Ok(&[]);
        }
        mem.bytes(ptr, len as usize)
    }

    /// `runtime.buildVersion` as the running program saw it.
    fn read_build_version(&self) -> Option<String> {
        let g = self.global("runtime.buildVersion")?;
        let bytes = self.read_go_string(g.address, 4096).ok()?;
        Some(String::from_utf8_lossy(bytes).into_owned())
    }

    /// The runtime struct layouts, resolved once from DWARF.
    pub fn layout(&self) -> Result<&RuntimeLayout, GoRuntimeError> {
        let dwarf = self.require_dwarf("the runtime struct layout")?;
        let cell = self
            .layout
            .get_or_init(|| RuntimeLayout::resolve(self, dwarf).map_err(Arc::new));
        cell.as_ref().map_err(|e| GoRuntimeError::Unavailable {
            what: "runtime struct layout",
            cause: Arc::clone(e),
        })
    }

    /// The heap model (spans, objects, specials, profile buckets), walked on
    /// first use and cached. Fails only when no layout is known (stripped
    /// executable) or the heap's root structures are unreadable; damaged
    /// spans become warnings on the model.
    pub fn heap(&self) -> Result<&Heap, GoRuntimeError> {
        self.require_dwarf("the heap walk")?;
        let layout = self.layout()?;
        let cell = self
            .heap
            .get_or_init(|| Heap::walk(self, layout).map_err(Arc::new));
        cell.as_ref().map_err(|e| GoRuntimeError::Unavailable {
            what: "Go heap walk",
            cause: Arc::clone(e),
        })
    }

    /// Go heap address ranges for region labelling: every heap arena
    /// (`[start, end)`, sorted, merged). Empty when the heap cannot be walked.
    pub fn heap_ranges(&self) -> Vec<(u64, u64)> {
        self.heap().map(|h| h.arena_ranges()).unwrap_or_default()
    }
}

/// Bound on the arenas [`GoProcess::heap_extent`] guesses below the
/// current one (4 TiB of 64 MiB arenas).
const MAX_GUESSED_ARENAS: usize = 1 << 16;

/// Classic vs Swiss from function names alone (stripped executables):
/// `runtime.hashGrow` exists only with classic maps,
/// `internal/runtime/maps.(*table).grow` only with Swiss maps.
fn map_implementation_from_functions(tab: &Pclntab<'_>) -> Option<MapFlavour> {
    let swiss = tab
        .func_by_name("internal/runtime/maps.(*table).grow")
        .is_some();
    let classic = tab.func_by_name("runtime.hashGrow").is_some();
    match (classic, swiss) {
        (true, false) => Some(MapFlavour::Classic),
        (false, true) => Some(MapFlavour::Swiss),
        _ => None,
    }
}

impl GoProcess {
    /// Go heap address ranges for coverage: the walked heap arenas, else —
    /// when the arena index is cut away — a guess: the arena holding the
    /// last heap allocation up to the end of its reservation
    /// (`mheap_.curArena`, inline in the runtime's bss, which a cut core
    /// keeps), extended down over the arena-sized steps of anonymous
    /// memory the core maps right below it. The flag says whether the
    /// ranges are the runtime's own arena list.
    pub fn heap_extent(&self) -> (Vec<(u64, u64)>, bool) {
        let ranges = self.heap_ranges();
        if !ranges.is_empty() {
            return (ranges, true);
        }
        let guess = (|| {
            let layout = self.layout().ok()?;
            let types = self.dwarf()?.types();
            let mheap = types.get(types.resolve(types.by_name("runtime.mheap")?));
            let cur = mheap.fields.iter().find(|f| f.name == "curArena")?;
            let cur_ty = types.get(types.resolve(cur.ty));
            let field = |name: &str| {
                cur_ty
                    .fields
                    .iter()
                    .find(|f| f.name == name)
                    .map(|f| f.offset)
            };
            let at = layout.globals.mheap.checked_add(cur.offset)?;
            let mem = self.memory();
            let base = mem.read_u64(at.checked_add(field("base")?)?).ok()?;
            let end = mem.read_u64(at.checked_add(field("end")?)?).ok()?;
            let arena = layout.constants.heap_arena_bytes;
            if arena == 0 || !arena.is_power_of_two() || base == 0 || end < base {
                return None;
            }
            let mut start = base.saturating_sub(1) & !(arena - 1);
            // Arenas are reserved upward from a hint: earlier ones sit
            // right below, in anonymous memory the core maps.
            let core = mem.core();
            for _ in 0..MAX_GUESSED_ARENAS {
                let below = start.wrapping_sub(1);
                let anonymous = !core.file_mappings().iter().any(|m| m.contains(below));
                if start < arena || core.segment_at(below).is_none() || !anonymous {
                    break;
                }
                start -= arena;
            }
            let end = end.max(start.saturating_add(arena));
            (end - start <= 1 << 40).then_some(vec![(start, end)])
        })();
        (guess.unwrap_or_default(), false)
    }
}
