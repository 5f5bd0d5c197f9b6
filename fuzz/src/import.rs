//! The import line parser: `memory import` reading a file, without the store.
//!
//! The input is the file. Its lines go to an [`Importer`] exactly as
//! `SelfLearningMemory::import` feeds them (numbered from 1, split as `BufRead::lines` splits
//! them, stopping at the first line that is not UTF-8 or that the importer refuses), and
//! `finish` ends a file read to its end. Then the same lines once more, followed by the
//! trailer that [`trailer_for`] computes for them, so that mutated files also get past the
//! trailer's checksum to the checks that follow it (held-back edges, cycles).

use memory_core::Limits;
use memory_core::export::{ExportRecord, Importer, trailer_for};
use std::io::BufRead as _;

/// Runs the importer over `data`'s lines, then over them with their trailer appended.
pub fn run(data: &[u8]) {
    let mut lines = Vec::new();
    let mut whole = true;
    for line in data.lines() {
        match line {
            Ok(line) => lines.push(line),
            // Not UTF-8: the import stops there with an error naming the line.
            Err(_) => {
                whole = false;
                break;
            }
        }
    }
    import(lines.iter().map(String::as_str), whole);
    if !whole {
        return;
    }
    match trailer_for(lines.iter().map(String::as_str)) {
        Ok(trailer) => {
            let Ok(last) = serde_json::to_string(&ExportRecord::Trailer(trailer)) else {
                return;
            };
            import(
                lines
                    .iter()
                    .map(String::as_str)
                    .chain(std::iter::once(&*last)),
                true,
            );
        }
        Err(e) => drop(e.to_string()),
    }
}

/// One import of `lines`: every line until one is refused, then `finish` if the file was
/// read to its end.
fn import<'a>(lines: impl Iterator<Item = &'a str>, whole: bool) {
    let mut importer = Importer::new(Limits::default());
    let mut records = 0;
    for (i, line) in lines.enumerate() {
        match importer.push(i + 1, line) {
            Ok(Some(batch)) => records += batch.len(),
            Ok(None) => {}
            Err(e) => {
                drop(e.to_string());
                return;
            }
        }
    }
    if whole {
        match importer.finish() {
            Ok(batch) => records += batch.len(),
            Err(e) => drop(e.to_string()),
        }
    }
    std::hint::black_box(records);
}
