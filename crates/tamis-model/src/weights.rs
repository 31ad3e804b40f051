//! The default model's parameters read out of its ONNX graph, for encoders that run the
//! architecture themselves (the GPU encoder) instead of the graph.
//!
//! The graph is a BERT encoder exported with int8 weights: each matrix `W` (inputs x outputs,
//! as `MatMul(x, W)` reads it) is `Mul(Cast(W_q), W_scale)` with one scale per output column;
//! the token and position tables have one scale per row. Parameters are found by following
//! the graph from the biases and layer norms, which keep their PyTorch names
//! (`inner.encoder.layer.{i}.attention.self.query.bias`, ...), so a differently exported or
//! different model is refused with a message that names what is missing.

use std::collections::HashMap;

use tract_onnx::pb::{GraphProto, NodeProto, TensorProto};

use crate::onnx_data::{decode_model, f32_values, int8_values};
use crate::{ModelBundle, ModelError};

const ONNX_FLOAT: i32 = 1;
const ONNX_INT8: i32 = 3;

/// An int8 matrix with one f32 scale per row or per column.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedMatrix {
    pub rows: usize,
    pub columns: usize,
    /// Row-major values.
    pub values: Vec<i8>,
    /// One scale per column (weights) or per row (embedding tables).
    pub scales: Vec<f32>,
}

impl QuantizedMatrix {
    /// The matrix stored as an int8 initializer of rank 2 and its float scales (one per row or
    /// per column); `None` when they are not that.
    pub(crate) fn from_onnx(quantized: &TensorProto, scales: &TensorProto) -> Option<Self> {
        if quantized.data_type != ONNX_INT8 || scales.data_type != ONNX_FLOAT {
            return None;
        }
        let [rows, columns] = quantized.dims[..] else {
            return None;
        };
        let (rows, columns) = (usize::try_from(rows).ok()?, usize::try_from(columns).ok()?);
        let values = int8_values(quantized);
        let scales = f32_values(scales);
        (values.len() == rows * columns && (scales.len() == rows || scales.len() == columns))
            .then_some(Self {
                rows,
                columns,
                values,
                scales,
            })
    }
}

/// Layer-norm parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNorm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

/// A dense layer: `x W + bias`, `W` of shape inputs x outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    pub weight: QuantizedMatrix,
    pub bias: Vec<f32>,
}

/// One transformer layer.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderLayer {
    pub query: Dense,
    pub key: Dense,
    pub value: Dense,
    pub attention_output: Dense,
    pub attention_norm: LayerNorm,
    pub intermediate: Dense,
    pub output: Dense,
    pub output_norm: LayerNorm,
}

/// Every parameter of the BERT encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct BertWeights {
    pub hidden: usize,
    pub heads: usize,
    pub layer_norm_epsilon: f32,
    /// Vocabulary x hidden, one scale per row.
    pub token_embeddings: QuantizedMatrix,
    /// Positions x hidden, one scale per row.
    pub position_embeddings: QuantizedMatrix,
    /// Row 0 of the token-type table (tamis feeds type 0 only).
    pub token_type_embedding: Vec<f32>,
    pub embedding_norm: LayerNorm,
    pub layers: Vec<EncoderLayer>,
}

struct Graph<'a> {
    initializers: HashMap<&'a str, &'a TensorProto>,
    producers: HashMap<&'a str, &'a NodeProto>,
    nodes: &'a [NodeProto],
}

fn unsupported(what: impl Into<String>) -> ModelError {
    ModelError::UnsupportedModel(what.into())
}

impl<'a> Graph<'a> {
    fn new(graph: &'a GraphProto) -> Self {
        Self {
            initializers: graph
                .initializer
                .iter()
                .map(|t| (t.name.as_str(), t))
                .collect(),
            producers: graph
                .node
                .iter()
                .flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n)))
                .collect(),
            nodes: &graph.node,
        }
    }

    fn initializer(&self, name: &str) -> Result<&'a TensorProto, ModelError> {
        self.initializers
            .get(name)
            .copied()
            .ok_or_else(|| unsupported(format!("it has no initializer `{name}`")))
    }

    fn floats(&self, name: &str) -> Result<Vec<f32>, ModelError> {
        let tensor = self.initializer(name)?;
        if tensor.data_type != ONNX_FLOAT {
            return Err(unsupported(format!("`{name}` is not float")));
        }
        Ok(f32_values(tensor))
    }

    /// The int8 matrix and scales behind `name`, the output of `Mul(Cast(q), scale)`.
    fn dequantized(&self, name: &str) -> Result<QuantizedMatrix, ModelError> {
        let not_int8 = || unsupported(format!("`{name}` is not an int8 weight with scales"));
        let mul = self
            .producers
            .get(name)
            .filter(|n| n.op_type == "Mul")
            .ok_or_else(not_int8)?;
        let cast = self
            .producers
            .get(mul.input[0].as_str())
            .filter(|n| n.op_type == "Cast")
            .ok_or_else(not_int8)?;
        let quantized = self.initializer(&cast.input[0])?;
        let scales = self.initializer(&mul.input[1])?;
        QuantizedMatrix::from_onnx(quantized, scales).ok_or_else(not_int8)
    }

    fn consumers(&self, name: &'a str) -> impl Iterator<Item = &'a NodeProto> + 'a {
        self.nodes
            .iter()
            .filter(move |n| n.input.iter().any(|i| i == name))
    }

    /// The dense layer whose bias is `bias`: `Add(MatMul(x, W), bias)`.
    fn dense(&self, bias: &'a str) -> Result<Dense, ModelError> {
        let missing = || unsupported(format!("no `MatMul` + `{bias}` dense layer"));
        let add = self
            .consumers(bias)
            .find(|n| n.op_type == "Add")
            .ok_or_else(missing)?;
        let matmul = add
            .input
            .iter()
            .filter_map(|i| self.producers.get(i.as_str()))
            .find(|n| n.op_type == "MatMul")
            .ok_or_else(missing)?;
        Ok(Dense {
            weight: self.dequantized(&matmul.input[1])?,
            bias: self.floats(bias)?,
        })
    }

    fn layer_norm(&self, prefix: &str) -> Result<LayerNorm, ModelError> {
        Ok(LayerNorm {
            gamma: self.floats(&format!("{prefix}.weight"))?,
            beta: self.floats(&format!("{prefix}.bias"))?,
        })
    }

    /// The width of one attention head: the last entry of the shape the query projection is
    /// reshaped to (batch, tokens, heads, head width).
    fn head_width(&self, query_bias: &'a str) -> Result<usize, ModelError> {
        let missing = || unsupported("cannot find the attention head width");
        let add = self
            .consumers(query_bias)
            .find(|n| n.op_type == "Add")
            .ok_or_else(missing)?;
        let reshape = self
            .consumers(add.output[0].as_str())
            .find(|n| n.op_type == "Reshape")
            .ok_or_else(missing)?;
        let concat = self
            .producers
            .get(reshape.input[1].as_str())
            .filter(|n| n.op_type == "Concat")
            .ok_or_else(missing)?;
        let last = self.initializer(concat.input.last().ok_or_else(missing)?)?;
        let width = if last.raw_data.len() == 8 {
            i64::from_le_bytes(last.raw_data[..8].try_into().map_err(|_| missing())?)
        } else {
            *last.int64_data.first().ok_or_else(missing)?
        };
        usize::try_from(width)
            .ok()
            .filter(|&w| w > 0)
            .ok_or_else(missing)
    }

    fn layer_norm_epsilon(&self) -> f32 {
        self.nodes
            .iter()
            .find(|n| n.op_type == "LayerNormalization")
            .and_then(|n| n.attribute.iter().find(|a| a.name == "epsilon"))
            .map_or(1e-12, |a| a.f)
    }
}

impl BertWeights {
    /// Reads the parameters of a verified bundle's model.
    pub fn from_bundle(bundle: &ModelBundle) -> Result<Self, ModelError> {
        let proto = decode_model(&bundle.model)?;
        let graph = proto
            .graph
            .as_ref()
            .ok_or_else(|| ModelError::InvalidOnnx("the file holds no graph".into()))?;
        Self::from_graph(graph)
    }

    fn from_graph(graph: &GraphProto) -> Result<Self, ModelError> {
        let graph = Graph::new(graph);
        let embeddings = "inner.embeddings";
        let token_embeddings =
            graph.dequantized(&format!("{embeddings}.word_embeddings.weight"))?;
        let hidden = token_embeddings.columns;
        let mut layers = Vec::new();
        let mut head_width = None;
        for index in 0.. {
            let prefix = format!("inner.encoder.layer.{index}");
            let query_bias = format!("{prefix}.attention.self.query.bias");
            if !graph.initializers.contains_key(query_bias.as_str()) {
                break;
            }
            let bias = |name: &str| format!("{prefix}.{name}.bias");
            let names = [
                query_bias.clone(),
                bias("attention.self.key"),
                bias("attention.self.value"),
                bias("attention.output.dense"),
                bias("intermediate.dense"),
                bias("output.dense"),
            ];
            let [query, key, value, attention_output, intermediate, output] = [0, 1, 2, 3, 4, 5]
                .map(|i| {
                    let name = graph.initializer(&names[i])?.name.as_str();
                    graph.dense(name)
                });
            if head_width.is_none() {
                let name = graph.initializer(&query_bias)?.name.as_str();
                head_width = Some(graph.head_width(name)?);
            }
            layers.push(EncoderLayer {
                query: query?,
                key: key?,
                value: value?,
                attention_output: attention_output?,
                attention_norm: graph
                    .layer_norm(&format!("{prefix}.attention.output.LayerNorm"))?,
                intermediate: intermediate?,
                output: output?,
                output_norm: graph.layer_norm(&format!("{prefix}.output.LayerNorm"))?,
            });
        }
        let head_width = head_width.ok_or_else(|| unsupported("it has no encoder layers"))?;
        if hidden % head_width != 0 {
            return Err(unsupported(format!(
                "hidden size {hidden} is not a multiple of the head width {head_width}"
            )));
        }
        let token_types = graph.floats(&format!("{embeddings}.token_type_embeddings.weight"))?;
        Ok(Self {
            hidden,
            heads: hidden / head_width,
            layer_norm_epsilon: graph.layer_norm_epsilon(),
            token_embeddings,
            position_embeddings: graph
                .dequantized(&format!("{embeddings}.position_embeddings.weight"))?,
            token_type_embedding: token_types
                .get(..hidden)
                .map(<[f32]>::to_vec)
                .ok_or_else(|| unsupported("the token-type table is smaller than one row"))?,
            embedding_norm: graph.layer_norm(&format!("{embeddings}.LayerNorm"))?,
            layers,
        })
    }
}
