//! The tract encoder on the real prepared model (`python3 scripts/prepare-model.py`).

use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;
use tamis_core::{cosine, Encoder};
use tamis_model::{EncoderOptions, ModelBundle, ModelError, TractEncoder};

fn bundle() -> &'static ModelBundle {
    ModelBundle::default_for_tests()
}

fn encoder() -> &'static TractEncoder {
    static ENCODER: OnceLock<TractEncoder> = OnceLock::new();
    ENCODER.get_or_init(|| TractEncoder::new(bundle()).expect("the default model loads"))
}

fn parity_sentences() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parity/sentences.txt");
    std::fs::read_to_string(path)
        .expect("sentences.txt")
        .lines()
        .map(str::to_string)
        .collect()
}

#[derive(Deserialize)]
struct Reference {
    model_sha256: String,
    sentences: Vec<ReferenceSentence>,
}

#[derive(Deserialize)]
struct ReferenceSentence {
    tokens: usize,
    truncated: bool,
    embedding: Vec<f32>,
}

#[test]
fn embeddings_match_onnxruntime_reference() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parity/reference.json");
    let reference: Reference =
        serde_json::from_slice(&std::fs::read(path).expect("reference.json")).expect("json");
    assert_eq!(
        reference.model_sha256,
        bundle().manifest.files["model.onnx"].sha256,
        "the reference was computed on another model file"
    );
    let sentences = parity_sentences();
    assert!(sentences.len() >= 64);
    assert_eq!(sentences.len(), reference.sentences.len());
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let embeddings = encoder().embed(&texts).expect("embed");
    for (index, (ours, theirs)) in embeddings.iter().zip(&reference.sentences).enumerate() {
        let similarity = cosine(&ours.vector, &theirs.embedding);
        assert!(
            similarity >= 0.9999,
            "sentence {index}: cosine {similarity}"
        );
        assert_eq!(ours.tokens, theirs.tokens, "sentence {index}: token count");
        assert_eq!(ours.truncated, theirs.truncated, "sentence {index}");
    }
    assert!(
        embeddings.iter().any(|e| e.truncated),
        "the fixture has a text longer than the window"
    );
}

/// tamis's ops work row by row and mask padding exactly: a text's embedding is the same bits
/// alone and padded in any batch (so threads may share a call's runs out as they like).
#[test]
fn a_text_alone_and_inside_a_padded_batch_embed_the_same_bits() {
    let sentences = parity_sentences();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    // One batch for everything: every text is padded to the longest (256 tokens).
    let one_batch = TractEncoder::with_options(
        bundle(),
        EncoderOptions {
            batch_size: texts.len(),
            max_extra_tokens: usize::MAX,
            max_run_tokens: usize::MAX,
            ..EncoderOptions::default()
        },
    )
    .expect("load");
    let batched = one_batch.embed(&texts).expect("embed");
    // As shipped: runs of similar length, those of long texts split to the token budget.
    let as_shipped = encoder().embed(&texts).expect("embed");
    for (index, text) in texts.iter().enumerate() {
        let alone = encoder().embed(&[text]).expect("embed").remove(0);
        for (how, other) in [("padded", &batched[index]), ("split", &as_shipped[index])] {
            assert!(
                alone.vector == other.vector,
                "text {index} {how}: cosine {}",
                cosine(&alone.vector, &other.vector)
            );
        }
    }
}

/// The largest difference between any coordinates of the embeddings two encoders give the
/// first 16 parity sentences.
fn largest_difference(a: EncoderOptions, b: EncoderOptions) -> f32 {
    let sentences = parity_sentences();
    let texts: Vec<&str> = sentences.iter().take(16).map(String::as_str).collect();
    let embed = |options| {
        TractEncoder::with_options(bundle(), options)
            .expect("load")
            .embed(&texts)
            .expect("embed")
    };
    embed(a)
        .iter()
        .zip(&embed(b))
        .flat_map(|(x, y)| x.vector.iter().zip(&y.vector).map(|(p, q)| (p - q).abs()))
        .fold(0f32, f32::max)
}

#[test]
fn dequantization_rewrite_leaves_the_output_unchanged() {
    let unfused = EncoderOptions {
        fuse_gelu: false,
        ..EncoderOptions::default()
    };
    let as_shipped = EncoderOptions {
        rewrite_dequantization: false,
        ..unfused
    };
    let difference = largest_difference(unfused, as_shipped);
    assert!(difference <= 1e-6, "difference {difference}");
}

#[test]
fn integer_products_differ_from_f32_ones_by_the_quantization_step() {
    let difference = largest_difference(EncoderOptions::default(), f32_products());
    eprintln!("integer vs f32 products: largest difference {difference}");
    // Activations round to 1/65534 of their row's largest: about 1e-4 on unit vectors.
    assert!(difference <= 3e-4, "difference {difference}");
}

/// The default options with tract's f32 products: rounding differences elsewhere then stay
/// tiny instead of moving an activation across an int16 rounding boundary.
fn f32_products() -> EncoderOptions {
    EncoderOptions {
        integer_matmul: false,
        ..EncoderOptions::default()
    }
}

#[test]
fn fused_gelu_differs_only_by_rounding() {
    let unfused = EncoderOptions {
        fuse_gelu: false,
        ..f32_products()
    };
    let difference = largest_difference(f32_products(), unfused);
    assert!(difference <= 1e-5, "difference {difference}");
}

#[test]
fn fused_attention_differs_only_by_rounding() {
    let unfused = EncoderOptions {
        fuse_attention: false,
        ..f32_products()
    };
    let difference = largest_difference(f32_products(), unfused);
    eprintln!("fused vs unfused attention: largest difference {difference}");
    assert!(difference <= 1e-5, "difference {difference}");
}

#[test]
fn empty_text_gets_the_special_tokens_embedding() {
    let embeddings = encoder().embed(&["", "", "hello"]).expect("embed");
    let empty = &embeddings[0];
    assert_eq!(empty.tokens, 2, "[CLS] [SEP]");
    assert!(!empty.truncated);
    let norm: f32 = empty.vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
    assert_eq!(empty.vector, embeddings[1].vector);
    assert!(cosine(&empty.vector, &embeddings[2].vector) < 0.99);
}

#[test]
fn no_texts_give_no_embeddings() {
    assert!(encoder().embed(&[]).expect("embed").is_empty());
}

#[test]
fn long_texts_are_truncated_and_flagged() {
    let long = "word ".repeat(1000);
    let embeddings = encoder().embed(&[&long, "short"]).expect("embed");
    assert!(embeddings[0].truncated);
    assert_eq!(embeddings[0].tokens, bundle().manifest.max_tokens);
    assert!(!embeddings[1].truncated);
}

#[test]
fn a_tokenizer_for_another_vocabulary_is_refused() {
    let tiny_tokenizer = br#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
        "normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,
        "model":{"type":"WordLevel","vocab":{"[UNK]":0,"hello":1,"world":2},"unk_token":"[UNK]"}}"#;
    let bundle = ModelBundle {
        tokenizer: Some(tiny_tokenizer.to_vec()),
        ..bundle().clone()
    };
    let err = TractEncoder::new(&bundle).err().expect("refused");
    assert!(
        matches!(
            err,
            ModelError::VocabularyMismatch {
                tokenizer: 3,
                model: 30522
            }
        ),
        "{err}"
    );
}

#[test]
fn malformed_model_bytes_are_an_error_not_a_panic() {
    let original = bundle();
    for bytes in [
        original.model[..original.model.len() / 2].to_vec(),
        b"not an onnx file".to_vec(),
        Vec::new(),
    ] {
        let bundle = ModelBundle {
            model: bytes,
            ..original.clone()
        };
        let err = TractEncoder::new(&bundle).err().expect("refused");
        assert!(
            matches!(
                err,
                ModelError::InvalidOnnx(_) | ModelError::UnsupportedModel(_)
            ),
            "{err}"
        );
    }
}

#[test]
fn a_transpose_with_an_axis_out_of_range_is_an_error_not_a_panic() {
    // Found by fuzzing (tests/fuzz, target bundle): this byte of the default model is an
    // axis of a Transpose's perm; 99 made tract's shape inference index out of bounds.
    let mut model = bundle().model.clone();
    model[8246] = 99;
    let bundle = ModelBundle {
        model,
        ..bundle().clone()
    };
    let err = TractEncoder::new(&bundle).err().expect("refused");
    assert!(
        matches!(&err, ModelError::InvalidOnnx(m) if m.contains("not a permutation")),
        "{err}"
    );
}

#[test]
fn a_corrupt_model_file_on_disk_fails_its_checksum() {
    let dir = std::env::temp_dir().join(format!("tamis-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for name in ["manifest.json", "tokenizer.json"] {
        std::fs::copy(
            ModelBundle::default_dir_for_tests().join(name),
            dir.join(name),
        )
        .expect("copy");
    }
    let mut model = bundle().model.clone();
    model[1000] ^= 0xff;
    std::fs::write(dir.join("model.onnx"), model).expect("write");
    let err = ModelBundle::read_dir(&dir).unwrap_err();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        matches!(err, ModelError::ChecksumMismatch { ref file, .. } if file == "model.onnx"),
        "{err}"
    );
    assert!(err.to_string().contains("scripts/prepare-model.py"));
}
