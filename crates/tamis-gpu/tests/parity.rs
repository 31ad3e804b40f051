//! The GPU encoder against the CPU one on the real prepared model, on whatever adapter wgpu
//! finds: lavapipe (software Vulkan, `apt-get install mesa-vulkan-drivers`) on machines
//! without a GPU, as in CI.

use std::path::Path;
use std::sync::OnceLock;

use tamis_core::classify::{Classifier, ClassifierOptions, Policy, Verdict};
use tamis_core::{cosine, Encoder};
use tamis_gpu::{
    AutoEncoder, BackendKind, BackendPreference, GpuEncoder, GpuError, GpuOptions, SelectionReason,
};
use tamis_model::{built_in_priors, ModelBundle, ModelError, TractEncoder};

mod common;

fn bundle() -> &'static ModelBundle {
    ModelBundle::default_for_tests()
}

fn gpu() -> &'static GpuEncoder {
    static ENCODER: OnceLock<GpuEncoder> = OnceLock::new();
    ENCODER.get_or_init(|| {
        GpuEncoder::new(bundle()).unwrap_or_else(|e| {
            panic!("{e} (without a GPU, `apt-get install mesa-vulkan-drivers` provides lavapipe)")
        })
    })
}

/// The 64 sentences of the foundation's parity fixture (one longer than the window).
fn parity_sentences() -> Vec<String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tamis-model/tests/parity/sentences.txt");
    std::fs::read_to_string(path)
        .expect("sentences.txt")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn gpu_embeddings_match_the_cpu_encoder() {
    let sentences = parity_sentences();
    assert!(sentences.len() >= 64);
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let cpu = TractEncoder::new(bundle()).expect("the CPU encoder loads");
    let expected = cpu.embed(&texts).expect("CPU embed");
    let actual = gpu().embed(&texts).expect("GPU embed");
    let mut lowest = 1.0f32;
    for (index, (gpu, cpu)) in actual.iter().zip(&expected).enumerate() {
        let similarity = cosine(&gpu.vector, &cpu.vector);
        assert!(similarity >= 0.999, "sentence {index}: cosine {similarity}");
        assert_eq!((gpu.tokens, gpu.truncated), (cpu.tokens, cpu.truncated));
        lowest = lowest.min(similarity);
    }
    let report = gpu().adapter();
    eprintln!("lowest cosine {lowest} on {report:?}");
    assert!(!report.name.is_empty());
}

#[test]
fn buffers_are_reused_across_calls() {
    // Its own encoder: the other tests' batches would grow a shared workspace meanwhile.
    let encoder = GpuEncoder::new(bundle()).expect("the GPU encoder loads");
    let texts = [
        "a short post",
        "another, somewhat longer post about the weather today",
    ];
    encoder.embed(&texts).expect("first call");
    let held = encoder.gpu_memory_bytes();
    for _ in 0..20 {
        encoder.embed(&texts).expect("embed");
        encoder.embed(&texts[..1]).expect("a smaller batch");
    }
    assert_eq!(encoder.gpu_memory_bytes(), held);
}

#[test]
fn a_tokenizer_for_another_vocabulary_is_refused() {
    let mut other = bundle().clone();
    // A tokenizer whose vocabulary is a single token.
    other.tokenizer = Some(br#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,"model":{"type":"WordLevel","vocab":{"[UNK]":0},"unk_token":"[UNK]"}}"#.to_vec());
    match GpuEncoder::new(&other) {
        Err(GpuError::Model(ModelError::VocabularyMismatch { tokenizer: 1, .. })) => {}
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("a mismatched tokenizer was accepted"),
    }
}

#[test]
fn a_batch_larger_than_the_adapter_binds_is_refused_up_front() {
    let options = GpuOptions {
        batch_size: 100_000,
    };
    match GpuEncoder::with_options(bundle(), options) {
        Err(GpuError::Device(message)) => assert!(message.contains("smaller batch_size")),
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("a batch too large for the adapter was accepted"),
    }
}

#[test]
fn truncated_model_bytes_are_a_typed_error() {
    let mut broken = bundle().clone();
    broken.model.truncate(broken.model.len() / 3);
    assert!(matches!(
        GpuEncoder::new(&broken),
        Err(GpuError::Model(ModelError::InvalidOnnx(_)))
    ));
}

#[test]
fn classification_verdicts_are_the_same_on_both_encoders() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tamis-cli/samples");
    let policy_json = std::fs::read_to_string(root.join("policy.json")).expect("sample policy");
    let posts = std::fs::read_to_string(root.join("posts.txt")).expect("sample posts");
    let texts: Vec<&str> = posts
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let priors = std::sync::Arc::new(
        built_in_priors(bundle())
            .expect("built-in priors")
            .expect("the default model has some"),
    );
    let verdicts = |encoder: &dyn Fn(&mut Classifier) -> Vec<Verdict>| {
        let policy = Policy::from_json(&policy_json).expect("sample policy parses");
        let mut classifier =
            Classifier::new(policy, Some(priors.clone()), ClassifierOptions::default())
                .expect("classifier");
        encoder(&mut classifier)
    };
    let cpu_encoder = TractEncoder::new(bundle()).expect("the CPU encoder loads");
    let on_cpu = verdicts(&|c| c.classify(&cpu_encoder, &texts).expect("CPU classify"));
    let on_gpu = verdicts(&|c| c.classify(gpu(), &texts).expect("GPU classify"));
    assert!(on_cpu.iter().any(|v| v.harmful) && on_cpu.iter().any(|v| !v.harmful));
    for (index, (cpu, gpu)) in on_cpu.iter().zip(&on_gpu).enumerate() {
        assert_eq!(
            (&cpu.labels, cpu.harmful, cpu.action),
            (&gpu.labels, gpu.harmful, gpu.action),
            "text {index}"
        );
        for (a, b) in cpu.scores.iter().zip(&gpu.scores) {
            assert!(
                (a.score - b.score).abs() < 1e-3,
                "text {index}: {a:?} vs {b:?}"
            );
        }
    }
}

#[test]
fn auto_selection_reports_its_choice_and_falls_back_when_the_gpu_is_lost() {
    let auto = AutoEncoder::new(bundle().clone(), BackendPreference::Auto).expect("auto");
    common::assert_auto_follows_the_adapter(&auto.selection());

    let forced = AutoEncoder::new(bundle().clone(), BackendPreference::Gpu).expect("gpu");
    assert_eq!(forced.selection().backend, BackendKind::Gpu);
    let texts = ["a post about the weather", "another one"];
    let before = forced.embed(&texts).expect("embed on the GPU");
    forced.release_gpu();
    let after = forced
        .embed(&texts)
        .expect("the request is served on the CPU");
    let selection = forced.selection();
    assert_eq!(selection.backend, BackendKind::Cpu);
    assert!(
        matches!(selection.reason, SelectionReason::GpuLost { .. }),
        "{}",
        selection.reason
    );
    for (gpu, cpu) in before.iter().zip(&after) {
        assert!(cosine(&gpu.vector, &cpu.vector) >= 0.999);
    }
}
