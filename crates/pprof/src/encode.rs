//! [`Profile`] → `profile.proto` bytes: the string table, ids and the gzip
//! wrapper `go tool pprof` expects, the inverse of [`crate::decode`].
//!
//! Ids are written as positions: location, function and mapping `i` of the
//! profile's vectors get id `i + 1` (the model's own `id` fields are not
//! used), so every reference the model holds as an index stays valid and
//! every id is unique and non-zero, as `profile.proto` requires.

use crate::model::{Profile, ValueType};
use crate::proto;
use prost::Message;
use std::collections::HashMap;
use std::io::Write;

/// The string table being built: `strings[0]` is `""`, each string once.
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Strings {
        let mut index = HashMap::new();
        index.insert(String::new(), 0);
        Strings {
            table: vec![String::new()],
            index,
        }
    }

    fn add(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }

    fn value_type(&mut self, t: &ValueType) -> proto::ValueType {
        proto::ValueType {
            r#type: self.add(&t.r#type),
            unit: self.add(&t.unit),
        }
    }
}

/// Id of the element at `index` of a profile vector.
fn id(index: usize) -> u64 {
    index as u64 + 1
}

/// The profile as raw (uncompressed) `profile.proto` bytes. The model's
/// indices must be in range (as [`Profile::from_bytes`] guarantees);
/// out-of-range ones are written as id 0 (which readers reject), never a
/// panic.
pub fn encode(profile: &Profile) -> Vec<u8> {
    let mut s = Strings::new();
    let in_range = |i: usize, len: usize| if i < len { id(i) } else { 0 };
    let sample_type = profile
        .sample_types
        .iter()
        .map(|t| s.value_type(t))
        .collect();
    let sample = profile
        .samples
        .iter()
        .map(|x| {
            let mut label: Vec<proto::Label> = x
                .labels
                .iter()
                .map(|l| proto::Label {
                    key: s.add(&l.key),
                    str: s.add(&l.value),
                    num: 0,
                    num_unit: 0,
                })
                .collect();
            label.extend(x.num_labels.iter().map(|l| proto::Label {
                key: s.add(&l.key),
                str: 0,
                num: l.value,
                num_unit: l.unit.as_deref().map_or(0, |u| s.add(u)),
            }));
            proto::Sample {
                location_id: x
                    .locations
                    .iter()
                    .map(|&i| in_range(i, profile.locations.len()))
                    .collect(),
                value: x.values.clone(),
                label,
            }
        })
        .collect();
    let mapping = profile
        .mappings
        .iter()
        .enumerate()
        .map(|(i, m)| proto::Mapping {
            id: id(i),
            memory_start: m.start,
            memory_limit: m.limit,
            file_offset: m.offset,
            filename: s.add(&m.filename),
            build_id: s.add(&m.build_id),
            has_functions: m.has_functions,
            has_filenames: m.has_filenames,
            has_line_numbers: m.has_line_numbers,
            has_inline_frames: m.has_inline_frames,
        })
        .collect();
    let location = profile
        .locations
        .iter()
        .enumerate()
        .map(|(i, l)| proto::Location {
            id: id(i),
            mapping_id: l.mapping.map_or(0, |m| in_range(m, profile.mappings.len())),
            address: l.address,
            line: l
                .lines
                .iter()
                .map(|line| proto::Line {
                    function_id: in_range(line.function, profile.functions.len()),
                    line: line.line,
                    column: line.column,
                })
                .collect(),
            is_folded: l.is_folded,
        })
        .collect();
    let function = profile
        .functions
        .iter()
        .enumerate()
        .map(|(i, f)| proto::Function {
            id: id(i),
            name: s.add(&f.name),
            system_name: s.add(&f.system_name),
            filename: s.add(&f.filename),
            start_line: f.start_line,
        })
        .collect();
    let period_type = profile.period_type.as_ref().map(|t| s.value_type(t));
    let comment = profile.comments.iter().map(|c| s.add(c)).collect();
    let default_sample_type = profile
        .default_sample_type
        .as_deref()
        .map_or(0, |t| s.add(t));
    let drop_frames = s.add(&profile.drop_frames);
    let keep_frames = s.add(&profile.keep_frames);
    let doc_url = s.add(&profile.doc_url);
    let p = proto::Profile {
        sample_type,
        sample,
        mapping,
        location,
        function,
        string_table: s.table,
        drop_frames,
        keep_frames,
        time_nanos: profile.time_nanos,
        duration_nanos: profile.duration_nanos,
        period_type,
        period: profile.period,
        comment,
        default_sample_type,
        doc_url,
    };
    p.encode_to_vec()
}

/// The profile as a gzip-compressed `profile.proto` (the `.pb.gz` that
/// `go tool pprof` and every pprof reader take).
pub fn encode_gzip(profile: &Profile) -> std::io::Result<Vec<u8>> {
    let raw = encode(profile);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw)?;
    gz.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Function, Label, Line, Location, NumLabel, Sample};

    #[test]
    fn round_trips_through_the_decoder() {
        let p = Profile {
            path: "p".into(),
            sample_types: vec![
                ValueType {
                    r#type: "retained_objects".into(),
                    unit: "count".into(),
                },
                ValueType {
                    r#type: "retained_space".into(),
                    unit: "bytes".into(),
                },
            ],
            default_sample_type: Some("retained_space".into()),
            samples: vec![Sample {
                locations: vec![1, 0],
                values: vec![3, 4096],
                labels: vec![Label {
                    key: "kind".into(),
                    value: "map".into(),
                }],
                num_labels: vec![NumLabel {
                    key: "len".into(),
                    value: 7,
                    unit: Some("count".into()),
                }],
            }],
            locations: (0..2)
                .map(|i| Location {
                    id: 99,
                    lines: vec![Line {
                        function: i,
                        line: 1,
                        column: 0,
                    }],
                    ..Location::default()
                })
                .collect(),
            functions: ["main.m", "map[string]int"]
                .iter()
                .map(|n| Function {
                    name: n.to_string(),
                    system_name: n.to_string(),
                    ..Function::default()
                })
                .collect(),
            comments: vec!["hello".into()],
            ..Profile::default()
        };
        let gz = encode_gzip(&p).unwrap();
        let back = Profile::from_bytes(&gz, "p".as_ref()).unwrap();
        assert_eq!(back.sample_types, p.sample_types);
        assert_eq!(back.default_sample_type.as_deref(), Some("retained_space"));
        assert_eq!(back.samples, p.samples);
        assert_eq!(back.comments, p.comments);
        let names: Vec<&str> = back
            .stack(&back.samples[0])
            .map(|l| back.functions[l.lines[0].function].name.as_str())
            .collect();
        assert_eq!(names, ["map[string]int", "main.m"]);
        // Ids are positions.
        assert_eq!(back.locations[1].id, 2);
    }
}
