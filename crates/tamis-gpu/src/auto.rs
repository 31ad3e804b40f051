//! Natively, an encoder on the selected backend ([`crate::choose`]) that falls back to the CPU
//! for the rest of the session when the GPU is lost during use.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use tamis_core::{Embedding, Encoder};
use tamis_model::{CpuEncoder, ModelBundle, TextRole};

use crate::{choose, BackendPreference, Choice, GpuEncoder, GpuError, GpuOptions, Selection};

enum Active {
    Gpu(Box<GpuEncoder>),
    Cpu(Box<CpuEncoder>),
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
    /// Threads each call of a CPU encoder is split over, the fallback's included.
    cpu_threads: NonZeroUsize,
    dimension: usize,
}

impl AutoEncoder {
    /// Selects the backend for `preference` ([`crate::choose`]) and loads the model on it.
    /// Errors only for [`BackendPreference::Gpu`] without a usable GPU, and for a bundle the
    /// encoders cannot read.
    pub fn new(bundle: ModelBundle, preference: BackendPreference) -> Result<Self, GpuError> {
        let (choice, selection) =
            pollster::block_on(choose(&bundle, preference, GpuOptions::default()))?;
        let active = match choice {
            Choice::Gpu(encoder) => Active::Gpu(encoder),
            Choice::Cpu => Active::Cpu(Box::new(CpuEncoder::new(&bundle)?)),
        };
        Ok(Self {
            dimension: bundle.manifest.dimension,
            active: Mutex::new((active, selection)),
            bundle,
            cpu_threads: NonZeroUsize::MIN,
        })
    }

    /// Splits each call on the CPU over `threads` threads ([`CpuEncoder::set_threads`]; one by
    /// default, same embeddings bit for bit): now if the CPU runs, and on the CPU encoder that
    /// takes over when the GPU is lost. The GPU encoder does not use it.
    pub fn set_cpu_threads(&mut self, threads: NonZeroUsize) {
        self.cpu_threads = threads;
        let active = self
            .active
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Active::Cpu(encoder) = &mut active.0 {
            encoder.set_threads(threads);
        }
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
        self.embed_as(texts, TextRole::Query)
    }

    /// As [`AutoEncoder::embed`], with the model's description prefix.
    fn embed_descriptions(&self, descriptions: &[&str]) -> Result<Vec<Embedding>, GpuError> {
        self.embed_as(descriptions, TextRole::Passage)
    }
}

impl AutoEncoder {
    fn embed_as(&self, texts: &[&str], role: TextRole) -> Result<Vec<Embedding>, GpuError> {
        let mut active = self
            .active
            .lock()
            .map_err(|_| GpuError::Lost("an earlier call panicked".into()))?;
        let failure = match &active.0 {
            Active::Cpu(encoder) => return Ok(embed_on(encoder.as_ref(), texts, role)?),
            Active::Gpu(encoder) => match embed_on(encoder.as_ref(), texts, role) {
                Err(failure @ GpuError::Lost(_)) => failure,
                result => return result,
            },
        };
        let mut cpu = CpuEncoder::new(&self.bundle)?;
        cpu.set_threads(self.cpu_threads);
        let embeddings = embed_on(&cpu, texts, role)?;
        let selection = active.1.after_gpu_failure(&failure);
        *active = (Active::Cpu(Box::new(cpu)), selection);
        Ok(embeddings)
    }
}

/// `texts` embedded by `encoder` as texts to judge ([`TextRole::Query`]) or as descriptions.
fn embed_on<E: Encoder>(
    encoder: &E,
    texts: &[&str],
    role: TextRole,
) -> Result<Vec<Embedding>, E::Error> {
    match role {
        TextRole::Query => encoder.embed(texts),
        TextRole::Passage => encoder.embed_descriptions(texts),
    }
}
