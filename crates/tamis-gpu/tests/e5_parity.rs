//! The GPU encoder on the e5 bundle (XLM-RoBERTa, 4-bit Q4_0 weights dequantized in WGSL)
//! against the CPU encoder, on whatever adapter wgpu finds: lavapipe (software Vulkan,
//! `apt-get install mesa-vulkan-drivers`) on machines without a GPU, as in CI.

use std::path::Path;
use std::sync::OnceLock;

use tamis_core::{cosine, Embedding, Encoder};
use tamis_gpu::{GpuEncoder, GpuOptions};
use tamis_model::{CpuEncoder, ModelBundle};

fn e5_bundle() -> &'static ModelBundle {
    static BUNDLE: OnceLock<ModelBundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/e5-small-q4");
        ModelBundle::read_dir(dir).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// The e5 reference texts: 30 short ones in 14 languages and scripts (CJK without spaces,
/// Arabic, emoji and ZWJ sequences, a URL, a single letter) and one of about 360 tokens.
fn texts() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tamis-model/tests/support/e5-reference/texts.txt");
    std::fs::read_to_string(path)
        .expect("texts.txt")
        .lines()
        .map(str::to_string)
        .collect()
}

fn cpu_embeddings(texts: &[&str]) -> Vec<Embedding> {
    let cpu = CpuEncoder::new(e5_bundle()).expect("the CPU encoder loads");
    cpu.embed(texts).expect("CPU embed")
}

/// The lowest cosine of `gpu` to `cpu`, text by text; token counts must agree.
fn lowest_cosine(gpu: &[Embedding], cpu: &[Embedding]) -> f32 {
    assert_eq!(gpu.len(), cpu.len());
    let mut lowest = 1.0f32;
    for (index, (gpu, cpu)) in gpu.iter().zip(cpu).enumerate() {
        let similarity = cosine(&gpu.vector, &cpu.vector);
        assert!(similarity >= 0.9999, "text {index}: cosine {similarity}");
        assert_eq!((gpu.tokens, gpu.truncated), (cpu.tokens, cpu.truncated));
        lowest = lowest.min(similarity);
    }
    lowest
}

#[test]
fn e5_on_the_gpu_matches_the_cpu_encoder_batched() {
    let texts = texts();
    // The short texts in one padded batch (the long one alone would pad all 30 to its length).
    let short: Vec<&str> = texts
        .iter()
        .map(String::as_str)
        .filter(|t| t.len() < 200)
        .collect();
    assert!(short.len() >= 30);
    let gpu = GpuEncoder::new(e5_bundle()).expect("the GPU encoder loads e5");
    assert_eq!(gpu.dimension(), 384);
    let actual = gpu.embed(&short).expect("GPU embed");
    let lowest = lowest_cosine(&actual, &cpu_embeddings(&short));
    eprintln!(
        "e5, {} texts in one batch: lowest cosine {lowest} on {:?}",
        short.len(),
        gpu.adapter()
    );
}

#[test]
fn e5_on_the_gpu_matches_the_cpu_encoder_one_text_at_a_time() {
    let texts = texts();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let longest = texts.iter().map(|t| t.len()).max().unwrap_or(0);
    assert!(longest > 1000, "the long text is there");
    let options = GpuOptions { batch_size: 1 };
    let gpu = GpuEncoder::with_options(e5_bundle(), options).expect("the GPU encoder loads e5");
    let actual = gpu.embed(&texts).expect("GPU embed");
    assert!(actual.iter().any(|e| e.tokens > 300));
    let lowest = lowest_cosine(&actual, &cpu_embeddings(&texts));
    let (held, file) = (gpu.gpu_memory_bytes(), e5_bundle().model.len() as u64);
    eprintln!(
        "e5, {} texts one at a time: lowest cosine {lowest}; GPU buffers {held} bytes \
         (weights and a one-text workspace), model.e5s {file} bytes",
        texts.len()
    );
    // The weights stay 4-bit: with the workspace of a 512-token text the GPU holds about the
    // file's size (f32 weights alone would be 7 times more).
    assert!(held < file + file / 4, "{held} bytes on the GPU");
}
