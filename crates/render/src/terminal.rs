//! The terminal rendering of a [`Document`]: comfy-table tables, text as is.
//!
//! Owns: fitting a width. With a width (a terminal, or `MAPSCOPE_COLUMNS`)
//! no line is wider than it: tables use comfy-table's dynamic arrangement
//! after Go identifiers and paths too wide for their share are elided in
//! the middle (`github.com/x/…/pkg.Func`), prose wraps at spaces, a
//! preformatted line too wide is elided in the middle. Without a width
//! (piped output) nothing is wrapped or elided. [`Block::Exact`] text is
//! never touched.

use crate::{Align, Block, Cell, Document, Kind, Table, Text};
use std::fmt::Write as _;

/// The narrowest an elided identifier or path gets.
const MIN_ELIDED: usize = 12;

/// The width a prose column (a message, a detail) is assumed to wrap to
/// at least, when identifiers are elided to make room.
const MIN_PROSE: usize = 20;

pub(crate) fn render(doc: &Document, width: Option<usize>) -> String {
    let mut out = String::new();
    for (i, block) in doc.blocks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match block {
            Block::Heading(t) | Block::Paragraph(t) => {
                push_wrapped(&mut out, t, "", "", width);
            }
            Block::Preformatted(p) => {
                for line in p.lines() {
                    let line = match width {
                        Some(w) if display_width(line) > w => elide_line(line, w),
                        _ => line.to_string(),
                    };
                    let _ = writeln!(out, "{line}");
                }
            }
            Block::Exact(p) => {
                out.push_str(p);
                if !p.ends_with('\n') {
                    out.push('\n');
                }
            }
            Block::List(items) => {
                for item in items {
                    push_wrapped(&mut out, item, "  - ", "    ", width);
                }
            }
            Block::Table(t) => {
                if let Some(title) = &t.title {
                    push_wrapped(&mut out, &Text::from(title.as_str()), "", "", width);
                }
                match width {
                    Some(w) => {
                        let (fitted, left_out) = drop_optional(t, w);
                        let _ = writeln!(out, "{}", table(&fitted, width));
                        if !left_out.is_empty() {
                            let note = format!(
                                "(left out to fit {w} columns: {}; a wider terminal or another --format shows them)",
                                left_out.join(", ")
                            );
                            push_wrapped(&mut out, &Text::from(note), "", "", width);
                        }
                    }
                    None => {
                        let _ = writeln!(out, "{}", table(t, width));
                    }
                }
            }
        }
    }
    out
}

/// Columns a line takes: tabs to the next multiple of 8, every other
/// character one (identifiers and paths are ASCII; `…`, `·`, `×` are
/// narrow).
pub(crate) fn display_width(s: &str) -> usize {
    let mut w = 0;
    for c in s.chars() {
        if c == '\t' {
            w = (w / 8 + 1) * 8;
        } else {
            w += 1;
        }
    }
    w
}

/// `s` shortened to `max` characters by replacing its middle with `…`
/// (`s` as is when it fits).
pub(crate) fn elide_middle(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max || max == 0 {
        return s.to_string();
    }
    if max == 1 {
        return "…".to_string();
    }
    let keep = max - 1;
    // Keep more of the end: a function's, field's or file's name.
    let head = keep / 3;
    let tail = keep - head;
    let start: String = s.chars().take(head).collect();
    let end: String = s.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

/// A preformatted line elided to `width` columns, its leading tabs kept.
fn elide_line(line: &str, width: usize) -> String {
    let body = line.trim_start_matches('\t');
    let tabs = line.len() - body.len();
    let indent = tabs * 8;
    if indent + MIN_ELIDED > width {
        return elide_middle(&line.replace('\t', "        "), width);
    }
    format!("{}{}", &line[..tabs], elide_middle(body, width - indent))
}

/// Writes `text` with `first` before its first line and `rest` before the
/// others, wrapped at spaces to `width` (a word wider than a line elided
/// in the middle).
fn push_wrapped(out: &mut String, text: &Text, first: &str, rest: &str, width: Option<usize>) {
    let Some(width) = width else {
        let _ = writeln!(out, "{first}{text}");
        return;
    };
    for (i, paragraph_line) in text.lines().enumerate() {
        let mut line = String::from(if i == 0 { first } else { rest });
        let mut empty = true;
        for word in paragraph_line.split(' ').filter(|w| !w.is_empty()) {
            let room = width.saturating_sub(display_width(rest)).max(MIN_ELIDED);
            let word = elide_middle(word, room);
            let needed = display_width(&line) + usize::from(!empty) + display_width(&word);
            if !empty && needed > width {
                let _ = writeln!(out, "{line}");
                line = rest.to_string();
                empty = true;
            }
            if !empty {
                line.push(' ');
            }
            line.push_str(&word);
            empty = false;
        }
        let _ = writeln!(out, "{line}");
    }
}

/// Columns a table takes beyond its cells with the borders-only preset:
/// the two borders and, per column, one space of padding each side and
/// one (blank) separator.
fn overhead(columns: usize) -> usize {
    1 + 3 * columns
}

/// Whether column `i` holds prose: text of several words, which wraps
/// well (an address range or a single token does not).
fn is_prose(t: &Table, i: usize) -> bool {
    t.rows
        .iter()
        .filter_map(|r| r.get(i))
        .any(|c| c.kind() == Kind::Text && c.trim().contains(' '))
}

fn elidable(c: &Cell) -> bool {
    matches!(c.kind(), Kind::Code | Kind::Path)
}

/// The width column `i` takes when its identifiers and paths are capped
/// at `cap` characters.
fn column_width(t: &Table, i: usize, cap: usize) -> usize {
    let header = t.columns.get(i).map_or(0, |c| display_width(&c.name));
    t.rows
        .iter()
        .filter_map(|r| r.get(i))
        .filter(|c| c.kind() != Kind::Note)
        .map(|c| {
            let w = display_width(c);
            if elidable(c) {
                w.min(cap)
            } else {
                w
            }
        })
        .fold(header, usize::max)
}

/// Caps per column for identifiers and paths so the table fits `width`:
/// the widest elidable column shrinks first, none below [`MIN_ELIDED`];
/// a column its text cells or header hold wide stops shrinking. What is
/// still too wide wraps ([`layout`]).
fn caps(t: &Table, width: usize) -> (Vec<usize>, bool) {
    let n = t.columns.len();
    let mut caps = vec![usize::MAX; n];
    let mut widths: Vec<usize> = (0..n).map(|i| column_width(t, i, usize::MAX)).collect();
    let mut active: Vec<bool> = (0..n)
        .map(|i| t.rows.iter().filter_map(|r| r.get(i)).any(elidable))
        .collect();
    let budget = width.saturating_sub(overhead(n));
    // Prose columns wrap: count each as at most an equal share, so
    // identifiers are not elided for room a message takes anyway.
    let share = (budget / n.max(1)).max(MIN_PROSE);
    let prose: Vec<bool> = (0..n).map(|i| !active[i] && is_prose(t, i)).collect();
    let total = |widths: &[usize]| -> usize {
        widths
            .iter()
            .zip(&prose)
            .map(|(&w, &p)| if p { w.min(share) } else { w })
            .sum()
    };
    // Bounded: every round lowers a width by one or retires a column.
    while total(&widths) > budget {
        let widest = (0..n)
            .filter(|&i| active[i] && widths[i] > MIN_ELIDED)
            .max_by_key(|&i| widths[i]);
        let Some(i) = widest else {
            break;
        };
        let next = (widths[i] - 1).max(MIN_ELIDED);
        let w = column_width(t, i, next);
        if w >= widths[i] {
            active[i] = false;
            continue;
        }
        caps[i] = next;
        widths[i] = w;
    }
    let fits = total(&widths) <= budget;
    (caps, fits)
}

/// `t` without the optional columns a terminal of `width` has no room
/// for (the rightmost first), and the names of those left out.
fn drop_optional(t: &Table, width: usize) -> (Table, Vec<String>) {
    let mut keep = vec![true; t.columns.len()];
    let mut fitted = t.clone();
    let mut left_out = Vec::new();
    // Bounded: every round drops one column.
    while !caps(&fitted, width).1 {
        let Some(i) = (0..keep.len())
            .rev()
            .find(|&i| keep[i] && t.columns.get(i).is_some_and(|c| c.optional))
        else {
            break;
        };
        keep[i] = false;
        if let Some(c) = t.columns.get(i) {
            left_out.insert(0, c.name.clone());
        }
        fitted = Table {
            columns: t
                .columns
                .iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(c, _)| c.clone())
                .collect(),
            rows: t
                .rows
                .iter()
                .map(|r| {
                    r.iter()
                        .zip(&keep)
                        .filter(|(_, k)| **k)
                        .map(|(c, _)| c.clone())
                        .collect()
                })
                .collect(),
            ..t.clone()
        };
    }
    (fitted, left_out)
}

/// The content width of every column so the table fits `width`:
/// identifiers and paths elided to their [`caps`], other short columns as
/// wide as their content, and the room left shared among the columns
/// that wrap (those wider than their share), in proportion to their
/// content.
fn layout(t: &Table, width: usize, caps: &[usize]) -> Vec<usize> {
    let n = t.columns.len();
    let mut widths: Vec<usize> = (0..n)
        .map(|i| column_width(t, i, caps.get(i).copied().unwrap_or(usize::MAX)))
        .collect();
    let budget = width.saturating_sub(overhead(n));
    if widths.iter().sum::<usize>() <= budget {
        return widths;
    }
    let share = (budget / n.max(1)).max(MIN_PROSE);
    let wraps: Vec<bool> = (0..n)
        .map(|i| caps.get(i) == Some(&usize::MAX) && widths[i] > share && is_prose(t, i))
        .collect();
    let fixed: usize = (0..n).filter(|&i| !wraps[i]).map(|i| widths[i]).sum();
    let natural: usize = (0..n).filter(|&i| wraps[i]).map(|i| widths[i]).sum();
    let room = budget.saturating_sub(fixed);
    let wrapping = wraps.iter().filter(|&&w| w).count();
    let mut left = room;
    let mut last = None;
    for i in (0..n).filter(|&i| wraps[i]) {
        let w = (room * widths[i] / natural.max(1)).clamp(1, widths[i]);
        widths[i] = w;
        left = left.saturating_sub(w);
        last = Some(i);
    }
    // Rounding leftovers go to the last wrapping column.
    if let Some(i) = last.filter(|_| wrapping > 0) {
        widths[i] += left;
    }
    // Still too wide (many short columns): the widest gives way, one
    // column at a time, down to [`MIN_SQUEEZED`]. Bounded: every round
    // lowers a width by one.
    while widths.iter().sum::<usize>() > budget {
        let Some(i) = (0..n)
            .filter(|&i| widths[i] > MIN_SQUEEZED)
            .max_by_key(|&i| widths[i])
        else {
            break;
        };
        widths[i] -= 1;
    }
    widths
}

/// The narrowest a column gets when nothing else gives way.
const MIN_SQUEEZED: usize = 4;

fn table(t: &Table, width: Option<usize>) -> comfy_table::Table {
    use comfy_table::{
        presets, CellAlignment, ColumnConstraint, ContentArrangement, Width as ComfyWidth,
    };
    let mut ct = comfy_table::Table::new();
    ct.load_preset(presets::UTF8_BORDERS_ONLY)
        .set_header(t.columns.iter().map(|c| c.name.clone()));
    let (caps, widths) = match width {
        Some(w) => {
            ct.set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(u16::try_from(w).unwrap_or(u16::MAX));
            let (caps, _) = caps(t, w);
            let widths = layout(t, w, &caps);
            (caps, Some(widths))
        }
        None => {
            ct.set_content_arrangement(ContentArrangement::Disabled)
                .force_no_tty();
            (vec![usize::MAX; t.columns.len()], None)
        }
    };
    for row in &t.rows {
        ct.add_row(row.iter().enumerate().map(|(i, c)| {
            let mut cap = caps.get(i).copied().unwrap_or(usize::MAX);
            if let Some(&w) = widths.as_ref().and_then(|w| w.get(i)) {
                cap = cap.min(w);
            }
            if elidable(c) {
                elide_middle(c, cap)
            } else {
                c.to_string()
            }
        }));
    }
    for (idx, col) in t.columns.iter().enumerate() {
        if let Some(c) = ct.column_mut(idx) {
            // Every column gets exactly its width of the layout (with its
            // padding); comfy-table only wraps the cells within it.
            if let Some(w) = widths.as_ref().and_then(|w| w.get(idx)) {
                let w = u16::try_from(w + 2).unwrap_or(u16::MAX);
                c.set_constraint(ColumnConstraint::Absolute(ComfyWidth::Fixed(w)));
            }
            c.set_cell_alignment(match col.align {
                Align::Left => CellAlignment::Left,
                Align::Right => CellAlignment::Right,
            });
        }
    }
    ct
}
