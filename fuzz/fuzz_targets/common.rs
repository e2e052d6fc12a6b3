//! Shared by the decoding targets: decode a buffer and check that nothing is lost.

use flowdx::ingest::{IngestOptions, Overrides, fold_bytes};
use flowdx::model::{InputFormat, InputKind, Item};

/// Decode `data`, with the format forced when given and the kind chosen by the first byte
/// (so every kind's table is exercised even when the bytes would sniff as none).
pub fn decode(format: Option<InputFormat>, data: &[u8]) {
    let (kind, body) = match (format, data.split_first()) {
        (Some(_), Some((&k, rest))) => {
            let kinds = InputKind::ALL;
            (Some(kinds[k as usize % kinds.len()]), rest)
        }
        _ => (None, data),
    };
    let ov = Overrides {
        kind,
        format,
        ..Default::default()
    };
    // Small chunks and a small record limit so chunk boundaries and the limit are hit.
    let opts = IngestOptions {
        chunk_size: 256,
        max_record: 4096,
        workers: 2,
        ..Default::default()
    };
    let counted = fold_bytes(
        "fuzz.input",
        body,
        &ov,
        &opts,
        || (0u64, 0u64),
        |acc: &mut (u64, u64), item: Item<'_>| {
            acc.0 += 1;
            if let Item::Malformed(m) = item {
                assert!(!m.reason.is_empty(), "a malformed record without a reason");
                acc.1 += 1;
            }
        },
    );
    if let Ok((_, accs)) = counted {
        let total: u64 = accs.iter().map(|a| a.0).sum();
        let bad: u64 = accs.iter().map(|a| a.1).sum();
        assert!(bad <= total);
    }
}
