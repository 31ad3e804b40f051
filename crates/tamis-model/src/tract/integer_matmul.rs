//! The model's products by int8 weight matrices, run by tamis's integer kernels
//! ([`super::integer_kernels`]) instead of tract's f32 ones.
//!
//! In the ONNX graph each weight is `MatMul(x, Mul(Cast(W_q), W_scale))`.
//! [`use_integer_matmuls`] replaces the three nodes by one `TamisIntegerMatMul(x)` node that
//! carries `W_q` and `W_scale` as attributes (moved, not copied), and [`register`] teaches
//! tract to build it: the weights are packed once and never exist as f32, which saves the
//! dequantization, tract's loading and packing of 10 million f32 weights, and their memory.

use std::collections::HashSet;
use std::sync::Arc;

use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::{attribute_proto::AttributeType, AttributeProto, GraphProto, NodeProto};
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_hir::internal::{
    check_input_arity, check_output_arity, expand, Expansion, InferenceOp, InferenceResult, Solver,
    TensorProxy,
};

use super::dequantize::find_dequantizations;
use super::graph::GraphIndex;
use super::integer_kernels::{multiply, PackedWeights};
use crate::QuantizedMatrix;

/// The op type of the replacing node.
const OP_TYPE: &str = "TamisIntegerMatMul";

/// Lets tract's ONNX parser build the nodes [`use_integer_matmuls`] writes.
pub(crate) fn register(register: &mut OnnxOpRegister) {
    register.insert(OP_TYPE, build);
}

/// Replaces each `MatMul(x, Mul(Cast(W_q), W_scale))` (int8 `W_q` of shape inputs x outputs,
/// `W_scale` of shape 1 x outputs, both read by nothing else) by a `TamisIntegerMatMul(x)`
/// node; returns how many were replaced.
pub(crate) fn use_integer_matmuls(graph: &mut GraphProto) -> usize {
    let index = GraphIndex::new(graph);
    let read_once = |name: &str| index.single_consumer(name).is_some();
    let candidates: Vec<(usize, [usize; 2], [String; 2])> = find_dequantizations(graph)
        .into_iter()
        .filter(|d| !d.per_row && read_once(&d.quantized) && read_once(&d.scale))
        .filter_map(|d| {
            let matmul = d.single_consumer?;
            let weight = &graph.node[d.mul_node].output[0];
            (graph.node[matmul].op_type == "MatMul"
                && graph.node[matmul].input.len() == 2
                && graph.node[matmul].input[1] == *weight)
                .then_some((matmul, [d.cast_node, d.mul_node], [d.quantized, d.scale]))
        })
        .collect();
    let mut removed = HashSet::new();
    for (matmul, dequantization, [quantized, scale]) in candidates {
        let find =
            |graph: &GraphProto, name: &str| graph.initializer.iter().position(|t| t.name == name);
        if find(graph, &quantized).is_none() || find(graph, &scale).is_none() {
            continue;
        }
        let mut take = |name: &str| find(graph, name).map(|at| graph.initializer.swap_remove(at));
        let attributes =
            [("weights", take(&quantized)), ("scales", take(&scale))].map(|(name, tensor)| {
                AttributeProto {
                    name: name.into(),
                    r#type: AttributeType::Tensor.into(),
                    t: tensor,
                    ..Default::default()
                }
            });
        let node = &mut graph.node[matmul];
        node.op_type = OP_TYPE.into();
        node.input.truncate(1);
        node.attribute = attributes.into();
        removed.extend(dequantization);
    }
    let nodes = std::mem::take(&mut graph.node);
    graph.node = nodes
        .into_iter()
        .enumerate()
        .filter(|(index, _)| !removed.contains(index))
        .map(|(_, node)| node)
        .collect();
    removed.len() / 2
}

/// Builds a `TamisIntegerMatMul` node: packs its weights.
fn build(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let weights: &tract_onnx::pb::TensorProto = node.get_attr("weights")?;
    let scales: &tract_onnx::pb::TensorProto = node.get_attr("scales")?;
    let matrix = QuantizedMatrix::from_onnx(weights, scales).with_context(|| {
        format!(
            "{}: `weights` must be an int8 matrix and `scales` floats",
            node.name
        )
    })?;
    let packed = PackedWeights::new(&matrix)
        .with_context(|| format!("{}: weights and scales do not fit together", node.name))?;
    let op = IntegerMatMul {
        weights: Arc::new(packed),
    };
    Ok((expand(op), vec![]))
}

/// `x W` for the last axis of `x`, `W` int8 with one scale per output.
#[derive(Debug, Clone)]
pub(crate) struct IntegerMatMul {
    weights: Arc<PackedWeights>,
}

impl PartialEq for IntegerMatMul {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.weights, &other.weights)
    }
}

impl Eq for IntegerMatMul {}

impl Op for IntegerMatMul {
    fn name(&self) -> StaticName {
        OP_TYPE.into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "int8 weights {}x{}, int16 activations",
            self.weights.inputs(),
            self.weights.outputs()
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for IntegerMatMul {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let (inputs, outputs) = (self.weights.inputs(), self.weights.outputs());
        let mut shape: TVec<usize> = input.shape().into();
        ensure!(
            shape.last() == Some(&inputs),
            "{OP_TYPE}: expected a last axis of {inputs}, got shape {shape:?}"
        );
        let activations = input.try_as_plain_ram()?;
        let product = multiply(activations.as_slice::<f32>()?, &self.weights);
        *shape.last_mut().expect("checked above") = outputs;
        Ok(tvec!(Tensor::from_shape(&shape, &product)?.into_tvalue()))
    }
}

impl TypedOp for IntegerMatMul {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape = inputs[0].shape.to_tvec();
        ensure!(inputs[0].datum_type == f32::datum_type());
        ensure!(shape.last().and_then(|d| d.to_usize().ok()) == Some(self.weights.inputs()));
        *shape.last_mut().expect("checked above") = self.weights.outputs().into();
        Ok(tvec!(f32::fact(shape)))
    }
}

impl Expansion for IntegerMatMul {
    fn name(&self) -> StaticName {
        OP_TYPE.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, f32::datum_type())?;
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&inputs[0].rank, &outputs[0].rank)?;
        let (k, n) = (self.weights.inputs(), self.weights.outputs());
        s.given(&inputs[0].rank, move |s, rank| {
            let Some(last) = usize::try_from(rank).ok().and_then(|r| r.checked_sub(1)) else {
                bail!("{OP_TYPE}: the input has no axis");
            };
            for axis in 0..last {
                s.equals(&inputs[0].shape[axis], &outputs[0].shape[axis])?;
            }
            s.equals(&inputs[0].shape[last], k.to_dim())?;
            s.equals(&outputs[0].shape[last], n.to_dim())
        })
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.clone(), inputs)
    }
}

#[cfg(test)]
mod tests {
    use tract_onnx::prelude::{Framework, InferenceModelExt};

    use super::super::graph::default_model_proto;
    use super::*;

    #[test]
    fn every_weight_product_of_the_default_model_runs_on_integers() {
        let mut proto = default_model_proto();
        let graph = proto.graph.as_mut().expect("a graph");
        let initializers = graph.initializer.len();
        assert_eq!(
            use_integer_matmuls(graph),
            36,
            "6 layers x (query, key, value, attention output, intermediate, output)"
        );
        assert_eq!(
            graph.initializer.len(),
            initializers - 72,
            "weights moved out"
        );
        let mut onnx = tract_onnx::onnx();
        register(&mut onnx.op_register);
        let model = onnx.model_for_proto_model(&proto).unwrap();
        let optimized = model.into_optimized().unwrap();
        let integer = optimized
            .nodes()
            .iter()
            .filter(|n| n.op_is::<IntegerMatMul>())
            .count();
        assert_eq!(integer, 36, "all of them survive tract's optimizer");
    }
}
