//! The model's layer normalizations computed by tamis ([`super::custom_op`]): tract splits
//! ONNX `LayerNormalization` into several ops whose sums run in an order that depends on the
//! architecture; tamis's op sums in a fixed order, in one pass per row. The residual sum
//! each layer norm of a BERT layer reads is added in the same op: a dozen fewer nodes for
//! tract to analyse and optimize at load (a tenth of the graph), and one pass less over the
//! hidden states per residual.

use std::collections::HashMap;

use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::{GraphProto, NodeProto};
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_hir::internal::{expand, InferenceOp};

use super::custom_op::{dot, lane_sum, values, values_mut, Custom, TamisOp};
use super::graph::{remove_unused_nodes, GraphIndex};
use super::integer_matmul::IntegerMatMul;
use crate::threads::{map_row_runs_in_threads, threads_within_a_run};

/// Lets tract's ONNX parser build the nodes [`use_own_layer_norms`] writes.
pub(crate) fn register(register: &mut OnnxOpRegister) {
    register.insert(LayerNorm::OP_TYPE, build);
    register.insert(ResidualLayerNorm::OP_TYPE, build);
}

/// Retypes each `LayerNormalization` over the last axis with a scale and a bias as a
/// `TamisLayerNorm`, or as a `TamisResidualLayerNorm` reading the two terms of its input
/// when that input is a residual sum (see [`residual_sums`]), whose `Add` goes; returns how
/// many layer norms were retyped.
pub(crate) fn use_own_layer_norms(graph: &mut GraphProto) -> usize {
    let residual_sums = residual_sums(graph);
    let mut count = 0;
    for (at, node) in graph.node.iter_mut().enumerate() {
        if !is_own_layer_norm(node) {
            continue;
        }
        match residual_sums.get(&at) {
            Some(terms) => {
                node.op_type = ResidualLayerNorm::OP_TYPE.into();
                node.input.splice(0..1, terms.iter().cloned());
            }
            None => node.op_type = LayerNorm::OP_TYPE.into(),
        }
        count += 1;
    }
    if !residual_sums.is_empty() {
        remove_unused_nodes(graph);
    }
    count
}

/// Whether `node` is a layer norm tamis computes: over the last axis, in f32, with a scale
/// and a bias.
fn is_own_layer_norm(node: &NodeProto) -> bool {
    let attribute = |name: &str| node.attribute.iter().find(|a| a.name == name);
    node.op_type == "LayerNormalization"
        && node.input.len() == 3
        && node.output.len() == 1
        && attribute("axis").is_none_or(|a| a.i == -1)
        && attribute("stash_type").is_none_or(|a| a.i == 1)
}

/// The layer norms whose input is `Add(product, residual)`, read by nothing else: `product`
/// written by a `TamisIntegerMatMul` and `residual` by the previous layer norm, so both are
/// hidden states of the same shape (no broadcast to honour). Maps each such layer norm to
/// the two terms.
fn residual_sums(graph: &GraphProto) -> HashMap<usize, [String; 2]> {
    let index = GraphIndex::new(graph);
    let writer = |value: &str| index.producer(value).map(|at| &graph.node[at]);
    let writes = |value: &str, op_types: &[&str]| {
        writer(value).is_some_and(|n| op_types.contains(&n.op_type.as_str()))
    };
    let norms = ["LayerNormalization", LayerNorm::OP_TYPE];
    (graph.node.iter().enumerate())
        .filter(|(_, node)| is_own_layer_norm(node))
        .filter_map(|(at, norm)| {
            let add = &graph.node[index.single_reader_producer(&norm.input[0])?];
            let [a, b] = add.input.as_slice() else {
                return None;
            };
            let terms = [a, b].map(String::as_str);
            let is_residual_sum = |[product, residual]: [&str; 2]| {
                writes(product, &[IntegerMatMul::OP_TYPE]) && writes(residual, &norms)
            };
            let is_sum = add.op_type == "Add" && add.output.len() == 1;
            (is_sum && (is_residual_sum(terms) || is_residual_sum([b, a].map(String::as_str))))
                .then(|| (at, [a.clone(), b.clone()]))
        })
        .collect()
}

fn build(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let norm = LayerNorm {
        epsilon: node.get_attr_opt("epsilon")?.unwrap_or(1e-5),
    };
    Ok(if node.op_type == ResidualLayerNorm::OP_TYPE {
        (expand(Custom(ResidualLayerNorm(norm))), vec![])
    } else {
        (expand(Custom(norm)), vec![])
    })
}

/// `(x - mean) / sqrt(variance + epsilon) * scale + bias` over the last axis.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LayerNorm {
    epsilon: f32,
}

impl TamisOp for LayerNorm {
    const OP_TYPE: &'static str = "TamisLayerNorm";
    const INPUTS: usize = 3;

    fn info(&self) -> String {
        format!("epsilon {}", self.epsilon)
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<Tensor> {
        let (input, scale, bias) = args_3!(inputs);
        // In place, in the input's tensor when no other op reads it (no copy then).
        let mut output = input.into_tensor();
        let shape: TVec<usize> = output.shape().into();
        self.normalize(values_mut(&mut output)?, &shape, None, &scale, &bias)?;
        Ok(output)
    }
}

impl LayerNorm {
    /// Normalizes each row (last axis of `shape`) of `rows`, plus the `residual` of the same
    /// shape if any, in place; runs of rows split over the threads of the run of texts, in
    /// the threaded wasm module only, as its products' columns are.
    fn normalize(
        &self,
        rows: &mut [f32],
        shape: &[usize],
        residual: Option<&[f32]>,
        scale: &TValue,
        bias: &TValue,
    ) -> TractResult<()> {
        let width = *shape.last().context("an input with no axis")?;
        let (scale, bias) = (values(scale)?, values(bias)?);
        ensure!(
            scale.len() == width && bias.len() == width,
            "{}: scale and bias must have {width} values",
            Self::OP_TYPE
        );
        map_row_runs_in_threads(rows, width, threads_within_a_run(), |first_row, run| {
            if let Some(residual) = residual {
                let residual = &residual[first_row * width..][..run.len()];
                run.iter_mut().zip(residual).for_each(|(x, r)| *x += r);
            }
            for row in run.chunks_exact_mut(width) {
                let mean = lane_sum(row) / width as f32;
                row.iter_mut().for_each(|x| *x -= mean);
                let deviation = (dot(row, row) / width as f32 + self.epsilon).sqrt();
                for ((x, &s), &b) in row.iter_mut().zip(scale).zip(bias) {
                    *x = *x / deviation * s + b;
                }
            }
        });
        Ok(())
    }
}

/// The layer norm of `input + residual`, two tensors of the same shape.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResidualLayerNorm(LayerNorm);

impl TamisOp for ResidualLayerNorm {
    const OP_TYPE: &'static str = "TamisResidualLayerNorm";
    const INPUTS: usize = 4;

    fn info(&self) -> String {
        self.0.info()
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<Tensor> {
        let (input, residual, scale, bias) = args_4!(inputs);
        ensure!(
            input.shape() == residual.shape(),
            "{}: the residual's shape {:?} differs from the input's {:?}",
            Self::OP_TYPE,
            residual.shape(),
            input.shape()
        );
        // In place, in the input's tensor when no other op reads it (no copy then).
        let mut output = input.into_tensor();
        let shape: TVec<usize> = output.shape().into();
        let rows = values_mut(&mut output)?;
        self.0
            .normalize(rows, &shape, Some(values(&residual)?), &scale, &bias)?;
        Ok(output)
    }
}

#[cfg(test)]
mod tests {
    use super::super::custom_op::count_after_tract_passes;
    use super::super::graph::{default_model_proto, op_types};
    use super::super::integer_matmul::use_integer_matmuls;
    use super::*;

    #[test]
    fn every_layer_norm_of_the_default_model_is_retyped_with_its_residual_sum() {
        let mut proto = default_model_proto();
        let graph = proto.graph.as_mut().expect("a graph");
        let adds = |graph: &GraphProto| op_types(graph).iter().filter(|&&t| t == "Add").count();
        use_integer_matmuls(graph);
        let adds_before = adds(graph);
        assert_eq!(use_own_layer_norms(graph), 13, "embeddings + 2 per layer");
        assert_eq!(adds(graph), adds_before - 12, "the residual sums are gone");
        assert_eq!(
            count_after_tract_passes::<LayerNorm>(&proto),
            1,
            "the embeddings'"
        );
        assert_eq!(count_after_tract_passes::<ResidualLayerNorm>(&proto), 12);
    }

    #[test]
    fn a_residual_layer_norm_normalizes_the_sum() {
        let norm = LayerNorm { epsilon: 1e-5 };
        let (input, residual) = (
            tensor2(&[[1f32, -2.0, 0.5]]),
            tensor2(&[[0.25f32, 3.0, 1.0]]),
        );
        let (scale, bias) = (tensor1(&[1f32, 2.0, 0.5]), tensor1(&[0f32, 1.0, -1.0]));
        let sum = tensor2(&[[1.25f32, 1.0, 1.5]]);
        let plain = norm
            .eval(tvec!(sum.into(), scale.clone().into(), bias.clone().into()))
            .unwrap();
        let inputs = |residual: Tensor| {
            tvec!(
                input.clone().into(),
                residual.into(),
                scale.clone().into(),
                bias.clone().into()
            )
        };
        let fused = ResidualLayerNorm(norm.clone());
        assert_eq!(fused.eval(inputs(residual)).unwrap(), plain);
        let error = fused
            .eval(inputs(tensor2(&[[1f32], [2.0], [3.0]])))
            .unwrap_err();
        assert!(error.to_string().contains("differs"), "{error}");
    }

    #[test]
    fn normalizes_each_row() {
        let op = LayerNorm { epsilon: 0.0 };
        let input = tensor2(&[[1f32, 2.0, 3.0, 6.0], [5.0, 5.0, 5.0, 5.0 + 1e-3]]);
        let scale = tensor1(&[1f32, 1.0, 2.0, 1.0]);
        let bias = tensor1(&[0f32, 0.0, 0.0, 10.0]);
        let output = op
            .eval(tvec!(input.into(), scale.into(), bias.into()))
            .unwrap();
        let output = output.try_as_plain_ram().unwrap();
        let output = output.as_slice::<f32>().unwrap();
        // Row 1: mean 3, deviations -2 -1 0 3, standard deviation sqrt(3.5).
        let sd = 3.5f32.sqrt();
        let expected = [-2.0 / sd, -1.0 / sd, 0.0, 3.0 / sd + 10.0];
        for (x, e) in output[..4].iter().zip(expected) {
            assert!((x - e).abs() < 1e-6, "{x} vs {e}");
        }
        assert!(output[4..].iter().all(|x| x.is_finite()));
    }
}
