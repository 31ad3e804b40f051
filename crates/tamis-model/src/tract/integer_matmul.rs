//! The model's products by int8 weight matrices, run by tamis's integer kernels
//! ([`super::integer_kernels`]) instead of tract's f32 ones.
//!
//! In the ONNX graph each weight is `MatMul(x, Mul(Cast(W_q), W_scale))`. The weights are read
//! from the graph before anything else rewrites it, keyed by the `MatMul` node's name; tract
//! keeps that name for the `EinSum` it makes of the node, where [`use_integer_matmuls`] swaps
//! in [`IntegerMatMul`] holding the packed int8 weights (the f32 copy is then dropped).

use std::collections::HashMap;
use std::sync::Arc;

use tract_onnx::pb::GraphProto;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::einsum::EinSum;

use super::dequantize::matmul_weights;
use super::integer_kernels::{multiply, PackedWeights};
use crate::QuantizedMatrix;

/// The int8 weight matrices of the graph's `MatMul`s, by node name.
pub(crate) struct QuantizedMatMuls(HashMap<String, QuantizedMatrix>);

impl QuantizedMatMuls {
    pub(crate) fn read(graph: &GraphProto) -> Self {
        Self(matmul_weights(graph))
    }
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
        "TamisIntegerMatMul".into()
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
            "{}: expected a last axis of {inputs}, got shape {shape:?}",
            self.name()
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

/// Replaces each `EinSum` named in `weights` that multiplies its input's last axis by a
/// constant matrix of the recorded shape; returns how many were replaced.
pub(crate) fn use_integer_matmuls(
    model: &mut TypedModel,
    weights: &QuantizedMatMuls,
) -> TractResult<usize> {
    let mut replaced = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(matrix) = weights.0.get(&node.name) else {
            continue;
        };
        if !multiplies_by_constant(model, node, matrix)? {
            continue;
        }
        let Some(packed) = PackedWeights::new(matrix) else {
            continue;
        };
        let op = IntegerMatMul {
            weights: Arc::new(packed),
        };
        TypedModelPatch::replace_single_op(model, node, &node.inputs[..1], op)?.apply(model)?;
        replaced += 1;
    }
    Ok(replaced)
}

/// Whether `node` is `x[..., k] W[k, n]` with `W` a constant of `matrix`'s shape.
fn multiplies_by_constant(
    model: &TypedModel,
    node: &TypedNode,
    matrix: &QuantizedMatrix,
) -> TractResult<bool> {
    let Some(einsum) = node.op_as::<EinSum>() else {
        return Ok(false);
    };
    if node.inputs.len() != 2 || einsum.q_params.is_some() {
        return Ok(false);
    }
    let input = model.outlet_fact(node.inputs[0])?;
    let weight = model.outlet_fact(node.inputs[1])?;
    let rank = input.rank();
    // The einsum reads `...k,kn->...n`: the input's last axis against the weight's first.
    let expected = {
        let batch: String = ('a'..).take(rank - 1).collect();
        format!("{batch}k,kn->{batch}n")
    };
    let renamed = einsum.axes.to_string();
    Ok(rank >= 1
        && input.datum_type == f32::datum_type()
        && weight.konst.is_some()
        && *weight.shape == [matrix.rows.into(), matrix.columns.into()]
        && same_pattern(&renamed, &expected))
}

/// Whether two einsum expressions are the same up to the letters naming their axes.
fn same_pattern(a: &str, b: &str) -> bool {
    let shape = |s: &str| {
        let mut seen = Vec::new();
        s.chars()
            .map(|c| {
                if !c.is_alphabetic() {
                    return c as usize + 1000;
                }
                seen.iter().position(|&x| x == c).unwrap_or_else(|| {
                    seen.push(c);
                    seen.len() - 1
                })
            })
            .collect::<Vec<_>>()
    };
    shape(a) == shape(b)
}

#[cfg(test)]
mod tests {
    use tract_onnx::prelude::{Framework, InferenceModelExt};

    use super::super::graph::default_model_proto;
    use super::*;

    #[test]
    fn every_weight_product_of_the_default_model_runs_on_integers() {
        let proto = default_model_proto();
        let weights = QuantizedMatMuls::read(proto.graph.as_ref().expect("a graph"));
        assert_eq!(
            weights.0.len(),
            36,
            "6 layers x (q, k, v, output, intermediate, output)"
        );
        let model = tract_onnx::onnx().model_for_proto_model(&proto).unwrap();
        let mut model = model.into_typed().unwrap();
        assert_eq!(use_integer_matmuls(&mut model, &weights).unwrap(), 36);
        let optimized = model.into_optimized().unwrap();
        let integer = optimized
            .nodes()
            .iter()
            .filter(|n| n.op_is::<IntegerMatMul>())
            .count();
        assert_eq!(integer, 36, "all of them survive tract's optimizer");
    }

    #[test]
    fn einsum_patterns_compare_up_to_axis_names() {
        assert!(same_pattern("amk,kn->amn", "abk,kn->abn"));
        assert!(!same_pattern("amk,nk->amn", "abk,kn->abn"));
        assert!(!same_pattern("abmk,abkn->abmn", "abk,kn->abn"));
    }
}
