//! The device, the compute pipelines, and the model's weights in GPU buffers.

use std::sync::{Arc, Mutex};

use tamis_model::{BertWeights, Dense, LayerNorm, QuantizedMatrix};
use wgpu::util::DeviceExt;

use crate::{AdapterReport, GpuError};

const COMMON: &str = include_str!("shaders/common.wgsl");

/// One compute pipeline per kernel.
pub(crate) struct Kernels {
    pub device: wgpu::Device,
    /// The first uncaptured error or device loss, reported by the call that meets it.
    pub failure: Arc<Mutex<Option<String>>>,
    pub queue: wgpu::Queue,
    pub report: AdapterReport,
    pub embed: wgpu::ComputePipeline,
    pub matmul: wgpu::ComputePipeline,
    pub layer_norm: wgpu::ComputePipeline,
    pub attention: wgpu::ComputePipeline,
    pub pool: wgpu::ComputePipeline,
    pub hidden: usize,
    pub intermediate: usize,
    pub heads: usize,
    pub epsilon: f32,
}

impl Kernels {
    /// Fails with the first error the device reported since it was created, if any.
    pub fn check(&self) -> Result<(), GpuError> {
        match self.failure.lock().map(|slot| slot.clone()) {
            Ok(None) => Ok(()),
            Ok(Some(message)) => Err(GpuError::Lost(message)),
            Err(_) => Err(GpuError::Lost("an earlier call panicked".into())),
        }
    }

    pub async fn new(model: &BertWeights) -> Result<Self, GpuError> {
        let adapter = request_adapter().await?;
        // The token table is the largest buffer bound at once.
        let largest = (model.token_embeddings.values.len() as u64).max(1 << 20);
        let available = adapter.limits();
        if available.max_storage_buffer_binding_size < largest {
            return Err(GpuError::Device(format!(
                "its storage buffers hold at most {} bytes, the token table needs {largest}",
                available.max_storage_buffer_binding_size
            )));
        }
        // The embedding kernel binds 7 storage buffers (the downlevel default allows 4); the
        // largest bindings (token table, intermediate activations) get what the adapter has.
        let limits = wgpu::Limits {
            max_storage_buffers_per_shader_stage: 8,
            max_storage_buffer_binding_size: available.max_storage_buffer_binding_size,
            max_buffer_size: available.max_buffer_size,
            ..wgpu::Limits::downlevel_defaults()
        };
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("tamis"),
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::Device(e.to_string()))?;
        // wgpu panics on an error nobody captures; keep it for the call to report instead.
        let failure = Arc::new(Mutex::new(None));
        let record = failure.clone();
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            if let Ok(mut slot) = record.lock() {
                slot.get_or_insert(error.to_string());
            }
        }));
        let lost = failure.clone();
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut slot) = lost.lock() {
                slot.get_or_insert(format!("device lost ({reason:?}): {message}"));
            }
        });
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let pipeline = |name: &str, source: &str| {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(format!("{COMMON}\n{source}").into()),
            });
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(name),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let embed = pipeline("embed", include_str!("shaders/embed.wgsl"));
        let matmul = pipeline("matmul", include_str!("shaders/matmul.wgsl"));
        let layer_norm = pipeline("layer_norm", include_str!("shaders/layer_norm.wgsl"));
        let attention = pipeline("attention", include_str!("shaders/attention.wgsl"));
        let pool = pipeline("pool", include_str!("shaders/pool.wgsl"));
        if let Some(error) = scope.pop().await {
            return Err(GpuError::Shader(error.to_string()));
        }
        let head_width = model.hidden / model.heads;
        if head_width > 64 || !model.hidden.is_multiple_of(4) {
            return Err(GpuError::Model(tamis_model::ModelError::UnsupportedModel(
                format!(
                    "head width {head_width} or hidden size {} is not supported by the GPU kernels",
                    model.hidden
                ),
            )));
        }
        Ok(Self {
            report: AdapterReport::of(&adapter),
            device,
            failure,
            queue,
            embed,
            matmul,
            layer_norm,
            attention,
            pool,
            hidden: model.hidden,
            intermediate: model
                .layers
                .first()
                .map_or(0, |layer| layer.intermediate.bias.len()),
            heads: model.heads,
            epsilon: model.layer_norm_epsilon,
        })
    }

    fn storage(&self, label: &str, contents: &[u8]) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage: wgpu::BufferUsages::STORAGE,
            })
    }
}

/// The adapter wgpu prefers for compute, without a surface.
pub(crate) async fn request_adapter() -> Result<wgpu::Adapter, GpuError> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            compatible_surface: None,
            ..Default::default()
        })
        .await
        .map_err(|e| GpuError::NoAdapter(e.to_string()))
}

impl AdapterReport {
    /// The report of an adapter; the storage limit is the adapter's, which the encoder asks
    /// for whole.
    fn of(adapter: &wgpu::Adapter) -> Self {
        let info = adapter.get_info();
        // Browsers may keep the description empty (Chromium's SwiftShader does).
        let name = if info.name.is_empty() {
            format!("unnamed {} adapter", info.backend)
        } else {
            info.name
        };
        Self {
            name,
            backend: info.backend.to_string(),
            fallback: info.device_type == wgpu::DeviceType::Cpu,
            max_storage_buffer_binding: adapter.limits().max_storage_buffer_binding_size,
        }
    }

    /// The adapter wgpu would run the encoder on, without creating a device or loading the
    /// model: what backend selection decides on.
    pub async fn find() -> Result<Self, GpuError> {
        request_adapter().await.map(|adapter| Self::of(&adapter))
    }

    /// [`AdapterReport::find`], blocking (not in a browser, where it cannot finish).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn probe() -> Result<Self, GpuError> {
        pollster::block_on(Self::find())
    }
}

/// Int8 values as bytes, in the order given: read back four to a little-endian u32.
fn pack_int8(values: impl Iterator<Item = i8>) -> Vec<u8> {
    values.map(|v| v as u8).collect()
}

fn floats(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A dense layer on the GPU: the weight transposed (outputs x inputs), so each output's
/// inputs are contiguous for the kernel.
pub(crate) struct GpuDense {
    pub weight: wgpu::Buffer,
    pub scales: wgpu::Buffer,
    pub bias: wgpu::Buffer,
}

pub(crate) struct GpuNorm {
    pub gamma: wgpu::Buffer,
    pub beta: wgpu::Buffer,
}

pub(crate) struct GpuLayer {
    pub query: GpuDense,
    pub key: GpuDense,
    pub value: GpuDense,
    pub attention_output: GpuDense,
    pub attention_norm: GpuNorm,
    pub intermediate: GpuDense,
    pub output: GpuDense,
    pub output_norm: GpuNorm,
}

/// The model's parameters in GPU buffers.
pub(crate) struct Weights {
    pub words: wgpu::Buffer,
    pub word_scales: wgpu::Buffer,
    pub positions: wgpu::Buffer,
    pub position_scales: wgpu::Buffer,
    pub token_type: wgpu::Buffer,
    pub embedding_norm: GpuNorm,
    pub layers: Vec<GpuLayer>,
    bytes: u64,
}

/// Creates storage buffers and counts their bytes.
struct Uploader<'a> {
    kernels: &'a Kernels,
    bytes: u64,
}

impl Uploader<'_> {
    fn storage(&mut self, label: &str, contents: &[u8]) -> wgpu::Buffer {
        self.bytes += contents.len() as u64;
        self.kernels.storage(label, contents)
    }

    fn dense(&mut self, label: &str, dense: &Dense) -> GpuDense {
        let QuantizedMatrix {
            rows: inputs,
            columns: outputs,
            values,
            scales,
        } = &dense.weight;
        let transposed = pack_int8(
            (0..*outputs).flat_map(|o| (0..*inputs).map(move |i| values[i * outputs + o])),
        );
        GpuDense {
            weight: self.storage(label, &transposed),
            scales: self.storage(label, &floats(scales)),
            bias: self.storage(label, &floats(&dense.bias)),
        }
    }

    fn norm(&mut self, norm: &LayerNorm) -> GpuNorm {
        GpuNorm {
            gamma: self.storage("gamma", &floats(&norm.gamma)),
            beta: self.storage("beta", &floats(&norm.beta)),
        }
    }

    fn table(&mut self, label: &str, matrix: &QuantizedMatrix) -> (wgpu::Buffer, wgpu::Buffer) {
        (
            self.storage(label, &pack_int8(matrix.values.iter().copied())),
            self.storage(label, &floats(&matrix.scales)),
        )
    }
}

impl Weights {
    pub fn upload(kernels: &Kernels, model: &BertWeights) -> Self {
        let mut up = Uploader { kernels, bytes: 0 };
        let layers = model
            .layers
            .iter()
            .map(|layer| GpuLayer {
                query: up.dense("query", &layer.query),
                key: up.dense("key", &layer.key),
                value: up.dense("value", &layer.value),
                attention_output: up.dense("attention output", &layer.attention_output),
                attention_norm: up.norm(&layer.attention_norm),
                intermediate: up.dense("intermediate", &layer.intermediate),
                output: up.dense("output", &layer.output),
                output_norm: up.norm(&layer.output_norm),
            })
            .collect();
        let (words, word_scales) = up.table("token table", &model.token_embeddings);
        let (positions, position_scales) = up.table("position table", &model.position_embeddings);
        Self {
            words,
            word_scales,
            positions,
            position_scales,
            token_type: up.storage("token type", &floats(&model.token_type_embedding)),
            embedding_norm: up.norm(&model.embedding_norm),
            layers,
            bytes: up.bytes,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}
