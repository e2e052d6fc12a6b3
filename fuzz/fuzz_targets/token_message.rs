//! Parse arbitrary text as a token-refresh failure message: never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = flowdx::classify::parse_token_message(&text);
});
