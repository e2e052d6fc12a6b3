//! Decode arbitrary bytes as Json (the kind chosen by the first byte): never a panic.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::decode(Some(flowdx::model::InputFormat::Json), data);
});
