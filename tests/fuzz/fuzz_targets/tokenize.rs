//! The default model's tokenizer on arbitrary bytes (as text): never more tokens than the
//! window. Needs the prepared bundle (scripts/setup.sh).
#![no_main]
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tamis_model::TextTokenizer;

static TOKENIZER: LazyLock<TextTokenizer> = LazyLock::new(|| {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/minilm-l6-int8/tokenizer.json"
    ))
    .expect("the model bundle: run scripts/setup.sh");
    TextTokenizer::from_bytes(&bytes, 256).expect("the bundle's tokenizer")
});

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(tokenized) = TOKENIZER.tokenize(&[&text]) {
        assert!(tokenized.iter().all(|t| t.ids.len() <= 256));
    }
});
