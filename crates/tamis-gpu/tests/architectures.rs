//! A model whose architecture the GPU encoder does not run: `auto` runs it on the CPU and says
//! why; asked for the GPU, it is a typed error.

use std::path::Path;

use tamis_core::Encoder;
use tamis_gpu::{
    AutoEncoder, BackendKind, BackendPreference, GpuEncoder, GpuError, SelectionReason,
};
use tamis_model::{Architecture, ModelBundle};

fn e5_bundle() -> ModelBundle {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/e5-small-q4");
    ModelBundle::read_dir(dir).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn auto_runs_an_e5_bundle_on_the_cpu_and_says_why() {
    let encoder = AutoEncoder::new(e5_bundle(), BackendPreference::Auto).expect("loads");
    let selection = encoder.selection();
    assert_eq!(selection.backend, BackendKind::Cpu);
    assert_eq!(
        selection.reason,
        SelectionReason::ArchitectureNotOnGpu {
            architecture: Architecture::XlmRoberta
        }
    );
    assert!(selection.reason.to_string().contains("xlm-roberta"));
    assert_eq!(encoder.embed(&["ein Beitrag"]).expect("embeds").len(), 1);
}

#[test]
fn the_gpu_encoder_refuses_an_e5_bundle_by_its_architecture() {
    match GpuEncoder::new(&e5_bundle()) {
        Err(error @ GpuError::Architecture(Architecture::XlmRoberta)) => {
            assert!(error.to_string().contains("backend `cpu`"), "{error}");
        }
        Err(other) => panic!("expected the architecture error, got {other}"),
        Ok(_) => panic!("the GPU encoder ran an xlm-roberta bundle"),
    }
}
