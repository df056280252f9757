//! Parses a `GOTRACEBACK=crash` traceback (the runtime's own stderr at the
//! abort) into goroutines and their physical frames with pc/sp/fp: the
//! independent truth the unwinder tests compare against. Shared by
//! `pclntab.rs` (committed fixtures) and `pclntab_samples.rs` (shipped
//! samples).

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim().trim_start_matches("0x"), 16)
        .unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

/// One physical frame of the traceback and its logical frames (function,
/// file, line), innermost first.
#[derive(Debug, Default)]
pub struct TruthFrame {
    pub pc: u64,
    pub sp: u64,
    pub fp: u64,
    pub offset: u64,
    pub logical: Vec<(String, String, u32)>,
}

/// Goroutines of a crash traceback: header line and physical frames.
pub fn parse_traceback(text: &str) -> Vec<(String, Vec<TruthFrame>)> {
    let mut goroutines: Vec<(String, Vec<TruthFrame>)> = Vec::new();
    let mut pending = Vec::new();
    let mut function: Option<String> = None;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("goroutine ") {
            goroutines.push((line.to_string(), Vec::new()));
            pending.clear();
        } else if line.starts_with("created by ") {
            lines.next();
        } else if let Some(pos) = line.strip_prefix('\t') {
            let Some(name) = function.take() else {
                continue;
            };
            let mut parts = pos.split(' ');
            let (file, line_no) = parts.next().unwrap().rsplit_once(':').unwrap();
            pending.push((name, file.to_string(), line_no.parse().unwrap()));
            let rest: Vec<&str> = parts.collect();
            if rest.is_empty() {
                continue;
            }
            let field = |key: &str| {
                rest.iter()
                    .find_map(|p| p.strip_prefix(key))
                    .map(hex)
                    .unwrap()
            };
            let frame = TruthFrame {
                pc: field("pc="),
                sp: field("sp="),
                fp: field("fp="),
                offset: hex(rest[0].trim_start_matches('+')),
                logical: std::mem::take(&mut pending),
            };
            if let Some((_, frames)) = goroutines.last_mut() {
                frames.push(frame);
            }
        } else if !goroutines.is_empty() && line.ends_with(')') {
            let name = &line[..line.rfind('(').unwrap()];
            let name = if name == "panic" {
                "runtime.gopanic"
            } else {
                name
            };
            function = Some(name.to_string());
        }
    }
    goroutines
}
