//! The backend vocabulary, defined once for the CLI, the wasm bindings and the npm package:
//! what a caller may ask for ([`BackendPreference`]: `auto`, `cpu`, `gpu`), what runs
//! ([`BackendKind`]: `cpu`, `gpu`) and why ([`SelectionReason`]).

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use tamis_model::Architecture;

use crate::GpuError;

/// Which backend the caller asks for.
///
/// ```
/// use tamis_gpu::BackendPreference;
///
/// let names: Vec<&str> = BackendPreference::ALL.iter().map(|p| p.name()).collect();
/// assert_eq!(names, ["auto", "cpu", "gpu"]);
/// assert_eq!("gpu".parse::<BackendPreference>()?, BackendPreference::Gpu);
/// assert_eq!(BackendPreference::Cpu.to_string(), "cpu");
/// assert!("webgpu".parse::<BackendPreference>().is_err());
/// # Ok::<(), tamis_gpu::UnknownBackend>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendPreference {
    /// The GPU when its adapter is hardware and the model's shaders compile; the CPU otherwise.
    Auto,
    /// The CPU.
    Cpu,
    /// The GPU, even a software adapter; an error when there is none.
    Gpu,
}

impl BackendPreference {
    /// Every preference, in the order they are listed to users.
    pub const ALL: [BackendPreference; 3] = [
        BackendPreference::Auto,
        BackendPreference::Cpu,
        BackendPreference::Gpu,
    ];

    /// The name users write: `auto`, `cpu` or `gpu`.
    pub fn name(self) -> &'static str {
        match self {
            BackendPreference::Auto => "auto",
            BackendPreference::Cpu => "cpu",
            BackendPreference::Gpu => "gpu",
        }
    }
}

impl fmt::Display for BackendPreference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A backend name that is not one of [`BackendPreference::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown backend {0:?}: use auto, cpu or gpu")]
pub struct UnknownBackend(pub String);

impl FromStr for BackendPreference {
    type Err = UnknownBackend;

    /// Parses a [`BackendPreference::name`], exactly (lowercase).
    fn from_str(name: &str) -> Result<Self, UnknownBackend> {
        BackendPreference::ALL
            .into_iter()
            .find(|preference| preference.name() == name)
            .ok_or_else(|| UnknownBackend(name.to_string()))
    }
}

/// The backend that runs: the GPU encoder (wgpu: Vulkan natively, WebGPU in a browser) or the
/// CPU one (tract, compiled to wasm in a browser).
///
/// ```
/// use tamis_gpu::BackendKind;
///
/// assert_eq!(BackendKind::Gpu.name(), "gpu");
/// assert_eq!(BackendKind::Cpu.to_string(), "cpu");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Cpu,
    Gpu,
}

impl BackendKind {
    /// The name reported to users: `cpu` or `gpu`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Gpu => "gpu",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the running backend runs; its `Display` is the sentence reported to users.
///
/// ```
/// use tamis_gpu::{BackendKind, SelectionReason};
///
/// assert_eq!(SelectionReason::Asked(BackendKind::Cpu).to_string(), "asked for the CPU");
/// let software = SelectionReason::SoftwareAdapter { adapter: "llvmpipe".into() };
/// assert_eq!(
///     software.to_string(),
///     "the only GPU adapter, llvmpipe, is a software one: the CPU is faster"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SelectionReason {
    /// The caller asked for this backend.
    #[error("asked for the {}", .0.name().to_uppercase())]
    Asked(BackendKind),
    /// Under `auto`: a hardware adapter runs the model.
    #[error("GPU adapter {adapter} found")]
    HardwareAdapter { adapter: String },
    /// Under `auto`: the only adapter is a software one (lavapipe, SwiftShader), slower than
    /// the CPU encoder, so the model is not uploaded to it.
    #[error("the only GPU adapter, {adapter}, is a software one: the CPU is faster")]
    SoftwareAdapter { adapter: String },
    /// Under `auto`: no adapter, or none usable for compute.
    #[error("no usable GPU: {detail}")]
    NoAdapter { detail: String },
    /// Under `auto`: an adapter was found but cannot run the model (device limits, shaders).
    #[error("no usable GPU: {detail}")]
    AdapterCannotRunModel { detail: String },
    /// Under `auto`: the GPU encoder does not run this model's architecture yet.
    #[error("the GPU encoder does not run {architecture} models: the CPU runs it")]
    ArchitectureNotOnGpu { architecture: Architecture },
    /// The JavaScript host has no WebGPU at all (`navigator.gpu` is missing).
    #[error("this JavaScript host has no WebGPU (navigator.gpu is missing)")]
    NoWebGpu,
    /// The GPU failed during use; the CPU runs every call since then.
    #[error("the GPU failed during use ({detail}); on the CPU since then")]
    GpuLost { detail: String },
}

impl SelectionReason {
    /// Why `auto` falls back to the CPU after the GPU encoder could not start with `error`.
    pub fn gpu_unusable(error: &GpuError) -> Self {
        let detail = error.to_string();
        match error {
            GpuError::NoAdapter(_) => SelectionReason::NoAdapter { detail },
            _ => SelectionReason::AdapterCannotRunModel { detail },
        }
    }
}
