//! JSON Lines: one record per line, chunks cut at newlines, each line decoded with the
//! shared extractor ([`super::json`]). Blank lines are skipped; a line that is not a JSON
//! object is malformed, with its line number.

use super::chunk::Chunk;
use super::json::{self, JsonPlan};
use super::records::Ctx;
use crate::model::{Item, Position};
use memchr::memchr;

/// Decode the lines of one chunk.
pub(crate) fn decode_chunk<F: FnMut(Item<'_>)>(
    plan: &JsonPlan,
    ctx: &Ctx,
    chunk: &Chunk,
    emit: &mut F,
) {
    for (pos, reason) in &chunk.notes {
        emit(ctx.malformed(pos.clone(), reason.clone()));
    }
    let data = &chunk.buf[chunk.start.min(chunk.buf.len())..];
    let mut line = chunk.first_line;
    let mut rest = data;
    while !rest.is_empty() {
        let (l, next) = match memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let t = l.trim_ascii();
        if !t.is_empty() {
            json::decode_record(plan, ctx, t, Position::Line(line), emit);
        }
        line += 1;
    }
}
