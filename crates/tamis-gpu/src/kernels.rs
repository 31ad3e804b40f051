//! The device, the compute pipelines, and the model's weights in GPU buffers.

use std::sync::{Arc, Mutex};

use tamis_model::{Dense, LayerNorm, Q4Dense, QuantizedMatrix};
use wgpu::util::DeviceExt;

use crate::model::{ModelShape, ModelWeights, WeightFormat};
use crate::{AdapterReport, GpuError};

const COMMON: &str = include_str!("shaders/common.wgsl");
const DENSE: &str = include_str!("shaders/dense.wgsl");
const Q4: &str = include_str!("shaders/q4.wgsl");
const EMBED: &str = include_str!("shaders/embed.wgsl");

/// One compute pipeline per kernel; the embedding and matrix-product kernels are the ones of
/// the model's weight format.
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

    pub async fn new(model: &ModelShape) -> Result<Self, GpuError> {
        let adapter = request_adapter().await?;
        // The token table is the largest buffer bound at once.
        let largest = model.word_table_bytes.max(1 << 20);
        let available = adapter.limits();
        if available.max_storage_buffer_binding_size < largest {
            return Err(GpuError::Device(format!(
                "its storage buffers hold at most {} bytes, the token table needs {largest}",
                available.max_storage_buffer_binding_size
            )));
        }
        // The embedding kernel binds 8 storage buffers (the downlevel default allows 4); the
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
        // A kernel's module: the shared declarations, then `sources` in order.
        let pipeline = |name: &str, sources: &[&str]| {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(
                    std::iter::once(COMMON)
                        .chain(sources.iter().copied())
                        .collect::<Vec<_>>()
                        .join("\n")
                        .into(),
                ),
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
        let (embed, matmul) = match model.format {
            WeightFormat::Int8 => (
                pipeline("embed", &[include_str!("shaders/tables_int8.wgsl"), EMBED]),
                pipeline("matmul", &[DENSE, include_str!("shaders/matmul_int8.wgsl")]),
            ),
            WeightFormat::Q4_0 => (
                pipeline(
                    "embed",
                    &[Q4, include_str!("shaders/tables_q4.wgsl"), EMBED],
                ),
                pipeline(
                    "matmul",
                    &[Q4, DENSE, include_str!("shaders/matmul_q4.wgsl")],
                ),
            ),
        };
        let layer_norm = pipeline("layer_norm", &[include_str!("shaders/layer_norm.wgsl")]);
        let attention = pipeline("attention", &[include_str!("shaders/attention.wgsl")]);
        let pool = pipeline("pool", &[include_str!("shaders/pool.wgsl")]);
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
            intermediate: model.intermediate,
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

/// Q4_0 blocks as stored, padded to whole u32 words for WGSL's `array<u32>`.
fn q4_words(blocks: &[u8]) -> Vec<u8> {
    let mut words = blocks.to_vec();
    words.resize(blocks.len().next_multiple_of(4), 0);
    words
}

/// A dense layer on the GPU: the weight buffers the format's matrix-product kernel binds
/// after its input (int8: the weight transposed to outputs x inputs, so each output's inputs
/// are contiguous, and its scales; Q4_0: the blocks, whose rows are already outputs), then the
/// bias.
pub(crate) struct GpuDense {
    pub weights: Vec<wgpu::Buffer>,
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
    /// The word and position tables' buffers, bound by the format's embedding kernel after
    /// the others (int8: words, their scales, positions, their scales; Q4_0: the word blocks,
    /// the f32 positions).
    pub tables: Vec<wgpu::Buffer>,
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

    fn norm(&mut self, norm: &LayerNorm) -> GpuNorm {
        GpuNorm {
            gamma: self.storage("gamma", &floats(&norm.gamma)),
            beta: self.storage("beta", &floats(&norm.beta)),
        }
    }
}

/// A dense layer of either weight format, uploaded as its kernel reads it.
trait UploadDense {
    fn upload(&self, up: &mut Uploader<'_>, label: &str) -> GpuDense;
}

impl UploadDense for Dense {
    fn upload(&self, up: &mut Uploader<'_>, label: &str) -> GpuDense {
        let QuantizedMatrix {
            rows: inputs,
            columns: outputs,
            values,
            scales,
        } = &self.weight;
        let transposed = pack_int8(
            (0..*outputs).flat_map(|o| (0..*inputs).map(move |i| values[i * outputs + o])),
        );
        GpuDense {
            weights: vec![
                up.storage(label, &transposed),
                up.storage(label, &floats(scales)),
            ],
            bias: up.storage(label, &floats(&self.bias)),
        }
    }
}

impl UploadDense for Q4Dense<'_> {
    fn upload(&self, up: &mut Uploader<'_>, label: &str) -> GpuDense {
        GpuDense {
            weights: vec![up.storage(label, &q4_words(self.blocks))],
            bias: up.storage(label, &floats(&self.bias)),
        }
    }
}

/// The GPU layer of a layer of either architecture (`tamis_model::EncoderLayer`,
/// `tamis_model::XlmRobertaLayer`: the same fields, of each format's types).
macro_rules! upload_layer {
    ($up:expr, $layer:expr) => {
        GpuLayer {
            query: $layer.query.upload($up, "query"),
            key: $layer.key.upload($up, "key"),
            value: $layer.value.upload($up, "value"),
            attention_output: $layer.attention_output.upload($up, "attention output"),
            attention_norm: $up.norm(&$layer.attention_norm),
            intermediate: $layer.intermediate.upload($up, "intermediate"),
            output: $layer.output.upload($up, "output"),
            output_norm: $up.norm(&$layer.output_norm),
        }
    };
}

impl Weights {
    /// Uploads the parameters as the bundle stores them: int8 or 4-bit matrices and tables,
    /// f32 biases, norms and (e5's) position table.
    pub fn upload(kernels: &Kernels, model: &ModelWeights<'_>) -> Self {
        let up = &mut Uploader { kernels, bytes: 0 };
        let (layers, tables, token_type, embedding_norm) = match model {
            ModelWeights::Bert(model) => {
                let mut table = |label: &str, matrix: &QuantizedMatrix| {
                    [
                        up.storage(label, &pack_int8(matrix.values.iter().copied())),
                        up.storage(label, &floats(&matrix.scales)),
                    ]
                };
                let tables = [
                    table("token table", &model.token_embeddings),
                    table("position table", &model.position_embeddings),
                ];
                let layers: Vec<GpuLayer> = (model.layers.iter())
                    .map(|l| upload_layer!(up, l))
                    .collect();
                (
                    layers,
                    tables.into_iter().flatten().collect(),
                    &model.token_type_embedding,
                    &model.embedding_norm,
                )
            }
            ModelWeights::XlmRoberta(model) => {
                let tables = vec![
                    up.storage("token table", &q4_words(model.word_embeddings)),
                    up.storage("position table", &floats(&model.position_embeddings)),
                ];
                let layers: Vec<GpuLayer> = (model.layers.iter())
                    .map(|l| upload_layer!(up, l))
                    .collect();
                (
                    layers,
                    tables,
                    &model.token_type_embedding,
                    &model.embedding_norm,
                )
            }
        };
        Self {
            tables,
            token_type: up.storage("token type", &floats(token_type)),
            embedding_norm: up.norm(embedding_norm),
            layers,
            bytes: up.bytes,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}
