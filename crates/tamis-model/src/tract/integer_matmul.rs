//! The model's products by int8 weight matrices, run by tamis's integer kernels
//! ([`super::integer_kernels`]) instead of tract's f32 ones.
//!
//! In the ONNX graph each weight is `MatMul(x, Mul(Cast(W_q), W_scale))`, most followed by
//! `Add(·, bias)`. [`use_integer_matmuls`] replaces these nodes by one `TamisIntegerMatMul(x)`
//! node that carries `W_q`, `W_scale` and the bias as attributes (moved, not copied), and
//! [`register`] teaches tract to build it: the weights are packed once and never exist as f32,
//! which saves the dequantization, tract's loading and packing of 10 million f32 weights,
//! their memory, and a pass over the output for the bias.

use std::collections::HashSet;
use std::sync::Arc;

use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::{
    attribute_proto::AttributeType, AttributeProto, GraphProto, NodeProto, TensorProto,
};
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_hir::internal::{expand, InferenceOp};

use super::custom_op::{values, values_mut, Custom, TamisOp};
use super::dequantize::find_dequantizations;
use super::graph::{GraphIndex, ONNX_FLOAT};
use super::integer_kernels::{multiply, PackedWeights};
use crate::onnx_data::f32_values;
use crate::threads::threads_within_a_run;
use crate::QuantizedMatrix;

/// Lets tract's ONNX parser build the nodes [`use_integer_matmuls`] writes.
pub(crate) fn register(register: &mut OnnxOpRegister) {
    register.insert(IntegerMatMul::OP_TYPE, build);
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
    // `Add(product, bias)` of a float initializer read by that `Add` alone, per product.
    let biases: Vec<Option<(usize, String)>> = candidates
        .iter()
        .map(|(matmul, ..)| {
            let add = index.single_consumer(&graph.node[*matmul].output[0])?;
            let node = &graph.node[add];
            let product = &graph.node[*matmul].output[0];
            let bias = node.input.iter().find(|i| *i != product)?;
            let is_vector = graph
                .initializer
                .iter()
                .any(|t| t.name == *bias && t.data_type == ONNX_FLOAT && t.dims.len() == 1);
            (node.op_type == "Add" && node.input.len() == 2 && is_vector && read_once(bias))
                .then(|| (add, bias.clone()))
        })
        .collect();
    let mut removed = HashSet::new();
    let mut replaced = 0;
    for ((matmul, dequantization, [quantized, scale]), bias) in candidates.into_iter().zip(biases) {
        let find =
            |graph: &GraphProto, name: &str| graph.initializer.iter().position(|t| t.name == name);
        if find(graph, &quantized).is_none() || find(graph, &scale).is_none() {
            continue;
        }
        let mut output = graph.node[matmul].output[0].clone();
        let mut moved = vec![("weights", quantized), ("scales", scale)];
        if let Some((add, bias)) = bias {
            moved.push(("bias", bias));
            output = graph.node[add].output[0].clone();
            removed.insert(add);
        }
        let attributes = moved
            .into_iter()
            .map(|(attribute, initializer)| {
                let tensor = find(graph, &initializer).map(|at| graph.initializer.swap_remove(at));
                tensor_attribute(attribute, tensor)
            })
            .collect();
        let node = &mut graph.node[matmul];
        node.op_type = IntegerMatMul::OP_TYPE.into();
        node.input.truncate(1);
        node.output = vec![output];
        node.attribute = attributes;
        removed.extend(dequantization);
        replaced += 1;
    }
    let nodes = std::mem::take(&mut graph.node);
    graph.node = nodes
        .into_iter()
        .enumerate()
        .filter(|(index, _)| !removed.contains(index))
        .map(|(_, node)| node)
        .collect();
    replaced
}

fn tensor_attribute(name: &str, tensor: Option<TensorProto>) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Tensor.into(),
        t: tensor,
        ..Default::default()
    }
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
    let bias = match node.get_attr_opt::<&TensorProto>("bias")? {
        Some(bias) if bias.data_type == ONNX_FLOAT => Some(Arc::new(f32_values(bias))),
        Some(_) => bail!("{}: `bias` must be floats", node.name),
        None => None,
    };
    if let Some(bias) = &bias {
        ensure!(
            bias.len() == packed.outputs(),
            "{}: {} bias values for {} outputs",
            node.name,
            bias.len(),
            packed.outputs()
        );
    }
    let op = IntegerMatMul {
        weights: Arc::new(packed),
        bias,
    };
    Ok((expand(Custom(op)), vec![]))
}

/// `x W + bias` for the last axis of `x`, `W` int8 with one scale per output; the output
/// columns split, in the threaded wasm module, over the threads this run of texts was lent
/// ([`threads_within_a_run`]).
#[derive(Debug, Clone)]
pub(crate) struct IntegerMatMul {
    weights: Arc<PackedWeights>,
    bias: Option<Arc<Vec<f32>>>,
}

impl PartialEq for IntegerMatMul {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.weights, &other.weights)
    }
}

impl TamisOp for IntegerMatMul {
    const OP_TYPE: &'static str = "TamisIntegerMatMul";
    const INPUTS: usize = 1;

    fn input_width(&self) -> Option<usize> {
        Some(self.weights.inputs())
    }

    fn output_width(&self) -> Option<usize> {
        Some(self.weights.outputs())
    }

    fn info(&self) -> String {
        format!(
            "int8 weights {}x{}, int16 activations",
            self.weights.inputs(),
            self.weights.outputs()
        )
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<Tensor> {
        let input = args_1!(inputs);
        let (inputs, outputs) = (self.weights.inputs(), self.weights.outputs());
        let mut shape: TVec<usize> = input.shape().into();
        ensure!(
            shape.last() == Some(&inputs),
            "{}: expected a last axis of {inputs}, got shape {shape:?}",
            Self::OP_TYPE
        );
        // One text per call on 2 threads: its run's products split over both, in the threaded
        // wasm module only.
        let threads = threads_within_a_run();
        *shape.last_mut().expect("checked above") = outputs;
        let mut output = Tensor::zero::<f32>(&shape)?;
        multiply(
            values(&input)?,
            &self.weights,
            self.bias.as_deref().map(Vec::as_slice),
            threads,
            values_mut(&mut output)?,
        );
        Ok(output)
    }
}

#[cfg(test)]
mod tests {
    use super::super::custom_op::count_after_tract_passes;
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
            initializers - 3 * 36,
            "weights, scales and biases moved out"
        );
        let integer = count_after_tract_passes::<IntegerMatMul>(&proto);
        assert_eq!(integer, 36, "all of them survive tract's passes");
    }
}
