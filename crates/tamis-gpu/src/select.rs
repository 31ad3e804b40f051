//! Which backend runs: the GPU encoder where a real GPU is there, the CPU (tract) encoder
//! otherwise, with the choice and its reason reported. Shared by [`crate::AutoEncoder`]
//! natively and by the wasm bindings in a browser.

use tamis_model::ModelBundle;

use crate::{AdapterReport, GpuEncoder, GpuError, GpuOptions};

/// What the caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendPreference {
    /// The GPU when its adapter is hardware and the model's shaders compile; the CPU otherwise.
    Auto,
    /// The GPU, even a software adapter; an error when there is none.
    Gpu,
    /// The CPU.
    Cpu,
}

/// The backend that runs, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// `"gpu"` or `"cpu"`.
    pub backend: &'static str,
    pub reason: String,
    /// The adapter found, whether or not it was chosen.
    pub adapter: Option<AdapterReport>,
}

impl Selection {
    /// The selection once the GPU failed during use: the CPU from then on, the adapter found
    /// still reported.
    pub fn after_gpu_failure(&self, failure: &GpuError) -> Selection {
        Selection {
            backend: "cpu",
            reason: format!("the GPU failed during use ({failure}); on the CPU since then"),
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
/// it. Errors only for [`BackendPreference::Gpu`] without a usable GPU, and for a model the
/// GPU kernels cannot read.
pub async fn choose(
    bundle: &ModelBundle,
    preference: BackendPreference,
    options: GpuOptions,
) -> Result<(Choice, Selection), GpuError> {
    let cpu = |reason: String, adapter| {
        let selection = Selection {
            backend: "cpu",
            reason,
            adapter,
        };
        Ok((Choice::Cpu, selection))
    };
    let gpu = |encoder: GpuEncoder, reason: String| {
        let selection = Selection {
            backend: "gpu",
            reason,
            adapter: Some(encoder.adapter().clone()),
        };
        Ok((Choice::Gpu(Box::new(encoder)), selection))
    };
    match preference {
        BackendPreference::Cpu => cpu("asked for the CPU".into(), None),
        BackendPreference::Gpu => gpu(
            GpuEncoder::create(bundle, options).await?,
            "asked for the GPU".into(),
        ),
        BackendPreference::Auto => match AdapterReport::find().await {
            Ok(adapter) if adapter.fallback => {
                let reason = format!(
                    "the only GPU adapter, {}, is a software one: the CPU is faster",
                    adapter.name
                );
                cpu(reason, Some(adapter))
            }
            Ok(_) => match GpuEncoder::create(bundle, options).await {
                Ok(encoder) => {
                    let reason = format!("GPU adapter {} found", encoder.adapter().name);
                    gpu(encoder, reason)
                }
                Err(GpuError::Model(error)) => Err(error.into()),
                Err(error) => cpu(format!("no usable GPU: {error}"), None),
            },
            Err(error) => cpu(format!("no usable GPU: {error}"), None),
        },
    }
}
