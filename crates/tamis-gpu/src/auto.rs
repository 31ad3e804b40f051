//! Backend selection: the GPU encoder where a real GPU is there, the CPU (tract) encoder
//! otherwise, with the choice and its reason reported, and a fall back to the CPU for the rest
//! of the session when the GPU is lost during use.

use std::sync::Mutex;

use tamis_core::{Embedding, Encoder};
use tamis_model::{ModelBundle, TractEncoder};

use crate::{AdapterReport, GpuEncoder, GpuError};

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

enum Active {
    Gpu(Box<GpuEncoder>),
    Cpu(Box<TractEncoder>),
}

/// An encoder on the backend [`BackendPreference`] selects.
///
/// ```no_run
/// use tamis_core::Encoder;
/// use tamis_gpu::{AutoEncoder, BackendPreference};
/// use tamis_model::ModelBundle;
///
/// let bundle = ModelBundle::read_dir("models/minilm-l6-int8")?;
/// let encoder = AutoEncoder::new(bundle, BackendPreference::Auto)?;
/// let selection = encoder.selection();
/// eprintln!("running on {}: {}", selection.backend, selection.reason);
/// encoder.embed(&["a post"])?;
/// # Ok::<(), tamis_gpu::GpuError>(())
/// ```
pub struct AutoEncoder {
    active: Mutex<(Active, Selection)>,
    /// Kept for a CPU encoder made when the GPU is lost.
    bundle: ModelBundle,
    dimension: usize,
}

impl AutoEncoder {
    pub fn new(bundle: ModelBundle, preference: BackendPreference) -> Result<Self, GpuError> {
        let cpu = |reason: String, adapter| -> Result<(Active, Selection), GpuError> {
            let selection = Selection {
                backend: "cpu",
                reason,
                adapter,
            };
            Ok((
                Active::Cpu(Box::new(TractEncoder::new(&bundle)?)),
                selection,
            ))
        };
        let gpu = |encoder: GpuEncoder, reason: String| {
            let adapter = Some(encoder.adapter().clone());
            let selection = Selection {
                backend: "gpu",
                reason,
                adapter,
            };
            (Active::Gpu(Box::new(encoder)), selection)
        };
        let (active, selection) = match preference {
            BackendPreference::Cpu => cpu("asked for the CPU".into(), None)?,
            BackendPreference::Gpu => gpu(GpuEncoder::new(&bundle)?, "asked for the GPU".into()),
            // The adapter is asked first: a software one is slower than tract, so the model
            // is not uploaded to it.
            BackendPreference::Auto => match AdapterReport::probe() {
                Ok(adapter) if adapter.fallback => {
                    let reason = format!(
                        "the only GPU adapter, {}, is a software one: the CPU is faster",
                        adapter.name
                    );
                    cpu(reason, Some(adapter))?
                }
                Ok(_) => match GpuEncoder::new(&bundle) {
                    Ok(encoder) => {
                        let reason = format!("GPU adapter {} found", encoder.adapter().name);
                        gpu(encoder, reason)
                    }
                    Err(GpuError::Model(error)) => return Err(error.into()),
                    Err(error) => cpu(format!("no usable GPU: {error}"), None)?,
                },
                Err(error) => cpu(format!("no usable GPU: {error}"), None)?,
            },
        };
        Ok(Self {
            dimension: bundle.manifest.dimension,
            active: Mutex::new((active, selection)),
            bundle,
        })
    }

    /// The backend running now and why; after a GPU loss, the CPU and the loss.
    pub fn selection(&self) -> Selection {
        self.active
            .lock()
            .map(|active| active.1.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().1.clone())
    }

    /// Releases the GPU device now, as a lost device would be: the next call falls back to
    /// the CPU. For hosts that need the GPU back, and for testing the fallback.
    pub fn release_gpu(&self) {
        if let Ok(active) = self.active.lock() {
            if let Active::Gpu(encoder) = &active.0 {
                encoder.release_device();
            }
        }
    }
}

impl Encoder for AutoEncoder {
    type Error = GpuError;

    fn dimension(&self) -> usize {
        self.dimension
    }

    /// Embeds on the active backend. When the GPU is lost, the same texts are embedded on the
    /// CPU, which serves every later call.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, GpuError> {
        let mut active = self
            .active
            .lock()
            .map_err(|_| GpuError::Lost("an earlier call panicked".into()))?;
        let lost = match &active.0 {
            Active::Cpu(encoder) => return Ok(encoder.embed(texts)?),
            Active::Gpu(encoder) => match encoder.embed(texts) {
                Err(GpuError::Lost(message)) => message,
                result => return result,
            },
        };
        let cpu = TractEncoder::new(&self.bundle)?;
        let embeddings = cpu.embed(texts)?;
        let adapter = active.1.adapter.clone();
        *active = (
            Active::Cpu(Box::new(cpu)),
            Selection {
                backend: "cpu",
                reason: format!("the GPU was lost during use ({lost}); on the CPU since"),
                adapter,
            },
        );
        Ok(embeddings)
    }
}
