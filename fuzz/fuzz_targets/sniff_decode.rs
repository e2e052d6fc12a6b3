//! Sniff arbitrary bytes (gzip, UTF-16, any format, any kind) and decode what is accepted.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::decode(None, data);
});
