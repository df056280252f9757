//! Bytes → [`Profile`]: gzip detection, the size cap, protobuf decoding and
//! the resolution of every id and string index.

use crate::error::ProfileError;
use crate::model::{
    Function, Label, Line, Location, Mapping, NumLabel, Profile, Sample, SourceFormat, ValueType,
};
use crate::proto;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// The most profile data (after decompression) this crate reads: 1 GiB.
/// Real heap profiles are kilobytes to a few megabytes.
pub const MAX_PROFILE_BYTES: u64 = 1 << 30;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

pub(crate) fn read_path(path: &Path) -> Result<Profile, ProfileError> {
    let io_err = |source| ProfileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if meta.is_dir() {
        return Err(ProfileError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if !meta.is_file() {
        // Opening a FIFO blocks until a writer appears: refuse it first.
        return Err(io_err(std::io::Error::other(
            "not a regular file (a FIFO, socket or device)",
        )));
    }
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut data = Vec::new();
    file.take(MAX_PROFILE_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(io_err)?;
    if data.len() as u64 > MAX_PROFILE_BYTES {
        return Err(ProfileError::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_PROFILE_BYTES,
        });
    }
    decode_bytes(&data, path)
}

pub(crate) fn decode_bytes(data: &[u8], path: &Path) -> Result<Profile, ProfileError> {
    if data.is_empty() {
        return Err(ProfileError::Empty {
            path: path.to_path_buf(),
            after_gunzip: false,
        });
    }
    let gzipped = data.starts_with(&GZIP_MAGIC);
    let inflated;
    let bytes: &[u8] = if gzipped {
        inflated = gunzip(data, path)?;
        if inflated.is_empty() {
            return Err(ProfileError::Empty {
                path: path.to_path_buf(),
                after_gunzip: true,
            });
        }
        &inflated
    } else {
        data
    };

    if crate::legacy::is_legacy_heap(bytes) {
        let mut profile = crate::legacy::parse_heap(bytes, path)?;
        profile.format = Some(SourceFormat::LegacyText { gzipped });
        return Ok(profile);
    }
    let decoded = match <proto::Profile as prost::Message>::decode(bytes) {
        Ok(p) => p,
        Err(e) => return Err(protobuf_error(bytes, path, &e)),
    };
    let mut profile = resolve(decoded, path)?;
    profile.format = Some(SourceFormat::Protobuf { gzipped });
    Ok(profile)
}

/// Decompresses every gzip member (as Go's gzip reader does), at most
/// [`MAX_PROFILE_BYTES`].
fn gunzip(data: &[u8], path: &Path) -> Result<Vec<u8>, ProfileError> {
    let mut out = Vec::new();
    let decoder = flate2::read::MultiGzDecoder::new(data);
    match decoder.take(MAX_PROFILE_BYTES + 1).read_to_end(&mut out) {
        Ok(_) if out.len() as u64 > MAX_PROFILE_BYTES => Err(ProfileError::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_PROFILE_BYTES,
        }),
        Ok(_) => Ok(out),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(ProfileError::Truncated {
            path: path.to_path_buf(),
            what: "gzip stream ends early".to_string(),
        }),
        Err(source) => Err(ProfileError::Gzip {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Tells a text file that is no profile from protobuf that is cut short or
/// damaged.
fn protobuf_error(bytes: &[u8], path: &Path, err: &prost::DecodeError) -> ProfileError {
    let head = &bytes[..bytes.len().min(512)];
    let is_text = std::str::from_utf8(head).is_ok_and(|s| {
        s.chars()
            .all(|c| !c.is_control() || c.is_ascii_whitespace())
    });
    if is_text {
        let first_line: String = String::from_utf8_lossy(head)
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(60)
            .collect();
        return ProfileError::NotAProfile {
            path: path.to_path_buf(),
            detail: format!("text starting {first_line:?}"),
        };
    }
    let detail = err.to_string();
    let detail = detail
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&detail);
    if detail.contains("buffer underflow") || detail.contains("unexpected EOF") {
        return ProfileError::Truncated {
            path: path.to_path_buf(),
            what: format!("protobuf data ends early ({detail})"),
        };
    }
    ProfileError::Protobuf {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

/// String-table lookups that name the field on failure.
struct Strings<'a> {
    table: &'a [String],
    path: &'a Path,
}

impl Strings<'_> {
    fn get(&self, index: i64, field: &str) -> Result<String, ProfileError> {
        // Index 0 is "" by definition, even in a profile without strings.
        if index == 0 {
            return Ok(String::new());
        }
        usize::try_from(index)
            .ok()
            .and_then(|i| self.table.get(i))
            .cloned()
            .ok_or_else(|| ProfileError::Malformed {
                path: self.path.to_path_buf(),
                detail: format!(
                    "{field} refers to string {index}, but the string table has {} entries",
                    self.table.len()
                ),
            })
    }
}

/// Maps file ids to vector indices, refusing 0 and duplicates.
fn index_ids(
    ids: impl Iterator<Item = u64>,
    what: &str,
    path: &Path,
) -> Result<HashMap<u64, usize>, ProfileError> {
    let mut map = HashMap::new();
    for (i, id) in ids.enumerate() {
        if id == 0 {
            return Err(malformed(
                path,
                format!("{what} #{i} has the reserved id 0"),
            ));
        }
        if map.insert(id, i).is_some() {
            return Err(malformed(path, format!("two {what}s have id {id}")));
        }
    }
    Ok(map)
}

fn malformed(path: &Path, detail: String) -> ProfileError {
    ProfileError::Malformed {
        path: path.to_path_buf(),
        detail,
    }
}

fn value_type(v: &proto::ValueType, s: &Strings, field: &str) -> Result<ValueType, ProfileError> {
    Ok(ValueType {
        r#type: s.get(v.r#type, field)?,
        unit: s.get(v.unit, field)?,
    })
}

/// Checks every index of a decoded protobuf profile and builds the model.
fn resolve(p: proto::Profile, path: &Path) -> Result<Profile, ProfileError> {
    if let Some(first) = p.string_table.first() {
        if !first.is_empty() {
            return Err(malformed(path, "string_table[0] must be \"\"".to_string()));
        }
    }
    let s = Strings {
        table: &p.string_table,
        path,
    };

    let mapping_ids = index_ids(p.mapping.iter().map(|m| m.id), "mapping", path)?;
    let function_ids = index_ids(p.function.iter().map(|f| f.id), "function", path)?;
    let location_ids = index_ids(p.location.iter().map(|l| l.id), "location", path)?;

    let mut mappings = Vec::with_capacity(p.mapping.len());
    for m in &p.mapping {
        mappings.push(Mapping {
            id: m.id,
            start: m.memory_start,
            limit: m.memory_limit,
            offset: m.file_offset,
            filename: s.get(m.filename, "mapping filename")?,
            build_id: s.get(m.build_id, "mapping build_id")?,
            has_functions: m.has_functions,
            has_filenames: m.has_filenames,
            has_line_numbers: m.has_line_numbers,
            has_inline_frames: m.has_inline_frames,
        });
    }

    let mut functions = Vec::with_capacity(p.function.len());
    for f in &p.function {
        functions.push(Function {
            id: f.id,
            name: s.get(f.name, "function name")?,
            system_name: s.get(f.system_name, "function system_name")?,
            filename: s.get(f.filename, "function filename")?,
            start_line: f.start_line,
        });
    }

    let mut locations = Vec::with_capacity(p.location.len());
    for l in &p.location {
        let mapping = match l.mapping_id {
            0 => None,
            id => Some(*mapping_ids.get(&id).ok_or_else(|| {
                malformed(
                    path,
                    format!("location {} refers to missing mapping {id}", l.id),
                )
            })?),
        };
        let mut lines = Vec::with_capacity(l.line.len());
        for ln in &l.line {
            let function = *function_ids.get(&ln.function_id).ok_or_else(|| {
                malformed(
                    path,
                    format!(
                        "location {} has a line with missing function {}",
                        l.id, ln.function_id
                    ),
                )
            })?;
            lines.push(Line {
                function,
                line: ln.line,
                column: ln.column,
            });
        }
        locations.push(Location {
            id: l.id,
            mapping,
            address: l.address,
            lines,
            is_folded: l.is_folded,
        });
    }

    let mut sample_types = Vec::with_capacity(p.sample_type.len());
    for t in &p.sample_type {
        sample_types.push(value_type(t, &s, "sample_type")?);
    }
    if sample_types.is_empty() && !p.sample.is_empty() {
        return Err(malformed(path, "samples without sample types".to_string()));
    }

    let mut samples = Vec::with_capacity(p.sample.len());
    for (i, smp) in p.sample.iter().enumerate() {
        if smp.value.len() != sample_types.len() {
            return Err(malformed(
                path,
                format!(
                    "sample #{i} has {} values but the profile has {} sample types",
                    smp.value.len(),
                    sample_types.len()
                ),
            ));
        }
        let mut locs = Vec::with_capacity(smp.location_id.len());
        for id in &smp.location_id {
            locs.push(*location_ids.get(id).ok_or_else(|| {
                malformed(path, format!("sample #{i} refers to missing location {id}"))
            })?);
        }
        let mut labels = Vec::new();
        let mut num_labels = Vec::new();
        for lb in &smp.label {
            let key = s.get(lb.key, "label key")?;
            // As pprof: a string label wins; a label with neither a string
            // nor a number nor a unit carries nothing and is dropped.
            if lb.str != 0 {
                labels.push(Label {
                    key,
                    value: s.get(lb.str, "label str")?,
                });
            } else if lb.num != 0 || lb.num_unit != 0 {
                let unit = match lb.num_unit {
                    0 => None,
                    u => Some(s.get(u, "label num_unit")?),
                };
                num_labels.push(NumLabel {
                    key,
                    value: lb.num,
                    unit,
                });
            }
        }
        samples.push(Sample {
            locations: locs,
            values: smp.value.clone(),
            labels,
            num_labels,
        });
    }

    let period_type = match &p.period_type {
        Some(t) => Some(value_type(t, &s, "period_type")?),
        None => None,
    };
    let mut comments = Vec::with_capacity(p.comment.len());
    for &c in &p.comment {
        comments.push(s.get(c, "comment")?);
    }
    let default_sample_type =
        Some(s.get(p.default_sample_type, "default_sample_type")?).filter(|t| !t.is_empty());

    Ok(Profile {
        path: path.to_path_buf(),
        format: None,
        sample_types,
        default_sample_type,
        samples,
        locations,
        functions,
        mappings,
        period_type,
        period: p.period,
        time_nanos: p.time_nanos,
        duration_nanos: p.duration_nanos,
        comments,
        drop_frames: s.get(p.drop_frames, "drop_frames")?,
        keep_frames: s.get(p.keep_frames, "keep_frames")?,
        doc_url: s.get(p.doc_url, "doc_url")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn p() -> &'static Path {
        Path::new("x.pb")
    }

    fn tiny() -> proto::Profile {
        proto::Profile {
            sample_type: vec![proto::ValueType { r#type: 1, unit: 2 }],
            sample: vec![proto::Sample {
                location_id: vec![1],
                value: vec![7],
                label: vec![],
            }],
            location: vec![proto::Location {
                id: 1,
                mapping_id: 1,
                address: 0x1000,
                line: vec![proto::Line {
                    function_id: 1,
                    line: 3,
                    column: 0,
                }],
                is_folded: false,
            }],
            function: vec![proto::Function {
                id: 1,
                name: 3,
                system_name: 3,
                filename: 4,
                start_line: 1,
            }],
            mapping: vec![proto::Mapping {
                id: 1,
                memory_start: 0x1000,
                memory_limit: 0x2000,
                filename: 5,
                build_id: 6,
                ..Default::default()
            }],
            string_table: ["", "space", "bytes", "main.f", "f.go", "/bin/x", "abc"]
                .map(String::from)
                .to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn resolves_a_small_profile() {
        let prof = decode_bytes(&tiny().encode_to_vec(), p()).unwrap();
        assert_eq!(prof.sample_types[0].r#type, "space");
        let loc = &prof.locations[prof.samples[0].locations[0]];
        assert_eq!(prof.function(&loc.lines[0]).unwrap().name, "main.f");
        assert_eq!(prof.mapping(loc).unwrap().build_id, "abc");
        assert_eq!(prof.format, Some(SourceFormat::Protobuf { gzipped: false }));
    }

    #[test]
    fn dangling_references_are_errors() {
        let mut t = tiny();
        t.sample[0].location_id = vec![9];
        let e = decode_bytes(&t.encode_to_vec(), p())
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing location 9"), "{e}");

        let mut t = tiny();
        t.location[0].line[0].function_id = 0;
        assert!(matches!(
            decode_bytes(&t.encode_to_vec(), p()),
            Err(ProfileError::Malformed { .. })
        ));

        let mut t = tiny();
        t.location[0].mapping_id = 5;
        assert!(matches!(
            decode_bytes(&t.encode_to_vec(), p()),
            Err(ProfileError::Malformed { .. })
        ));

        let mut t = tiny();
        t.function[0].name = 99;
        let e = decode_bytes(&t.encode_to_vec(), p())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("x.pb: malformed profile: function name refers to string 99"),
            "{e}"
        );

        let mut t = tiny();
        t.sample[0].value = vec![1, 2];
        assert!(matches!(
            decode_bytes(&t.encode_to_vec(), p()),
            Err(ProfileError::Malformed { .. })
        ));

        let mut t = tiny();
        t.location.push(t.location[0].clone());
        assert!(matches!(
            decode_bytes(&t.encode_to_vec(), p()),
            Err(ProfileError::Malformed { .. })
        ));
    }

    #[test]
    fn truncated_and_garbage_inputs() {
        let bytes = tiny().encode_to_vec();
        for cut in 1..bytes.len() {
            // Never a panic; usually an error (some prefixes are valid protobuf).
            let _ = decode_bytes(&bytes[..cut], p());
        }
        let e = decode_bytes(&bytes[..bytes.len() - 3], p()).unwrap_err();
        assert!(
            matches!(
                e,
                ProfileError::Truncated { .. } | ProfileError::Malformed { .. }
            ),
            "{e}"
        );
        assert!(matches!(
            decode_bytes(b"", p()),
            Err(ProfileError::Empty { .. })
        ));
        assert!(matches!(
            decode_bytes(b"hello, this is not a profile\n", p()),
            Err(ProfileError::NotAProfile { .. })
        ));
        // gzip magic, then garbage.
        assert!(matches!(
            decode_bytes(&[0x1f, 0x8b, 1, 2, 3], p()),
            Err(ProfileError::Gzip { .. } | ProfileError::Truncated { .. })
        ));
    }

    #[test]
    fn gzip_is_transparent_and_truncation_is_named() {
        use std::io::Write;
        let raw = tiny().encode_to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&raw).unwrap();
        let gz = gz.finish().unwrap();
        let prof = decode_bytes(&gz, p()).unwrap();
        assert_eq!(prof.format, Some(SourceFormat::Protobuf { gzipped: true }));
        let e = decode_bytes(&gz[..gz.len() - 10], p()).unwrap_err();
        assert!(matches!(e, ProfileError::Truncated { .. }), "{e}");
    }
}
