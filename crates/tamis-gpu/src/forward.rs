//! One batch through the encoder: the activation buffers (grown to the largest batch seen,
//! then reused), the bind groups of every step, and the dispatches of a forward pass.

use tamis_model::Conventions;

use crate::kernels::{GpuDense, GpuNorm, Kernels, Weights};
use crate::GpuError;

const WORKGROUP: u32 = 64;

/// What a uniform `Params` holds for one kind of step (see shaders/common.wgsl).
#[derive(Debug, Clone, Copy, Default)]
struct Params {
    rows: u32,
    k: u32,
    n: u32,
    seq: u32,
    batch: u32,
    head_width: u32,
    flag: u32,
    epsilon: f32,
    score_scale: f32,
}

impl Params {
    /// The WGSL struct's bytes: ten 4-byte fields padded to 48.
    fn bytes(&self) -> [u8; 48] {
        let fields = [
            self.rows,
            self.k,
            self.n,
            self.seq,
            self.batch,
            self.head_width,
            self.flag,
            0,
            self.epsilon.to_bits(),
            self.score_scale.to_bits(),
            0,
            0,
        ];
        let mut bytes = [0u8; 48];
        for (chunk, field) in bytes.chunks_exact_mut(4).zip(fields) {
            chunk.copy_from_slice(&field.to_le_bytes());
        }
        bytes
    }
}

/// The kinds of step, each with its own uniform buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Embed,
    EmbeddingNorm,
    ResidualNorm,
    Project,
    Expand,
    Contract,
    Attention,
    Pool,
}

const STEPS: [Step; 8] = [
    Step::Embed,
    Step::EmbeddingNorm,
    Step::ResidualNorm,
    Step::Project,
    Step::Expand,
    Step::Contract,
    Step::Attention,
    Step::Pool,
];

/// The sizes of one batch.
#[derive(Debug, Clone, Copy)]
struct Shape {
    texts: u32,
    seq: u32,
    hidden: u32,
    intermediate: u32,
    heads: u32,
}

impl Shape {
    fn tokens(&self) -> u32 {
        self.texts * self.seq
    }

    fn params(&self, step: Step, epsilon: f32) -> Params {
        let (hidden, tokens) = (self.hidden, self.tokens());
        let head_width = hidden / self.heads;
        let base = Params {
            rows: tokens,
            n: hidden,
            seq: self.seq,
            batch: self.texts,
            epsilon,
            ..Params::default()
        };
        match step {
            Step::Embed | Step::Pool | Step::EmbeddingNorm => base,
            Step::ResidualNorm => Params { flag: 1, ..base },
            Step::Project => Params { k: hidden, ..base },
            Step::Expand => Params {
                k: hidden,
                n: self.intermediate,
                flag: 1,
                ..base
            },
            Step::Contract => Params {
                k: self.intermediate,
                ..base
            },
            Step::Attention => Params {
                head_width,
                score_scale: 1.0 / (head_width as f32).sqrt(),
                ..base
            },
        }
    }

    fn workgroups(&self, step: Step) -> (u32, u32, u32) {
        let over = |count: u32| count.div_ceil(WORKGROUP);
        let tokens = self.tokens();
        match step {
            Step::Embed | Step::Project | Step::Contract => (over(self.hidden), tokens, 1),
            Step::Expand => (over(self.intermediate), tokens, 1),
            Step::EmbeddingNorm | Step::ResidualNorm => (over(tokens), 1, 1),
            Step::Attention => (over(self.seq), self.heads, self.texts),
            Step::Pool => (over(self.hidden), self.texts, 1),
        }
    }
}

/// Activation buffers for up to `tokens` tokens and `texts` texts, with the bind group of
/// every dispatch of a forward pass.
pub(crate) struct Workspace {
    tokens: usize,
    texts: usize,
    ids: wgpu::Buffer,
    position_ids: wgpu::Buffer,
    mask: wgpu::Buffer,
    pooled: wgpu::Buffer,
    readback: wgpu::Buffer,
    uniforms: Vec<wgpu::Buffer>,
    dispatches: Vec<(Step, wgpu::BindGroup)>,
    bytes: u64,
}

impl Workspace {
    fn new(kernels: &Kernels, weights: &Weights, tokens: usize, texts: usize) -> Self {
        let device = &kernels.device;
        let (hidden, intermediate) = (kernels.hidden as u64, kernels.intermediate as u64);
        let mut bytes = 0u64;
        let mut buffer = |label: &str, size: u64, usage: wgpu::BufferUsages| {
            bytes += size;
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        let per_token = tokens as u64 * 4;
        let ids = buffer("ids", per_token, storage);
        let position_ids = buffer("position ids", per_token, storage);
        let mask = buffer("mask", per_token, storage);
        let [input, x, q, k, v, context, x1] = [
            "embedded", "hidden", "query", "key", "value", "context", "attended",
        ]
        .map(|label| buffer(label, per_token * hidden, storage));
        let inner = buffer("intermediate", per_token * intermediate, storage);
        let pooled_size = texts as u64 * hidden * 4;
        let pooled = buffer(
            "pooled",
            pooled_size,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let readback = buffer(
            "readback",
            pooled_size,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let uniforms: Vec<wgpu::Buffer> = STEPS
            .iter()
            .map(|_| {
                buffer(
                    "params",
                    48,
                    wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                )
            })
            .collect();
        // STEPS lists every step in declaration order, so a step's index is its uniform's.
        let uniform = |step: Step| &uniforms[step as usize];
        let bind = |step: Step, pipeline: &wgpu::ComputePipeline, buffers: &[&wgpu::Buffer]| {
            let entries: Vec<wgpu::BindGroupEntry> = std::iter::once(uniform(step))
                .chain(buffers.iter().copied())
                .enumerate()
                .map(|(binding, buffer)| wgpu::BindGroupEntry {
                    binding: binding as u32,
                    resource: buffer.as_entire_binding(),
                })
                .collect();
            let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            });
            (step, group)
        };
        let dense = |step: Step, input: &wgpu::Buffer, layer: &GpuDense, out: &wgpu::Buffer| {
            let buffers: Vec<&wgpu::Buffer> = std::iter::once(input)
                .chain(&layer.weights)
                .chain([&layer.bias, out])
                .collect();
            bind(step, &kernels.matmul, &buffers)
        };
        let norm = |step: Step, a: &wgpu::Buffer, residual: &wgpu::Buffer, n: &GpuNorm, out| {
            bind(
                step,
                &kernels.layer_norm,
                &[a, residual, &n.gamma, &n.beta, out],
            )
        };
        let w = weights;
        let embed_buffers: Vec<&wgpu::Buffer> = [&ids, &position_ids, &w.token_type, &input]
            .into_iter()
            .chain(&w.tables)
            .collect();
        let mut dispatches = vec![
            bind(Step::Embed, &kernels.embed, &embed_buffers),
            norm(Step::EmbeddingNorm, &input, &input, &w.embedding_norm, &x),
        ];
        for layer in &w.layers {
            dispatches.extend([
                dense(Step::Project, &x, &layer.query, &q),
                dense(Step::Project, &x, &layer.key, &k),
                dense(Step::Project, &x, &layer.value, &v),
                bind(
                    Step::Attention,
                    &kernels.attention,
                    &[&q, &k, &v, &mask, &context],
                ),
                dense(Step::Project, &context, &layer.attention_output, &input),
                norm(Step::ResidualNorm, &input, &x, &layer.attention_norm, &x1),
                dense(Step::Expand, &x1, &layer.intermediate, &inner),
                dense(Step::Contract, &inner, &layer.output, &input),
                norm(Step::ResidualNorm, &input, &x1, &layer.output_norm, &x),
            ]);
        }
        dispatches.push(bind(Step::Pool, &kernels.pool, &[&x, &mask, &pooled]));
        Self {
            tokens,
            texts,
            ids,
            position_ids,
            mask,
            pooled,
            readback,
            uniforms,
            dispatches,
            bytes,
        }
    }

    /// Bytes of GPU memory held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// A forward pass of the encoder.
pub(crate) struct Forward<'a> {
    pub kernels: &'a Kernels,
    pub weights: &'a Weights,
    /// The architecture's pad id and first position row.
    pub conventions: Conventions,
}

impl Forward<'_> {
    /// Runs one batch of token ids (padded here to the longest) and returns each text's mean
    /// hidden state over its tokens. `workspace` is grown when the batch does not fit.
    pub async fn run(
        &self,
        workspace: &mut Option<Workspace>,
        batch: &[&[u32]],
    ) -> Result<Vec<Vec<f32>>, GpuError> {
        let kernels = self.kernels;
        kernels.check()?;
        let seq = batch
            .iter()
            .map(|text| text.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let shape = Shape {
            texts: batch.len() as u32,
            seq: seq as u32,
            hidden: kernels.hidden as u32,
            intermediate: kernels.intermediate as u32,
            heads: kernels.heads as u32,
        };
        let tokens = batch.len() * seq;
        let fits = workspace
            .as_ref()
            .is_some_and(|w| w.tokens >= tokens && w.texts >= batch.len());
        if !fits {
            *workspace = Some(Workspace::new(
                kernels,
                self.weights,
                tokens.next_power_of_two(),
                batch.len().next_power_of_two(),
            ));
        }
        let workspace = workspace
            .as_ref()
            .ok_or_else(|| GpuError::Lost("no workspace".into()))?;
        // Texts padded with the architecture's pad id, positions numbered from its first
        // position row in every text (padding's positions are read, then masked out).
        let Conventions {
            pad_id,
            first_position,
        } = self.conventions;
        let mut ids = vec![pad_id; tokens];
        let mut mask = vec![0u32; tokens];
        for (row, text) in batch.iter().enumerate() {
            ids[row * seq..row * seq + text.len()].copy_from_slice(text);
            mask[row * seq..row * seq + text.len()].fill(1);
        }
        let position_ids: Vec<u32> = (0..tokens)
            .map(|token| (first_position + token % seq) as u32)
            .collect();
        let words =
            |values: &[u32]| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
        let queue = &kernels.queue;
        queue.write_buffer(&workspace.ids, 0, &words(&ids));
        queue.write_buffer(&workspace.position_ids, 0, &words(&position_ids));
        queue.write_buffer(&workspace.mask, 0, &words(&mask));
        for (step, uniform) in STEPS.iter().zip(&workspace.uniforms) {
            queue.write_buffer(uniform, 0, &shape.params(*step, kernels.epsilon).bytes());
        }
        let mut encoder = kernels
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            for (step, group) in &workspace.dispatches {
                pass.set_pipeline(self.pipeline(*step));
                pass.set_bind_group(0, group, &[]);
                let (x, y, z) = shape.workgroups(*step);
                pass.dispatch_workgroups(x, y, z);
            }
        }
        let pooled_bytes = (batch.len() * kernels.hidden * 4) as u64;
        encoder.copy_buffer_to_buffer(&workspace.pooled, 0, &workspace.readback, 0, pooled_bytes);
        queue.submit([encoder.finish()]);
        let values = read_back(&kernels.device, &workspace.readback, pooled_bytes).await;
        kernels.check()?;
        let values = values?;
        Ok(values.chunks(kernels.hidden).map(<[f32]>::to_vec).collect())
    }

    fn pipeline(&self, step: Step) -> &wgpu::ComputePipeline {
        let k = self.kernels;
        match step {
            Step::Embed => &k.embed,
            Step::EmbeddingNorm | Step::ResidualNorm => &k.layer_norm,
            Step::Project | Step::Expand | Step::Contract => &k.matmul,
            Step::Attention => &k.attention,
            Step::Pool => &k.pool,
        }
    }
}

/// Waits for the queue and reads the first `size` bytes of a mappable buffer as f32.
async fn read_back(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    size: u64,
) -> Result<Vec<f32>, GpuError> {
    let slice = buffer.slice(..size);
    let (sender, receiver) = futures_channel::oneshot::channel();
    slice.map_async(wgpu::MapMode::Read, move |result| {
        let _ = sender.send(result);
    });
    // Natively the mapping completes inside this poll; in a browser the event loop completes
    // it while the receiver is awaited (there, poll does nothing).
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| GpuError::Lost(e.to_string()))?;
    receiver
        .await
        .map_err(|_| GpuError::Lost("the device dropped the read-back".into()))?
        .map_err(|e| GpuError::Lost(e.to_string()))?;
    let values = slice
        .get_mapped_range()
        .map_err(|e| GpuError::Lost(e.to_string()))?
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    buffer.unmap();
    Ok(values)
}
