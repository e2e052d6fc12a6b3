//! JSON Lines: one record per line, chunks cut at newlines, each line decoded with the
//! shared extractor ([`super::json`]). Blank lines are skipped; a line that is not a JSON
//! object is malformed, with its line number.

use super::chunk::{self, Chunk, Limits, LineCutter, Start};
use super::json::{self, JsonPlan};
use super::records::Ctx;
use crate::model::{Item, Position};
use memchr::memchr;
use std::io::Read;

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

/// Decode JSON Lines in parallel.
pub(crate) fn fold<A, I, F>(
    reader: Box<dyn Read + Send>,
    plan: &JsonPlan,
    ctx: &Ctx,
    limits: Limits,
    workers: usize,
    init: &I,
    fold: &F,
) -> Vec<A>
where
    A: Send,
    I: Fn() -> A + Sync,
    F: Fn(&mut A, Item<'_>) + Sync,
{
    chunk::run(
        move |tx, recycle| {
            let start = Start {
                buf: Vec::new(),
                line: 1,
                offset: 0,
            };
            chunk::read_chunks(
                reader,
                start,
                Box::new(LineCutter::new(false)),
                limits,
                tx,
                recycle,
            )
        },
        workers,
        init,
        &|acc: &mut A, chunk: &Chunk| decode_chunk(plan, ctx, chunk, &mut |item| fold(acc, item)),
    )
}
