//! The e5 bundle (XLM-RoBERTa, 4-bit weights) through backend selection: `auto` decides as
//! for MiniLM (a software adapter leaves it on the CPU and says so), `gpu` runs it there.

use std::path::Path;

use tamis_core::{cosine, Encoder};
use tamis_gpu::{AutoEncoder, BackendKind, BackendPreference, GpuEncoder, SelectionReason};
use tamis_model::{Architecture, ModelBundle};

mod common;

fn e5_bundle() -> ModelBundle {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/e5-small-q4");
    ModelBundle::read_dir(dir).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_architecture_runs_on_the_gpu() {
    assert!(Architecture::ALL.into_iter().all(GpuEncoder::runs));
}

#[test]
fn auto_selects_a_backend_for_e5_as_for_minilm() {
    let encoder = AutoEncoder::new(e5_bundle(), BackendPreference::Auto).expect("loads");
    common::assert_auto_follows_the_adapter(&encoder.selection());
    assert_eq!(encoder.embed(&["ein Beitrag"]).expect("embeds").len(), 1);
}

#[test]
fn asked_for_the_gpu_e5_runs_there_and_agrees_with_the_cpu() {
    let texts = [
        "ein Beitrag über das Wetter",
        "a post about the weather",
        "天気の投稿",
    ];
    let on_gpu = AutoEncoder::new(e5_bundle(), BackendPreference::Gpu).expect("gpu");
    assert_eq!(on_gpu.selection().backend, BackendKind::Gpu);
    assert_eq!(
        on_gpu.selection().reason,
        SelectionReason::Asked(BackendKind::Gpu)
    );
    let on_cpu = AutoEncoder::new(e5_bundle(), BackendPreference::Cpu).expect("cpu");
    let gpu = on_gpu.embed(&texts).expect("embeds on the GPU");
    let cpu = on_cpu.embed(&texts).expect("embeds on the CPU");
    for (gpu, cpu) in gpu.iter().zip(&cpu) {
        assert!(cosine(&gpu.vector, &cpu.vector) >= 0.9999);
    }
    // Descriptions go behind the passage prefix on both backends.
    let gpu_descriptions = on_gpu
        .embed_descriptions(&texts)
        .expect("embeds on the GPU");
    let cpu_descriptions = on_cpu
        .embed_descriptions(&texts)
        .expect("embeds on the CPU");
    for ((gpu, cpu), query) in gpu_descriptions.iter().zip(&cpu_descriptions).zip(&cpu) {
        assert!(cosine(&gpu.vector, &cpu.vector) >= 0.9999);
        assert!(
            cosine(&cpu.vector, &query.vector) < 0.9999,
            "a description is not a query"
        );
    }
}
