//! Text normalization and lexical features on arbitrary text: no panic, finite features.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tamis_core::classify::{lexical_features, normalize_text};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let normalized = normalize_text(&text);
    let features = lexical_features(&normalized);
    assert!(features.values.iter().all(|v| v.is_finite()));
});
