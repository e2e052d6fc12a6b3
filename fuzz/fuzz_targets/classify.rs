//! Classify arbitrary text in every context: never a panic, evidence inside the text, and
//! the same diagnosis whether the thread kept the verdict of the text's template or not.
#![no_main]

use flowdx::classify::{Classifier, MsgContext};
use flowdx::model::Context;
use std::sync::OnceLock;

static CLASSIFIER: OnceLock<Classifier> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let c = CLASSIFIER.get_or_init(Classifier::builtin);
    let text = String::from_utf8_lossy(data);
    for context in [
        Context::Run,
        Context::ConnectionCreation,
        Context::ConnectionStatus,
        Context::SignIn,
    ] {
        let ctx = MsgContext {
            context,
            host: None,
        };
        let d = c.classify(&text, ctx);
        assert_eq!(d, c.classify_uncached(&text, ctx));
        let _ = d.evidence(&text);
        let _ = c.note(&d);
        let _ = c.explain(&text, ctx);
    }
});
