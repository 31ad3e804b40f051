//! The model's layer normalizations computed by tamis ([`super::custom_op`]): tract splits
//! ONNX `LayerNormalization` into several ops whose sums run in an order that depends on the
//! architecture; tamis's op sums in a fixed order, in one pass per row.

use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::{GraphProto, NodeProto};
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_hir::internal::{expand, InferenceOp};

use super::custom_op::{dot, lane_sum, values, Custom, TamisOp};

/// Lets tract's ONNX parser build the nodes [`use_own_layer_norms`] writes.
pub(crate) fn register(register: &mut OnnxOpRegister) {
    register.insert(LayerNorm::OP_TYPE, build);
}

/// Retypes each `LayerNormalization` over the last axis with a scale and a bias as a
/// `TamisLayerNorm`; returns how many.
pub(crate) fn use_own_layer_norms(graph: &mut GraphProto) -> usize {
    let mut count = 0;
    for node in &mut graph.node {
        let attribute = |name: &str| node.attribute.iter().find(|a| a.name == name);
        let over_last_axis = attribute("axis").is_none_or(|a| a.i == -1);
        let in_f32 = attribute("stash_type").is_none_or(|a| a.i == 1);
        if node.op_type == "LayerNormalization"
            && node.input.len() == 3
            && node.output.len() == 1
            && over_last_axis
            && in_f32
        {
            node.op_type = LayerNorm::OP_TYPE.into();
            count += 1;
        }
    }
    count
}

fn build(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let epsilon = node.get_attr_opt("epsilon")?.unwrap_or(1e-5);
    Ok((expand(Custom(LayerNorm { epsilon })), vec![]))
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
        let width = *input.shape().last().context("an input with no axis")?;
        let (scale, bias) = (values(&scale)?, values(&bias)?);
        ensure!(
            scale.len() == width && bias.len() == width,
            "{}: scale and bias must have {width} values",
            Self::OP_TYPE
        );
        let mut output = values(&input)?.to_vec();
        for row in output.chunks_exact_mut(width) {
            let mean = lane_sum(row) / width as f32;
            row.iter_mut().for_each(|x| *x -= mean);
            let deviation = (dot(row, row) / width as f32 + self.epsilon).sqrt();
            for ((x, &s), &b) in row.iter_mut().zip(scale).zip(bias) {
                *x = *x / deviation * s + b;
            }
        }
        Tensor::from_shape(input.shape(), &output)
    }
}

#[cfg(test)]
mod tests {
    use super::super::custom_op::count_after_optimization;
    use super::super::graph::default_model_proto;
    use super::*;

    #[test]
    fn every_layer_norm_of_the_default_model_is_retyped() {
        let mut proto = default_model_proto();
        let graph = proto.graph.as_mut().expect("a graph");
        assert_eq!(use_own_layer_norms(graph), 13, "embeddings + 2 per layer");
        assert_eq!(count_after_optimization::<LayerNorm>(&proto), 13);
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
