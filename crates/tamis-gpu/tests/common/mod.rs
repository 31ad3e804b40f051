//! Helpers shared by the integration tests of tamis-gpu.

use tamis_gpu::{BackendKind, Selection, SelectionReason};

/// Asserts what `auto` must choose for the adapter it found: the CPU, saying why, on a software
/// adapter (lavapipe, SwiftShader); the GPU on a real one.
pub fn assert_auto_follows_the_adapter(selection: &Selection) {
    let adapter = selection
        .adapter
        .clone()
        .expect("lavapipe or a GPU is found");
    if adapter.fallback {
        assert_eq!(selection.backend, BackendKind::Cpu);
        assert_eq!(
            selection.reason,
            SelectionReason::SoftwareAdapter {
                adapter: adapter.name
            }
        );
    } else {
        assert_eq!(selection.backend, BackendKind::Gpu);
    }
}
