//! Getting a file's bytes as one read-only memory map: plain files are mapped
//! directly; zstd, gzip and xz streams (recognised by their magic bytes) are
//! decompressed into an unnamed temporary file in `$TMPDIR` first, and that
//! file is mapped. Nothing is ever read whole into memory. The mapped file
//! also answers which of its byte ranges hold data and which are holes
//! (`MappedFile::data_extents`, `SEEK_DATA`/`SEEK_HOLE`).

use crate::error::CoreError;
use memmap2::Mmap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// How the file on disk was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Zstd,
    Gzip,
    Xz,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
        }
    }
}

/// Bytes handed in by the caller instead of a file (`Core::from_bytes`).
pub(crate) type InMemory = Box<dyn AsRef<[u8]> + Send + Sync>;

/// Where a [`MappedFile`]'s bytes live.
pub(crate) enum FileBytes {
    Map(Mmap),
    /// Caller-owned bytes (fuzzing, tests); never read from disk.
    Memory(InMemory),
}

impl std::fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileBytes::Map(m) => write!(f, "Map({} bytes)", m.len()),
            FileBytes::Memory(b) => write!(f, "Memory({} bytes)", (**b).as_ref().len()),
        }
    }
}

/// A read-only memory map of a file (or of its decompressed contents).
#[derive(Debug)]
pub(crate) struct MappedFile {
    pub map: FileBytes,
    pub compression: Compression,
    /// The mapped file (the input, or the unnamed temporary file holding
    /// its decompressed bytes): kept for [`MappedFile::data_extents`], and
    /// keeps a temporary file alive as long as the map.
    file: Option<File>,
}

impl MappedFile {
    pub fn bytes(&self) -> &[u8] {
        match &self.map {
            FileBytes::Map(m) => m,
            FileBytes::Memory(b) => (**b).as_ref(),
        }
    }

    /// Uncompressed bytes already in memory, as they are; `path` names
    /// them in errors. Empty bytes are refused as an empty file is.
    pub fn in_memory(path: &Path, bytes: InMemory) -> Result<MappedFile, CoreError> {
        if (*bytes).as_ref().is_empty() {
            return Err(empty_file(path));
        }
        Ok(MappedFile {
            map: FileBytes::Memory(bytes),
            compression: Compression::None,
            file: None,
        })
    }

    /// The parts of `[start, end)` (file offsets) the file system holds
    /// data for, from `SEEK_DATA`/`SEEK_HOLE`: everything else reads as
    /// zeros without being stored (the kernel writes untouched pages of a
    /// core as holes; decompression writes zero blocks as holes). `None`
    /// when the file system cannot say (or the bytes are in memory, or
    /// there are more than [`MAX_EXTENTS`] pieces): treat all as data.
    pub fn data_extents(&self, start: u64, end: u64) -> Option<Vec<(u64, u64)>> {
        use rustix::fs::{seek, SeekFrom};
        let file = self.file.as_ref()?;
        let mut out = Vec::new();
        let mut at = start;
        while at < end {
            if out.len() >= MAX_EXTENTS {
                return None;
            }
            let data = match seek(file, SeekFrom::Data(at)) {
                Ok(d) => d,
                // ENXIO: no data at or after `at`.
                Err(rustix::io::Errno::NXIO) => break,
                Err(_) => return None,
            };
            if data >= end {
                break;
            }
            let hole = seek(file, SeekFrom::Hole(data)).ok()?.min(end);
            if hole <= data {
                return None;
            }
            out.push((data.max(start), hole));
            at = hole;
        }
        Some(out)
    }
}

/// Most data extents [`MappedFile::data_extents`] lists for one range.
const MAX_EXTENTS: usize = 1 << 20;

const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];
const LZ4_MAGIC: &[u8] = &[0x04, 0x22, 0x4d, 0x18];
const BZIP2_MAGIC: &[u8] = b"BZh";

fn empty_file(path: &Path) -> CoreError {
    CoreError::NotElf {
        path: path.to_path_buf(),
        first_bytes: "(empty file)".into(),
    }
}

fn io_err<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(std::io::Error) -> CoreError + 'a {
    move |source| CoreError::Io {
        path: path.to_path_buf(),
        what,
        source,
    }
}

/// Opens `path`, decompressing it to a temporary file if its first bytes say
/// it is zstd, gzip or xz, and memory-maps the result.
pub(crate) fn open_mapped(path: &Path) -> Result<MappedFile, CoreError> {
    let meta = std::fs::metadata(path).map_err(io_err(path, "cannot open"))?;
    if !meta.is_file() && !meta.is_dir() {
        // Opening a FIFO blocks until a writer appears: refuse it first.
        // (A directory opens, and its read fails with a clear message.)
        return Err(io_err(path, "not a regular file")(std::io::Error::other(
            "a FIFO, socket or device; give the core or executable file",
        )));
    }
    let mut file = File::open(path).map_err(io_err(path, "cannot open"))?;
    let mut head = [0u8; 6];
    let got = read_up_to(&mut file, &mut head).map_err(io_err(path, "cannot read"))?;
    let head = head.get(..got).unwrap_or(&[]);
    let compression = if head.starts_with(ZSTD_MAGIC) {
        Compression::Zstd
    } else if head.starts_with(GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(XZ_MAGIC) {
        Compression::Xz
    } else if head.starts_with(LZ4_MAGIC) {
        return Err(CoreError::UnsupportedCompression {
            path: path.to_path_buf(),
            format: "lz4",
            hint: "lz4 -d FILE FILE.out",
        });
    } else if head.starts_with(BZIP2_MAGIC) {
        return Err(CoreError::UnsupportedCompression {
            path: path.to_path_buf(),
            format: "bzip2",
            hint: "bunzip2 -k FILE",
        });
    } else {
        Compression::None
    };
    // Re-open rather than seek: simplest way to start the stream from byte 0.
    let file = File::open(path).map_err(io_err(path, "cannot open"))?;
    let mapped_file = match compression {
        Compression::None => file,
        _ => decompress_to_temp(path, file, compression)?,
    };
    let len = mapped_file
        .metadata()
        .map_err(io_err(path, "cannot stat"))?
        .len();
    if len == 0 {
        return Err(empty_file(path));
    }
    // SAFETY: the map is read-only. If another process truncates the file
    // while we read it, accesses past the new end fault (SIGBUS); that is
    // the accepted contract of memory-mapping input files, and temporary
    // files are unnamed, so only a plain input file is exposed to it.
    let map = unsafe { Mmap::map(&mapped_file) }.map_err(io_err(path, "cannot memory-map"))?;
    Ok(MappedFile {
        map: FileBytes::Map(map),
        compression,
        file: Some(mapped_file),
    })
}

/// Like `read_exact` but returns how many bytes there were (short files).
fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let Some(rest) = buf.get_mut(filled..) else {
            break;
        };
        match file.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn decompress_to_temp(
    path: &Path,
    file: File,
    compression: Compression,
) -> Result<File, CoreError> {
    let temp_dir: PathBuf = std::env::temp_dir();
    let err = |source: std::io::Error| CoreError::Decompress {
        path: path.to_path_buf(),
        format: compression.name(),
        temp_dir: temp_dir.clone(),
        source,
    };
    let temp = tempfile::tempfile_in(&temp_dir).map_err(err)?;
    let input = std::io::BufReader::with_capacity(1 << 20, file);
    let mut temp = temp;
    match compression {
        Compression::Zstd => {
            let mut dec = zstd::stream::read::Decoder::with_buffer(input).map_err(err)?;
            // systemd-coredump and `zstd --long` write long-window frames.
            dec.window_log_max(31).map_err(err)?;
            copy_sparse(&mut dec, &mut temp)
        }
        Compression::Gzip => {
            copy_sparse(&mut flate2::bufread::MultiGzDecoder::new(input), &mut temp)
        }
        Compression::Xz => copy_sparse(
            &mut liblzma::bufread::XzDecoder::new_multi_decoder(input),
            &mut temp,
        ),
        Compression::None => Ok(0),
    }
    .map_err(err)?;
    Ok(temp)
}

/// Copies `reader` into `file`, seeking over all-zero blocks instead of
/// writing them: gdb's `gcore` writes gigabytes of zeros for reserved
/// ranges, and a sparse file costs neither disk nor time. Returns the
/// bytes copied (the file's length).
pub fn copy_sparse(reader: &mut dyn Read, file: &mut File) -> std::io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    const BLOCK: usize = 1 << 16;
    // Comparing against a zero block is a memcmp: fast even in debug builds.
    static ZEROS: [u8; BLOCK] = [0; BLOCK];
    let mut buf = vec![0u8; 1 << 20];
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut total: u64 = 0;
    let mut pending_hole: u64 = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for block in buf.get(..n).unwrap_or(&[]).chunks(BLOCK) {
            if ZEROS.get(..block.len()) == Some(block) {
                pending_hole += block.len() as u64;
            } else {
                if pending_hole > 0 {
                    let hole = i64::try_from(pending_hole).map_err(std::io::Error::other)?;
                    out.seek(SeekFrom::Current(hole))?;
                    pending_hole = 0;
                }
                out.write_all(block)?;
            }
            total += block.len() as u64;
        }
    }
    out.flush()?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    // A trailing hole still counts towards the length.
    file.set_len(total)?;
    Ok(total)
}
