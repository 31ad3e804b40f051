//! Which backend runs: the GPU encoder where a real GPU is there, the CPU (tract) encoder
//! otherwise, with the choice and its reason reported. Shared by [`crate::AutoEncoder`]
//! natively and by the wasm bindings in a browser.

use tamis_model::ModelBundle;

use crate::{
    AdapterReport, BackendKind, BackendPreference, GpuEncoder, GpuError, GpuOptions,
    SelectionReason,
};

/// The backend that runs, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub backend: BackendKind,
    pub reason: SelectionReason,
    /// The adapter found, whether or not it was chosen.
    pub adapter: Option<AdapterReport>,
}

impl Selection {
    /// The selection once the GPU failed during use: the CPU from then on, the adapter found
    /// still reported.
    pub fn after_gpu_failure(&self, failure: &GpuError) -> Selection {
        Selection {
            backend: BackendKind::Cpu,
            reason: SelectionReason::GpuLost {
                detail: failure.to_string(),
            },
            adapter: self.adapter.clone(),
        }
    }
}

/// The encoder [`choose`] picked: the GPU one, made, or the CPU, left for the caller to make
/// (tract natively, tract in wasm in a browser).
pub enum Choice {
    Gpu(Box<GpuEncoder>),
    Cpu,
}

/// Picks the backend for `preference` and says why. The adapter is asked first: a software
/// one is slower than tract, so under [`BackendPreference::Auto`] the model is not uploaded to
/// it, nor a model whose architecture the GPU encoder does not run ([`GpuEncoder::runs`]).
/// Errors only for [`BackendPreference::Gpu`] without a usable GPU or for such a model, and for
/// a model the GPU kernels cannot read.
pub async fn choose(
    bundle: &ModelBundle,
    preference: BackendPreference,
    options: GpuOptions,
) -> Result<(Choice, Selection), GpuError> {
    let cpu = |reason, adapter| {
        let selection = Selection {
            backend: BackendKind::Cpu,
            reason,
            adapter,
        };
        Ok((Choice::Cpu, selection))
    };
    let gpu = |encoder: GpuEncoder, reason| {
        let selection = Selection {
            backend: BackendKind::Gpu,
            reason,
            adapter: Some(encoder.adapter().clone()),
        };
        Ok((Choice::Gpu(Box::new(encoder)), selection))
    };
    match preference {
        BackendPreference::Cpu => cpu(SelectionReason::Asked(BackendKind::Cpu), None),
        BackendPreference::Gpu => gpu(
            GpuEncoder::create(bundle, options).await?,
            SelectionReason::Asked(BackendKind::Gpu),
        ),
        BackendPreference::Auto if !GpuEncoder::runs(bundle.manifest.architecture) => cpu(
            SelectionReason::ArchitectureNotOnGpu {
                architecture: bundle.manifest.architecture,
            },
            None,
        ),
        BackendPreference::Auto => match AdapterReport::find().await {
            Ok(adapter) if adapter.fallback => {
                let reason = SelectionReason::SoftwareAdapter {
                    adapter: adapter.name.clone(),
                };
                cpu(reason, Some(adapter))
            }
            Ok(_) => match GpuEncoder::create(bundle, options).await {
                Ok(encoder) => {
                    let reason = SelectionReason::HardwareAdapter {
                        adapter: encoder.adapter().name.clone(),
                    };
                    gpu(encoder, reason)
                }
                Err(GpuError::Model(error)) => Err(error.into()),
                Err(error) => cpu(SelectionReason::gpu_unusable(&error), None),
            },
            Err(error) => cpu(SelectionReason::gpu_unusable(&error), None),
        },
    }
}
