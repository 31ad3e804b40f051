//! `CpuEncoder` runs each bundle with the encoder its architecture needs.

use std::num::NonZeroUsize;
use std::path::Path;

use tamis_core::{cosine, Encoder};
use tamis_model::{Architecture, CpuEncoder, ModelBundle};

fn bundle(id: &str) -> ModelBundle {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models")
        .join(id);
    ModelBundle::read_dir(dir).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn each_architecture_gets_its_encoder() {
    for (id, architecture) in [
        ("minilm-l6-int8", Architecture::Bert),
        ("e5-small-q4", Architecture::XlmRoberta),
    ] {
        let encoder = CpuEncoder::from_bundle(bundle(id)).expect("the bundle loads");
        assert_eq!(encoder.architecture(), architecture, "{id}");
        let embeddings = encoder.embed(&["a post", ""]).expect("embeds");
        assert_eq!(embeddings.len(), 2);
        assert_eq!(embeddings[0].vector.len(), encoder.dimension());
        let norm: f32 = embeddings[0].vector.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-4, "{id}: norm² {norm}");
    }
}

#[test]
fn e5_puts_a_translation_nearer_than_another_topic() {
    let encoder = CpuEncoder::new(&bundle("e5-small-q4")).expect("e5 loads");
    let texts = [
        "Der Zug hatte heute wieder zwei Stunden Verspätung.",
        "The train was two hours late again today.",
        "電車は今日も二時間遅れた。",
        "I baked a chocolate cake for my sister's birthday.",
    ];
    let embeddings = encoder.embed(&texts).expect("embeds");
    let similarity = |a: usize, b: usize| cosine(&embeddings[a].vector, &embeddings[b].vector);
    for translation in [1, 2] {
        assert!(
            similarity(0, translation) > similarity(0, 3) + 0.05,
            "German–{translation}: {} vs cake {}",
            similarity(0, translation),
            similarity(0, 3)
        );
    }
}

#[test]
fn taking_the_bundle_over_gives_the_same_bits_as_borrowing_it() {
    let texts = ["Ein Beitrag über den Zug", "a post", ""];
    for id in ["minilm-l6-int8", "e5-small-q4"] {
        let borrowed = CpuEncoder::new(&bundle(id)).expect("loads");
        let owned = CpuEncoder::from_bundle(bundle(id)).expect("loads");
        assert_eq!(
            borrowed.embed(&texts).expect("embeds"),
            owned.embed(&texts).expect("embeds"),
            "{id}"
        );
    }
}

#[test]
fn each_shipped_model_has_built_in_priors_for_its_model_file() {
    for id in ["minilm-l6-int8", "e5-small-q4"] {
        let priors = tamis_model::built_in_priors(&bundle(id))
            .expect("the priors read and belong to this model file")
            .unwrap_or_else(|| panic!("{id} has no built-in priors"));
        for name in ["spam", "toxic", "negative"] {
            assert!(priors.category(name).is_some(), "{id}: {name}");
        }
    }
}

/// The parity texts of both encoders: every script, emoji, texts of 3 to over 256 tokens.
fn fixture_texts() -> Vec<String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        "tests/parity/sentences.txt",
        "tests/support/e5-reference/texts.txt",
    ]
    .iter()
    .flat_map(|path| {
        std::fs::read_to_string(manifest.join(path))
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    })
    .collect()
}

#[test]
fn threads_give_the_bits_of_one_thread() {
    let texts = fixture_texts();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    assert!(texts.len() > 60);
    let bits = |embeddings: Vec<tamis_core::Embedding>| -> Vec<Vec<u32>> {
        (embeddings.iter())
            .map(|e| e.vector.iter().map(|v| v.to_bits()).collect())
            .collect()
    };
    for id in ["minilm-l6-int8", "e5-small-q4"] {
        let mut encoder = CpuEncoder::new(&bundle(id)).expect("loads");
        // All texts in one call (many runs of texts, or e5's passes, to share out), and one
        // text of over 256 tokens alone (a product of many rows for e5 to split).
        let long = *texts.iter().max_by_key(|t| t.len()).expect("texts");
        let one_thread = (bits(encoder.embed(&texts).expect("embeds")))
            .into_iter()
            .chain(bits(encoder.embed(&[long]).expect("embeds")));
        let one_thread: Vec<_> = one_thread.collect();
        for threads in [2, 3] {
            encoder.set_threads(NonZeroUsize::new(threads).expect("not zero"));
            let threaded: Vec<_> = (bits(encoder.embed(&texts).expect("embeds")))
                .into_iter()
                .chain(bits(encoder.embed(&[long]).expect("embeds")))
                .collect();
            assert!(
                threaded == one_thread,
                "{id}: {threads} threads differ from one"
            );
        }
    }
}
