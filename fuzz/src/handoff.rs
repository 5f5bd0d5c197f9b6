//! The hand-off pack parser: `memory resume PACK.json` up to the write.
//!
//! The input is the pack file. It is read as `memory resume` reads it (UTF-8 text, then
//! `serde_json` into a [`HandoffPack`]); a pack that parses goes through [`resume_batch`],
//! everything `SelfLearningMemory::resume` does before it stores the new episode, in the
//! pack's own namespace and in another one. A pack that parses must also survive being
//! written back and read again unchanged, as `memory handoff --out` writes it.

#![allow(clippy::expect_used)]

use chrono::{DateTime, Utc};
use memory_core::Limits;
use memory_core::handoff::{HandoffPack, resume_batch};

/// Parses `data` as a hand-off pack and checks what resuming it would store.
pub fn run(data: &[u8]) {
    // `memory resume` reads the file into a `String`: not UTF-8 is an error there.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let pack: HandoffPack = match serde_json::from_str(text) {
        Ok(pack) => pack,
        Err(e) => return drop(e.to_string()),
    };
    let limits = Limits::default();
    let now = DateTime::<Utc>::UNIX_EPOCH;
    for namespace in [pack.namespace.as_str(), "default"] {
        match resume_batch(&limits, namespace, &pack, now) {
            Ok((id, batch)) => {
                assert_eq!(batch.episodes.len(), 1, "one new episode");
                assert_eq!(batch.episodes[0].id, id);
                assert_eq!(batch.relationships.len(), 1, "one `follows` edge");
                assert_eq!(batch.relationships[0].to, pack.episode_id);
            }
            Err(e) => drop(e.to_string()),
        }
    }
    let written = serde_json::to_string_pretty(&pack).expect("a pack that parsed is written");
    let back: HandoffPack =
        serde_json::from_str(&written).expect("a pack written as JSON is read back");
    assert_eq!(back, pack, "a pack changed when written and read back");
}
