//! Classification throughput on a mix of 20 realistic failure messages
//! (`benches/messages.txt`: wrappers, token-refresh texts with embedded OAuth JSON, bare
//! Entra wordings, throttling, outages, flow-logic errors), in messages per second.
//!
//! `classify/mix` and `classify/mix-bytes` classify each message as if never seen
//! (`classify_uncached`); `classify/mix-kept` is the path of a message whose template the
//! thread has already classified (the common case in a run history, where a failure recurs
//! with other ids and times).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flowdx::classify::{Classifier, MsgContext, signature};
use std::hint::black_box;

fn messages() -> Vec<&'static str> {
    include_str!("messages.txt").lines().collect()
}

fn classify_mix(c: &mut Criterion) {
    let classifier = Classifier::builtin();
    let msgs = messages();
    let bytes: usize = msgs.iter().map(|m| m.len()).sum();
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.bench_function("mix", |b| {
        b.iter(|| {
            for m in &msgs {
                black_box(classifier.classify_uncached(black_box(m), MsgContext::default()));
            }
        })
    });
    g.bench_function("mix-kept", |b| {
        b.iter(|| {
            for m in &msgs {
                black_box(classifier.classify(black_box(m), MsgContext::default()));
            }
        })
    });
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("mix-bytes", |b| {
        b.iter(|| {
            for m in &msgs {
                black_box(classifier.classify_uncached(black_box(m), MsgContext::default()));
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("signature");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.bench_function("mix", |b| {
        b.iter(|| {
            for m in &msgs {
                black_box(signature(black_box(m)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, classify_mix);
criterion_main!(benches);
