//! WebAssembly bindings of tamis. JavaScript fetches (and caches) the model bytes; these
//! bindings take the bytes and compute: nothing here touches the network.
//!
//! Every error reaches JavaScript as an `Error` with a `code` field (see [`ErrorCode`]) and a
//! message a user can act on; a failed call leaves the object as it was.

mod architecture;
mod backend;
mod error_code;
mod threads;
#[cfg(test)]
mod typescript;

pub use error_code::ErrorCode;
pub use threads::{ThreadsModule, ThreadsReason};

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use backend::{on_pool, ActiveEncoder, Backend, Diagnostics, GpuState, State};
use threads::UnknownThreadsReason;

use serde::Serialize;
use tamis_core::classify::{
    Classifier, ClassifierOptions, ClassifyError, Policy, PolicyEdit, PolicyError, Priors,
    PriorsError,
};
use tamis_core::fuse::{fuse_request, FuseError, FusionRequest, FusionRequestError};
use tamis_core::{Embedding, Encoder};
use tamis_gpu::{
    choose, BackendKind, BackendPreference, Choice, GpuOptions, Selection, SelectionReason,
    UnknownBackend,
};
use tamis_model::{read_priors, CpuEncoder, ModelBundle, ModelError};
use wasm_bindgen::prelude::*;

/// An error with a stable [`ErrorCode`], for programs to branch on.
pub trait Coded {
    fn code(&self) -> ErrorCode;
}

impl Coded for ModelError {
    fn code(&self) -> ErrorCode {
        match self {
            ModelError::MissingFile { .. } | ModelError::Unreadable { .. } => {
                ErrorCode::ModelMissing
            }
            ModelError::ChecksumMismatch { .. } => ErrorCode::ChecksumMismatch,
            ModelError::InvalidManifest(_) => ErrorCode::InvalidManifest,
            ModelError::InvalidOnnx(_)
            | ModelError::InvalidModelFile { .. }
            | ModelError::UnsupportedModel(_) => ErrorCode::InvalidModel,
            ModelError::InvalidTokenizer(_) | ModelError::VocabularyMismatch { .. } => {
                ErrorCode::InvalidTokenizer
            }
            ModelError::Tokenization { .. } | ModelError::Inference(_) => {
                ErrorCode::InferenceFailed
            }
        }
    }
}

impl Coded for PolicyError {
    fn code(&self) -> ErrorCode {
        match self {
            PolicyError::UnknownCategory(_) => ErrorCode::UnknownCategory,
            PolicyError::UnknownText { .. } => ErrorCode::UnknownText,
            _ => ErrorCode::InvalidPolicy,
        }
    }
}

impl Coded for FuseError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidLists
    }
}

impl Coded for PriorsError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidPriors
    }
}

impl<E: std::error::Error + Coded> Coded for FusionRequestError<E> {
    fn code(&self) -> ErrorCode {
        match self {
            FusionRequestError::UnknownMethod(_) | FusionRequestError::UnknownNormalization(_) => {
                ErrorCode::InvalidArgument
            }
            FusionRequestError::Lists(e) => e.code(),
            FusionRequestError::EmptyText { .. } => ErrorCode::EmptyText,
            FusionRequestError::ConflictingText { .. } => ErrorCode::InvalidLists,
            FusionRequestError::Encoder(e) => e.code(),
        }
    }
}

impl<E: std::error::Error + Coded> Coded for ClassifyError<E> {
    fn code(&self) -> ErrorCode {
        match self {
            ClassifyError::EmptyText { .. } => ErrorCode::EmptyText,
            ClassifyError::TextTooLong { .. } => ErrorCode::TextTooLong,
            ClassifyError::Encoder(e) => e.code(),
            ClassifyError::EncoderCount { .. } => ErrorCode::InferenceFailed,
        }
    }
}

thread_local! {
    /// The message of the last panic, for JavaScript to read after the trap it causes.
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Records panic messages instead of printing them: a panic becomes a trap (`unreachable`) in
/// JavaScript, which the JS wrapper turns into an `internal_error` with this message.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        // On a worker of the threaded module's pool, the thread waiting for it panics too.
        #[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
        tamis_model::pool_worker_panicked(&message);
        LAST_PANIC.with(|last| *last.borrow_mut() = Some(message));
    }));
}

/// The message of the last panic, if any, cleared on reading.
#[wasm_bindgen(js_name = takePanicMessage)]
pub fn take_panic_message() -> Option<String> {
    LAST_PANIC.with(|last| last.borrow_mut().take())
}

/// A JavaScript `Error` carrying `code`.
fn js_error(code: ErrorCode, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&error, &"code".into(), &code.as_str().into());
    error.into()
}

fn to_js<E: std::fmt::Display + Coded>(error: E) -> JsValue {
    js_error(error.code(), &error.to_string())
}

fn serialize<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| {
            // Results are plain data: a failure here is a bug, not bad input.
            let message = format!(
                "a result could not be converted to JavaScript (a bug in tamis, to report): {e}"
            );
            js_error(ErrorCode::InternalError, &message)
        })
}

/// `{vector, tokens, truncated}` with the vector as a `Float32Array`.
fn embedding_to_js(embedding: &Embedding) -> Result<JsValue, JsValue> {
    let object = js_sys::Object::new();
    let fields = [
        (
            "vector",
            js_sys::Float32Array::from(&embedding.vector[..]).into(),
        ),
        ("tokens", JsValue::from(embedding.tokens as f64)),
        ("truncated", JsValue::from(embedding.truncated)),
    ];
    for (name, value) in fields {
        js_sys::Reflect::set(&object, &name.into(), &value)?;
    }
    Ok(object.into())
}

/// A loaded model: the encoder on its backend, and the priors of its model when given.
#[wasm_bindgen]
pub struct Model {
    state: Rc<RefCell<State>>,
    priors: Option<Arc<Priors>>,
    dimension: usize,
}

/// Reads the bytes into a bundle, checking them unless the caller already did.
fn read_bundle(
    manifest: &[u8],
    model: Vec<u8>,
    tokenizer: Option<Vec<u8>>,
    checked: bool,
) -> Result<ModelBundle, JsValue> {
    if checked {
        ModelBundle::from_verified_bytes(manifest, model, tokenizer)
    } else {
        ModelBundle::from_bytes(manifest, model, tokenizer)
    }
    .map_err(to_js)
}

/// Whether this host offers WebGPU where wgpu looks for it: `navigator.gpu` in a window or a
/// worker (wgpu panics when asked anywhere else, Node for one).
fn host_has_webgpu() -> bool {
    let property = |target: &JsValue, key: &str| {
        js_sys::Reflect::get(target, &JsValue::from_str(key))
            .ok()
            .filter(|value| !value.is_undefined() && !value.is_null())
    };
    let global = js_sys::global().into();
    let window_or_worker =
        property(&global, "Window").is_some() || property(&global, "WorkerGlobalScope").is_some();
    window_or_worker
        && property(&global, "navigator")
            .and_then(|navigator| property(&navigator, "gpu"))
            .is_some()
}

/// The priors read from `bytes` (a `.priors` file, which JavaScript fetches: the module has
/// none built in), checked against the bundle's model file; none without bytes, and the
/// classifier then works without priors (`hasPriors` tells JS).
fn priors_for(bytes: Option<&[u8]>, bundle: &ModelBundle) -> Result<Option<Arc<Priors>>, JsValue> {
    bytes
        .map(|bytes| {
            read_priors(bytes, bundle).map(Arc::new).map_err(|e| {
                let message = format!(
                    "the priors given for {} cannot be used: {e}; pass the priors file tamis \
                     ships for this model, or none (priors: false)",
                    bundle.manifest.id
                );
                js_error(e.code(), &message)
            })
        })
        .transpose()
}

impl Model {
    fn on_backend(
        priors: Option<Arc<Priors>>,
        dimension: usize,
        backend: Backend,
        selection: Selection,
        threads: ThreadsReason,
    ) -> Model {
        let state = State {
            backend,
            selection,
            threads,
        };
        Model {
            state: Rc::new(RefCell::new(state)),
            priors,
            dimension,
        }
    }

    fn on_cpu(
        bundle: ModelBundle,
        priors: Option<&[u8]>,
        reason: SelectionReason,
        threads: ThreadsReason,
    ) -> Result<Model, JsValue> {
        let selection = Selection {
            backend: BackendKind::Cpu,
            reason,
            adapter: None,
        };
        // The model's own errors come first: priors fitted for another model file say less.
        let (priors, dimension) = (priors_for(priors, &bundle), bundle.manifest.dimension);
        let encoder = CpuEncoder::from_bundle(bundle).map_err(to_js)?;
        let backend = Backend::Cpu(on_pool(encoder, threads));
        Ok(Self::on_backend(
            priors?, dimension, backend, selection, threads,
        ))
    }

    /// Runs one synchronous round of a call on the current backend (see [`backend`]).
    fn round<T>(&self, call: impl FnOnce(ActiveEncoder<'_>) -> T) -> T {
        call(self.state.borrow().backend.encoder())
    }
}

#[wasm_bindgen]
impl Model {
    /// Verifies the bytes against the manifest's sha256 values and loads the model on the CPU.
    /// `checked`: the caller (the JS wrapper, with Web Crypto) has already verified the bytes.
    /// `priors`: the bytes of the model's `.priors` file (an `invalid_priors` error when they
    /// are not one, or were fitted for another model file); without them the model classifies
    /// without priors.
    #[wasm_bindgen(constructor)]
    pub fn new(
        manifest: &[u8],
        model: Vec<u8>,
        tokenizer: Option<Vec<u8>>,
        checked: bool,
        priors: Option<Vec<u8>>,
    ) -> Result<Model, JsValue> {
        let bundle = read_bundle(manifest, model, tokenizer, checked)?;
        let threads = ThreadsReason::OneAsked;
        let reason = SelectionReason::Asked(BackendKind::Cpu);
        Self::on_cpu(bundle, priors.as_deref(), reason, threads)
    }

    /// Loads the model on `backend`, a [`BackendPreference`] name: `"cpu"`, `"gpu"` (an error
    /// with code `backend_unavailable` when WebGPU cannot run it) or `"auto"` (the GPU on a
    /// hardware adapter where the shaders compile, the CPU otherwise; `diagnostics` says why).
    /// `threads`: a [`ThreadsReason`] name, why the CPU encoder runs on the threads of this
    /// module's pool (started by `startThreads` in the threaded module) or on one.
    /// `priors`: as for [`Model::new`].
    pub async fn load(
        manifest: Vec<u8>,
        model: Vec<u8>,
        tokenizer: Option<Vec<u8>>,
        checked: bool,
        priors: Option<Vec<u8>>,
        backend: String,
        threads: String,
    ) -> Result<Model, JsValue> {
        let preference: BackendPreference = backend
            .parse()
            .map_err(|e: UnknownBackend| js_error(ErrorCode::InvalidArgument, &e.to_string()))?;
        let threads: ThreadsReason = threads.parse().map_err(|e: UnknownThreadsReason| {
            js_error(ErrorCode::InvalidArgument, &e.to_string())
        })?;
        let bundle = read_bundle(&manifest, model, tokenizer, checked)?;
        if preference != BackendPreference::Cpu && !host_has_webgpu() {
            let reason = SelectionReason::NoWebGpu;
            if preference == BackendPreference::Gpu {
                return Err(js_error(ErrorCode::BackendUnavailable, &reason.to_string()));
            }
            return Self::on_cpu(bundle, priors.as_deref(), reason, threads);
        }
        let (choice, selection) = choose(&bundle, preference, GpuOptions::default())
            .await
            .map_err(to_js)?;
        let (priors, dimension) = (
            priors_for(priors.as_deref(), &bundle),
            bundle.manifest.dimension,
        );
        let backend = match choice {
            Choice::Cpu => {
                let encoder = CpuEncoder::from_bundle(bundle).map_err(to_js)?;
                Backend::Cpu(on_pool(encoder, threads))
            }
            // The GPU state keeps the bundle to make the CPU encoder should the GPU be lost.
            Choice::Gpu(encoder) => Backend::Gpu(Box::new(GpuState::new(*encoder, bundle))),
        };
        Ok(Self::on_backend(
            priors?, dimension, backend, selection, threads,
        ))
    }

    /// The backend that runs the model now, a [`BackendKind`] name: `"cpu"` or `"gpu"`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.state.borrow().selection.backend.name().to_string()
    }

    /// `{backend, reason, adapter: {name, fallback, maxStorageBufferBinding} | null,
    /// threads: {count, module, code, reason}}`.
    #[wasm_bindgen(getter)]
    pub fn diagnostics(&self) -> Result<JsValue, JsValue> {
        serialize(&Diagnostics::of(&self.state.borrow()))
    }

    /// Length of every embedding.
    #[wasm_bindgen(getter)]
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// Whether priors for `toxic`, `spam` and `negative` were given and apply to this model.
    #[wasm_bindgen(getter, js_name = hasPriors)]
    pub fn has_priors(&self) -> bool {
        self.priors.is_some()
    }

    /// On WebGPU, embeds the texts the last round of a call missed (`needs_embeddings`) and
    /// stages them for the next round. Falls back to the CPU for good when the GPU fails.
    #[wasm_bindgen(js_name = embedPending)]
    pub fn embed_pending(&self) -> js_sys::Promise {
        let state = self.state.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            GpuState::embed_pending(state).await.map_err(to_js)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Forgets the embeddings staged for the call just answered.
    #[wasm_bindgen(js_name = clearStaged)]
    pub fn clear_staged(&self) {
        if let Backend::Gpu(gpu) = &mut self.state.borrow_mut().backend {
            gpu.clear();
        }
    }

    /// Destroys the GPU device as a device loss would (for hosts that need the GPU back, and
    /// to test the fallback): the next call runs on the CPU.
    #[wasm_bindgen(js_name = releaseGpu)]
    pub fn release_gpu(&self) {
        if let Backend::Gpu(gpu) = &self.state.borrow().backend {
            gpu.release_device();
        }
    }

    /// Embeds texts: `[{vector, tokens, truncated}]`, vectors of unit length as `Float32Array`s
    /// (one copy each; serde would cross the boundary once per number, about 1 ms per text).
    pub fn embed(&self, texts: Vec<String>) -> Result<js_sys::Array, JsValue> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let embeddings = self.round(|encoder| encoder.embed(&refs)).map_err(to_js)?;
        embeddings.iter().map(embedding_to_js).collect()
    }

    /// Fuses one query's ranked lists, content-aware when the request has a query or
    /// preferences and the items have texts (see [`fuse`]).
    pub fn fuse(&self, request: JsValue) -> Result<JsValue, JsValue> {
        self.round(|encoder| fuse_with(&encoder, request))
    }
}

/// A policy with its classifier state (cached features of the policy's texts).
#[wasm_bindgen]
pub struct PolicyClassifier {
    classifier: Classifier,
}

#[wasm_bindgen]
impl PolicyClassifier {
    /// Reads and validates the policy JSON; the model's priors apply to standard categories.
    #[wasm_bindgen(constructor)]
    pub fn new(model: &Model, policy_json: &str) -> Result<PolicyClassifier, JsValue> {
        let policy = Policy::from_json(policy_json).map_err(to_js)?;
        let classifier =
            Classifier::new(policy, model.priors.clone(), ClassifierOptions::default())
                .map_err(to_js)?;
        Ok(PolicyClassifier { classifier })
    }

    /// Verdicts for `texts`, in order.
    pub fn classify(&mut self, model: &Model, texts: Vec<String>) -> Result<JsValue, JsValue> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let verdicts = model
            .round(|encoder| self.classifier.classify(&encoder, &refs))
            .map_err(to_js)?;
        serialize(&verdicts)
    }

    /// Applies one edit, e.g. `{op: "add_example", category: "spam", text: "..."}`; a refused
    /// edit changes nothing.
    pub fn edit(&mut self, edit: JsValue) -> Result<(), JsValue> {
        let edit: PolicyEdit = serde_wasm_bindgen::from_value(edit).map_err(|e| {
            js_error(
                ErrorCode::InvalidArgument,
                &format!("not a policy edit: {e}"),
            )
        })?;
        self.classifier
            .edit(|policy| edit.apply(policy))
            .map_err(to_js)
    }

    /// The current policy as JSON.
    #[wasm_bindgen(js_name = policyJson)]
    pub fn policy_json(&self) -> String {
        self.classifier.policy().to_json()
    }
}

/// Stands in for the model where none is loaded: content-aware fusion then fails with
/// `model_required` instead of silently falling back to the classical fusion.
struct NoModel;

#[derive(Debug, thiserror::Error)]
#[error(
    "content-aware fusion (a query or preferences with candidate texts) needs a loaded model: \
     call tamis.fuse(request) on a loaded Tamis instead of fuseLists(request)"
)]
struct ModelRequired;

impl Coded for ModelRequired {
    fn code(&self) -> ErrorCode {
        ErrorCode::ModelRequired
    }
}

impl Encoder for NoModel {
    type Error = ModelRequired;

    fn dimension(&self) -> usize {
        0
    }

    fn embed(&self, _: &[&str]) -> Result<Vec<Embedding>, ModelRequired> {
        Err(ModelRequired)
    }
}

/// Fuses one query's ranked lists without a model:
/// `{lists: [{name, weight?, items: [{id, score?, rank?, text?}]}], method?, normalization?}`
/// with a ranx method (`rrf`, `mnz`, ...) and a normalization (`min-max`, `none`, ...). Every
/// candidate once, best first, with its score and evidence (position in each list, agreement).
#[wasm_bindgen]
pub fn fuse(request: JsValue) -> Result<JsValue, JsValue> {
    fuse_with(&NoModel, request)
}

fn fuse_with<E: Encoder>(encoder: &E, request: JsValue) -> Result<JsValue, JsValue>
where
    E::Error: Coded,
{
    let request: FusionRequest = serde_wasm_bindgen::from_value(request).map_err(|e| {
        js_error(
            ErrorCode::InvalidArgument,
            &format!("not a fusion request: {e}"),
        )
    })?;
    let fused = fuse_request(encoder, &request).map_err(to_js)?;
    serialize(&fused)
}
