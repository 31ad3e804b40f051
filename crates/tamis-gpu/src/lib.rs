//! The tamis encoder on the GPU: the BERT (MiniLM) and XLM-RoBERTa (multilingual-e5)
//! architectures as WGSL compute shaders run by [wgpu](https://wgpu.rs), reading their weights
//! from the same model bundle as the CPU encoder.
//!
//! Weights stay in the bundle's format on the GPU: MiniLM's int8 (a quarter of the memory and
//! bandwidth of f32) with per-column (per-row for the word table) scales, e5's 4-bit Q4_0
//! blocks exactly as its file stores them; both are dequantized inside the kernels.
//! Activations are f32. Buffers for activations grow to the largest batch seen and are
//! reused, so GPU memory stays flat across calls.
//!
//! ```no_run
//! # #[cfg(not(target_arch = "wasm32"))] {
//! use tamis_core::Encoder;
//! use tamis_gpu::GpuEncoder;
//! use tamis_model::ModelBundle;
//!
//! let bundle = ModelBundle::read_dir("models/minilm-l6-int8")?;
//! let encoder = GpuEncoder::new(&bundle)?;
//! println!("running on {}", encoder.adapter().name);
//! let embeddings = encoder.embed(&["a post"])?;
//! assert_eq!(embeddings[0].vector.len(), 384);
//! # }
//! # Ok::<(), tamis_gpu::GpuError>(())
//! ```

#[cfg(not(target_arch = "wasm32"))]
mod auto;
mod backend;
mod forward;
mod kernels;
mod model;
mod select;

use std::sync::Mutex;

use tamis_core::{l2_normalize, Embedding};
use tamis_model::{
    Architecture, BatchPlan, Batching, Conventions, ModelBundle, ModelError, TextRole,
};
use thiserror::Error;

#[cfg(not(target_arch = "wasm32"))]
pub use auto::AutoEncoder;
pub use backend::{BackendKind, BackendPreference, SelectionReason, UnknownBackend};
use forward::{Forward, Workspace};
use kernels::{Kernels, Weights};
use model::{ModelWeights, Tokenizer};
pub use select::{choose, Choice, Selection};

/// Why the GPU encoder cannot start or could not finish a call.
#[derive(Debug, Error)]
pub enum GpuError {
    /// No GPU adapter (or none usable for compute) on this machine or in this browser.
    #[error("no WebGPU/Vulkan adapter is available: {0}")]
    NoAdapter(String),
    /// The adapter refused to create a device with the limits the model needs.
    #[error("the GPU adapter cannot run the model: {0}")]
    Device(String),
    /// A shader or pipeline failed validation on this adapter.
    #[error("the model's shaders do not compile on this adapter: {0}")]
    Shader(String),
    /// The bundle's architecture is one the GPU encoder does not implement (yet).
    #[error(
        "the GPU encoder does not run {0} models: load it on the CPU (backend `cpu`, or `auto`, \
         which picks the CPU for it)"
    )]
    Architecture(Architecture),
    /// The model bundle cannot be read or is not the architecture these shaders implement.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The device was lost, reported an error, or a result could not be read back. The
    /// encoder stays unusable: callers fall back to the CPU encoder.
    #[error("the GPU failed during the call: {0}")]
    Lost(String),
}

/// The adapter the encoder runs on, as reported to users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterReport {
    pub name: String,
    /// `vulkan`, `metal`, `dx12`, `webgpu`, ...
    pub backend: String,
    /// A software adapter (lavapipe, SwiftShader) or one the platform marks as a fallback.
    pub fallback: bool,
    /// The largest storage buffer binding the encoder asked for, in bytes.
    pub max_storage_buffer_binding: u64,
}

/// Tunables of [`GpuEncoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuOptions {
    /// Texts per dispatch, grouped by similar token length.
    pub batch_size: usize,
}

impl Default for GpuOptions {
    fn default() -> Self {
        Self { batch_size: 32 }
    }
}

/// A sentence encoder on the GPU: tokenizes, batches texts of similar length with dynamic
/// padding, runs the encoder, mean-pools over the attention mask and L2-normalises.
pub struct GpuEncoder {
    kernels: Kernels,
    weights: Weights,
    workspace: Mutex<Option<Workspace>>,
    tokenizer: Tokenizer,
    conventions: Conventions,
    dimension: usize,
    options: GpuOptions,
}

impl GpuEncoder {
    /// Finds an adapter, uploads the bundle's weights and compiles the shaders.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new(bundle: &ModelBundle) -> Result<Self, GpuError> {
        Self::with_options(bundle, GpuOptions::default())
    }

    /// [`GpuEncoder::new`] with options.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn with_options(bundle: &ModelBundle, options: GpuOptions) -> Result<Self, GpuError> {
        pollster::block_on(Self::create(bundle, options))
    }

    /// Whether this encoder runs models of `architecture`: BERT's (int8 weights) and
    /// XLM-RoBERTa's (4-bit blocks). An architecture added to tamis runs on the CPU until its
    /// kernels are written here.
    pub fn runs(architecture: Architecture) -> bool {
        match architecture {
            Architecture::Bert | Architecture::XlmRoberta => true,
        }
    }

    /// [`GpuEncoder::with_options`] for async callers; the only constructor in a browser,
    /// where WebGPU answers through the event loop.
    pub async fn create(bundle: &ModelBundle, options: GpuOptions) -> Result<Self, GpuError> {
        let manifest = &bundle.manifest;
        if !Self::runs(manifest.architecture) {
            return Err(GpuError::Architecture(manifest.architecture));
        }
        let model = ModelWeights::from_bundle(bundle)?;
        let shape = model.shape();
        if shape.hidden != manifest.dimension {
            return Err(ModelError::UnsupportedModel(format!(
                "its hidden size is {}, the manifest's dimension is {}",
                shape.hidden, manifest.dimension
            ))
            .into());
        }
        let tokenizer = Tokenizer::from_bundle(bundle, model.vocab_rows())?;
        let conventions = manifest.architecture.conventions();
        let positions_read = conventions.first_position + manifest.max_tokens;
        if positions_read > model.position_rows() {
            return Err(ModelError::UnsupportedModel(format!(
                "{} positions, fewer than the {positions_read} the manifest's max_tokens {} reads",
                model.position_rows(),
                manifest.max_tokens
            ))
            .into());
        }
        let kernels = Kernels::new(&shape).await?;
        // The largest activation buffer (a full batch of the longest texts through the
        // feed-forward layer) must fit one storage binding of this adapter.
        let widest = (options.batch_size.max(1) * manifest.max_tokens).next_power_of_two() as u64
            * kernels.intermediate as u64
            * 4;
        if widest > kernels.report.max_storage_buffer_binding {
            return Err(GpuError::Device(format!(
                "a batch of {} texts needs a {widest}-byte buffer, this adapter binds at most {}: \
                 use a smaller batch_size",
                options.batch_size, kernels.report.max_storage_buffer_binding
            )));
        }
        let weights = Weights::upload(&kernels, &model);
        Ok(Self {
            kernels,
            weights,
            workspace: Mutex::new(None),
            tokenizer,
            conventions,
            dimension: shape.hidden,
            options,
        })
    }

    /// Length of every embedding.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// The adapter this encoder runs on.
    pub fn adapter(&self) -> &AdapterReport {
        &self.kernels.report
    }

    /// Destroys the device now: its buffers are freed and every later call fails with
    /// [`GpuError::Lost`], as after a real device loss. [`AutoEncoder`] then falls back to
    /// the CPU.
    pub fn release_device(&self) {
        self.kernels.device.destroy();
    }

    /// Bytes of GPU buffers held now: the weights and the activation workspace.
    pub fn gpu_memory_bytes(&self) -> u64 {
        let workspace = self
            .workspace
            .lock()
            .map_or(0, |w| w.as_ref().map_or(0, Workspace::bytes));
        self.weights.bytes() + workspace
    }

    /// Embeds texts: batches of similar length, each run on the GPU and awaited.
    ///
    /// ```no_run
    /// # async fn example(bundle: tamis_model::ModelBundle) -> Result<(), tamis_gpu::GpuError> {
    /// use tamis_gpu::{GpuEncoder, GpuOptions};
    ///
    /// let encoder = GpuEncoder::create(&bundle, GpuOptions::default()).await?;
    /// let embeddings = encoder.embed_async(&["a post"]).await?;
    /// assert_eq!(embeddings[0].vector.len(), 384);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn embed_async(&self, texts: &[&str]) -> Result<Vec<Embedding>, GpuError> {
        self.embed_role_async(texts, TextRole::Query).await
    }

    /// Embeds `texts` of `role` ([`TextRole::Passage`]: descriptions, see
    /// [`tamis_core::Encoder::embed_descriptions`]).
    pub async fn embed_role_async(
        &self,
        texts: &[&str],
        role: TextRole,
    ) -> Result<Vec<Embedding>, GpuError> {
        // Whole batches, however different the lengths: each dispatch costs more than padding.
        let batching = Batching {
            max_texts: self.options.batch_size,
            max_extra_tokens: usize::MAX,
        };
        let plan = BatchPlan::from_tokenized(self.tokenizer.tokenize(texts, role)?, batching);
        let mut vectors = Vec::new();
        for batch in plan.batches() {
            let ids: Vec<&[u32]> = batch.iter().map(|text| text.ids.as_slice()).collect();
            let mut batch_vectors = self.run_batch(&ids).await?;
            batch_vectors
                .iter_mut()
                .for_each(|vector| l2_normalize(vector));
            vectors.push(batch_vectors);
        }
        Ok(plan.assemble(vectors))
    }

    /// Pooled, unnormalised vectors of one padded batch. The workspace is taken for the call
    /// (a call running meanwhile, possible in a browser, makes its own) and put back after.
    async fn run_batch(&self, ids: &[&[u32]]) -> Result<Vec<Vec<f32>>, GpuError> {
        let poisoned = |_| GpuError::Lost("an earlier call panicked".into());
        let mut workspace = self.workspace.lock().map_err(poisoned)?.take();
        let result = Forward {
            kernels: &self.kernels,
            weights: &self.weights,
            conventions: self.conventions,
        }
        .run(&mut workspace, ids)
        .await;
        *self.workspace.lock().map_err(poisoned)? = workspace;
        result
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl tamis_core::Encoder for GpuEncoder {
    type Error = GpuError;

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, GpuError> {
        pollster::block_on(self.embed_async(texts))
    }

    fn embed_descriptions(&self, descriptions: &[&str]) -> Result<Vec<Embedding>, GpuError> {
        pollster::block_on(self.embed_role_async(descriptions, TextRole::Passage))
    }
}
