//! Runtime type descriptors (`internal/abi.Type`) read from the process:
//! the name the runtime gives a type, so heap objects are named even when
//! DWARF does not describe their type (map storage `map.bucket[K]V`,
//! `noalg.map.group[K]V`, compiler-generated types).

use crate::layout::RuntimeLayout;
use crate::process::GoProcess;

/// Longest type name read (real ones are far shorter).
const MAX_NAME: u64 = 1 << 16;

/// What the runtime's type descriptor says about a type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeType {
    /// Address of the descriptor (`*_type`).
    pub address: u64,
    /// The runtime's name (`main.Session`, `map.bucket[string]int`).
    pub name: String,
    /// `Size_`.
    pub size: u64,
    /// `PtrBytes`: prefix of the type that can hold pointers.
    pub ptr_bytes: u64,
    /// `Kind_ & 0x1f` (reflect.Kind numbering).
    pub kind: u8,
}

/// Reads the descriptor at `address` and its name (`Str` is a name offset
/// from the module's type data, `moduledata.types`).
pub(crate) fn read_runtime_type(
    process: &GoProcess,
    layout: &RuntimeLayout,
    address: u64,
) -> Option<RuntimeType> {
    let l = layout.abi_type.as_ref()?;
    let mem = process.memory();
    let mut raw = [0u8; 64];
    let n = (l.size as usize).min(raw.len());
    mem.read(address, &mut raw[..n]).ok()?;
    let raw = &raw[..n];
    let size = crate::layout::word_at(raw, l.size_field)?;
    let ptr_bytes = crate::layout::word_at(raw, l.ptr_bytes)?;
    let tflag = l.tflag.get(raw)?;
    let kind = (l.kind.get(raw)? & 0x1f) as u8;
    let str_off = l.str_off.get(raw)?;
    let name = read_name(process, str_off)
        .map(|mut name| {
            if tflag & l.tflag_extra_star != 0 && name.starts_with('*') {
                name.remove(0);
            }
            name
        })
        .unwrap_or_default();
    Some(RuntimeType {
        address,
        name,
        size,
        ptr_bytes,
        kind,
    })
}

/// An `abi.Name` at `types + off`: a flag byte, a varint length, the bytes.
fn read_name(process: &GoProcess, off: u64) -> Option<String> {
    let types = process
        .pclntab()
        .and_then(|p| p.moduledata())
        .map(|md| md.types.wrapping_add(process.load_bias()))
        .or_else(|| {
            process
                .dwarf()
                .and_then(|d| d.runtime_types_base())
                .map(|b| b.wrapping_add(process.load_bias()))
        })?;
    let at = types.checked_add(off)?;
    let mem = process.memory();
    let mut head = [0u8; 4];
    mem.read(at, &mut head[..1]).ok()?;
    let mut len = 0u64;
    let mut used = 0u64;
    for i in 0..3u64 {
        let b = mem.read_u8(at + 1 + i).ok()?;
        len |= ((b & 0x7f) as u64) << (7 * i);
        used = i + 1;
        if b & 0x80 == 0 {
            break;
        }
    }
    if len > MAX_NAME {
        return None;
    }
    let mut buf = vec![0u8; len as usize];
    mem.read(at + 1 + used, &mut buf).ok()?;
    String::from_utf8(buf).ok()
}
