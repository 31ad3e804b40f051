//! The encoder behind a [`crate::Model`]: on the CPU, tract compiled to wasm; on the GPU, the
//! GPU encoder on WebGPU.
//!
//! The core's calls (classify, fuse, embed) are synchronous and WebGPU answers only through
//! the event loop, so on WebGPU a call runs in rounds: it runs against the embeddings staged so
//! far, and when it needs others it fails with `needs_embeddings` after recording which texts;
//! the JS wrapper then awaits [`GpuState::embed_pending`] and runs the call again. Each round
//! stages at least one new text, so a call ends after at most as many rounds as it has
//! `embed` steps, plus one.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use serde::Serialize;
use tamis_core::{Embedding, Encoder};
use tamis_gpu::{AdapterReport, GpuEncoder, GpuError, Selection};
use tamis_model::{CpuEncoder, ModelBundle, ModelError, TextRole};

use crate::threads::{threads_for, ThreadsDiagnostics, ThreadsReason};
use crate::{Coded, ErrorCode};

/// What `tamis.diagnostics` reports: the backend that runs, why, and the adapter found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostics {
    /// A [`tamis_gpu::BackendKind`] name: `cpu` or `gpu`.
    pub backend: &'static str,
    pub reason: String,
    pub adapter: Option<AdapterDiagnostics>,
    /// The threads the CPU encoder splits a call over, the module that runs, and why.
    pub threads: ThreadsDiagnostics,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdapterDiagnostics {
    pub name: String,
    /// A software adapter (SwiftShader) or one the browser marks as a fallback.
    pub fallback: bool,
    /// The storage-buffer binding limit the encoder asked the device for, in bytes.
    pub max_storage_buffer_binding: u64,
}

impl Diagnostics {
    pub fn of(state: &State) -> Self {
        let selection = &state.selection;
        Self {
            backend: selection.backend.name(),
            reason: selection.reason.to_string(),
            adapter: selection.adapter.as_ref().map(AdapterDiagnostics::of),
            threads: ThreadsDiagnostics::of(state.threads),
        }
    }
}

/// `encoder`, splitting each call over the threads of this module's pool where the load asked
/// for threads (one thread otherwise). Every CPU encoder the bindings make goes through here.
pub fn on_pool(mut encoder: CpuEncoder, threads: ThreadsReason) -> Box<CpuEncoder> {
    encoder.set_threads(threads_for(threads));
    Box::new(encoder)
}

impl AdapterDiagnostics {
    fn of(report: &AdapterReport) -> Self {
        Self {
            name: report.name.clone(),
            fallback: report.fallback,
            max_storage_buffer_binding: report.max_storage_buffer_binding,
        }
    }
}

/// The GPU encoder with the embeddings staged for the call in progress.
pub struct GpuState {
    encoder: Rc<GpuEncoder>,
    /// Embeddings by role (texts to judge, or descriptions), then text: a round looks a text
    /// up by `&str`, without building a key.
    staged: HashMap<TextRole, HashMap<String, Embedding>>,
    /// Texts a round needed and did not find staged.
    pending: RefCell<BTreeSet<(TextRole, String)>>,
    /// Kept to make the CPU encoder should the GPU be lost.
    bundle: ModelBundle,
}

pub enum Backend {
    Cpu(Box<CpuEncoder>),
    Gpu(Box<GpuState>),
}

/// A model's backend and why it was selected; shared with the futures of
/// [`GpuState::embed_pending`].
pub struct State {
    pub backend: Backend,
    pub selection: Selection,
    /// Why the CPU encoder runs on the threads it runs on, as the JS wrapper decided.
    pub threads: ThreadsReason,
}

impl GpuState {
    pub fn new(encoder: GpuEncoder, bundle: ModelBundle) -> Self {
        Self {
            encoder: Rc::new(encoder),
            staged: HashMap::new(),
            pending: RefCell::new(BTreeSet::new()),
            bundle,
        }
    }

    /// Embeds the texts the last round missed on the GPU and stages them. A GPU lost on the
    /// way switches `state` to the CPU encoder for the rest of the session; the call's next
    /// round then runs there, so the request is not lost.
    pub async fn embed_pending(state: Rc<RefCell<State>>) -> Result<(), GpuError> {
        let threads = state.borrow().threads;
        let (encoder, texts) = match &state.borrow().backend {
            Backend::Gpu(gpu) => (gpu.encoder.clone(), gpu.pending.take()),
            Backend::Cpu(_) => return Ok(()),
        };
        let result = embed_by_role(&encoder, &texts).await;
        let mut state = state.borrow_mut();
        let State {
            backend, selection, ..
        } = &mut *state;
        let Backend::Gpu(gpu) = backend else {
            return Ok(());
        };
        match result {
            Ok(embeddings) => {
                for ((role, text), embedding) in embeddings {
                    gpu.staged.entry(role).or_default().insert(text, embedding);
                }
            }
            Err(failure @ GpuError::Lost(_)) => {
                let cpu = on_pool(CpuEncoder::new(&gpu.bundle)?, threads);
                *selection = selection.after_gpu_failure(&failure);
                *backend = Backend::Cpu(cpu);
            }
            Err(error) => return Err(error),
        }
        Ok(())
    }

    /// Forgets the staged embeddings once a call is answered, so memory stays flat.
    pub fn clear(&mut self) {
        self.staged.clear();
        self.pending.take();
    }

    /// Destroys the device, as a device loss would: the next round falls back to the CPU.
    pub fn release_device(&self) {
        self.encoder.release_device();
    }
}

/// `texts` embedded on the GPU, each behind its role's prefix.
async fn embed_by_role(
    encoder: &GpuEncoder,
    texts: &BTreeSet<(TextRole, String)>,
) -> Result<Vec<((TextRole, String), Embedding)>, GpuError> {
    let mut embedded = Vec::with_capacity(texts.len());
    for role in [TextRole::Query, TextRole::Passage] {
        let of_role: Vec<&str> = texts
            .iter()
            .filter(|(of, _)| *of == role)
            .map(|(_, text)| text.as_str())
            .collect();
        if of_role.is_empty() {
            continue;
        }
        let embeddings = encoder.embed_role_async(&of_role, role).await?;
        embedded.extend(
            of_role
                .iter()
                .map(|text| (role, text.to_string()))
                .zip(embeddings),
        );
    }
    Ok(embedded)
}

impl Backend {
    /// The synchronous encoder of one round.
    pub fn encoder(&self) -> ActiveEncoder<'_> {
        match self {
            Backend::Cpu(encoder) => ActiveEncoder::Cpu(encoder),
            Backend::Gpu(gpu) => ActiveEncoder::Staged(gpu),
        }
    }
}

pub enum ActiveEncoder<'a> {
    Cpu(&'a CpuEncoder),
    Staged(&'a GpuState),
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Not an error users see: the JS wrapper stages the texts and runs the call again.
    #[error("the call needs embeddings computed on the GPU first (embedPending)")]
    NeedsEmbeddings,
}

impl Coded for BackendError {
    fn code(&self) -> ErrorCode {
        match self {
            BackendError::Model(error) => error.code(),
            BackendError::NeedsEmbeddings => ErrorCode::NeedsEmbeddings,
        }
    }
}

impl Encoder for ActiveEncoder<'_> {
    type Error = BackendError;

    fn dimension(&self) -> usize {
        match self {
            ActiveEncoder::Cpu(encoder) => encoder.dimension(),
            ActiveEncoder::Staged(gpu) => gpu.encoder.dimension(),
        }
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, BackendError> {
        match self {
            ActiveEncoder::Cpu(encoder) => Ok(encoder.embed(texts)?),
            ActiveEncoder::Staged(gpu) => gpu.staged_embeddings(texts, TextRole::Query),
        }
    }

    fn embed_descriptions(&self, descriptions: &[&str]) -> Result<Vec<Embedding>, BackendError> {
        match self {
            ActiveEncoder::Cpu(encoder) => Ok(encoder.embed_descriptions(descriptions)?),
            ActiveEncoder::Staged(gpu) => gpu.staged_embeddings(descriptions, TextRole::Passage),
        }
    }
}

impl GpuState {
    /// The staged embeddings of `texts` of `role`; when some are missing, they are recorded
    /// for [`GpuState::embed_pending`] and the round fails with `needs_embeddings`.
    fn staged_embeddings(
        &self,
        texts: &[&str],
        role: TextRole,
    ) -> Result<Vec<Embedding>, BackendError> {
        let staged = self.staged.get(&role);
        let found: Option<Vec<Embedding>> = texts
            .iter()
            .map(|text| staged.and_then(|by_text| by_text.get(*text)).cloned())
            .collect();
        found.ok_or_else(|| {
            let missing = texts
                .iter()
                .filter(|text| !staged.is_some_and(|by_text| by_text.contains_key(**text)))
                .map(|text| (role, text.to_string()));
            self.pending.borrow_mut().extend(missing);
            BackendError::NeedsEmbeddings
        })
    }
}

impl Coded for GpuError {
    fn code(&self) -> ErrorCode {
        match self {
            GpuError::Model(error) => error.code(),
            GpuError::NoAdapter(_)
            | GpuError::Device(_)
            | GpuError::Shader(_)
            | GpuError::Architecture(_) => ErrorCode::BackendUnavailable,
            GpuError::Lost(_) => ErrorCode::BackendLost,
        }
    }
}

#[cfg(test)]
mod tests {
    use tamis_gpu::{BackendKind, BackendPreference};

    use crate::typescript::union_members;

    /// The TypeScript side; `include_str!` reruns this test when it changes.
    const TYPES_TS: &str = include_str!("../../../js/src/types.ts");

    /// Every backend kind; the match stops compiling when a kind is added.
    fn kinds() -> Vec<BackendKind> {
        let kinds = vec![BackendKind::Cpu, BackendKind::Gpu];
        for kind in &kinds {
            match kind {
                BackendKind::Cpu | BackendKind::Gpu => {}
            }
        }
        kinds
    }

    #[test]
    fn the_typescript_backend_names_are_the_rust_ones() {
        let kinds: Vec<&str> = kinds().into_iter().map(BackendKind::name).collect();
        assert_eq!(union_members(TYPES_TS, "Backend"), kinds);
        let preferences: Vec<&str> = BackendPreference::ALL.map(BackendPreference::name).into();
        assert_eq!(union_members(TYPES_TS, "BackendPreference"), preferences);
    }
}
