//! Fuses the default model's exact GELU into one `TamisGelu` node computed by tamis.
//!
//! The model spells GELU as `x * ((erf(x / √2) + 1) * 0.5)`: run as five element-wise passes
//! over the largest activations (batch x tokens x 1536), each allocating its output. As one
//! node it is one pass, with the same `erf` approximation on every target (tract's differ by
//! architecture; see [`super::custom_op`]). Same formula, float rounding aside.

use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::{GraphProto, NodeProto};
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_hir::internal::{expand, InferenceOp};

use super::custom_op::{values_mut, Custom, TamisOp};
use super::graph::{node, scalar_initializer, GraphIndex};
use crate::threads::{map_row_runs_in_threads, threads_within_a_run};
use crate::wide_vectors::with_wide_vectors;

/// Lets tract's ONNX parser build the nodes [`fuse_gelu`] writes.
pub(crate) fn register(register: &mut OnnxOpRegister) {
    register.insert(Gelu::OP_TYPE, build);
}

fn build(
    _ctx: &ParsingContext,
    _node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((expand(Custom(Gelu)), vec![]))
}

/// The exact GELU, `x * ((erf(x / √2) + 1) * 0.5)`, in the model's order of operations.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Gelu;

impl TamisOp for Gelu {
    const OP_TYPE: &'static str = "TamisGelu";
    const INPUTS: usize = 1;

    fn info(&self) -> String {
        "exact (erf)".into()
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<Tensor> {
        // In place: the input is the product GELU alone reads, so tract hands it over without
        // a copy, and no new tensor is allocated.
        let mut output = args_1!(inputs).into_tensor();
        let width = output.shape().last().copied().unwrap_or(1);
        // One text per call on 2 threads: its rows split over both, in the threaded wasm
        // module only, as its products' columns are.
        map_row_runs_in_threads(
            values_mut(&mut output)?,
            width,
            threads_within_a_run(),
            |_, run| {
                with_wide_vectors(
                    #[inline(always)]
                    || gelu_in_place(run),
                )
            },
        );
        Ok(output)
    }
}

/// `x * ((erf(x / √2) + 1) * 0.5)` on each value; inlined into each instruction set's copy
/// ([`with_wide_vectors`]).
#[inline(always)]
fn gelu_in_place(values: &mut [f32]) {
    values
        .iter_mut()
        .for_each(|x| *x *= (erf(*x / std::f32::consts::SQRT_2) + 1.0) * 0.5)
}

/// `erf(x)` within 1.5e-6 (Abramowitz and Stegun 7.1.28 as in tract, 3e-7, plus f32 rounding),
/// branch-free and with no library call so that it vectorizes (`libm::erff` made GELU ten
/// times slower).
#[allow(clippy::excessive_precision)]
pub(crate) fn erf(x: f32) -> f32 {
    const A: [f32; 6] = [
        0.0705230784,
        0.0422820123,
        0.0092705272,
        0.0001520143,
        0.0002765672,
        0.0000430638,
    ];
    let abs = x.abs();
    let polynomial = A.iter().rev().fold(0.0, |y, &a| (y + a) * abs) + 1.0;
    let squared = polynomial * polynomial;
    let fourth = squared * squared;
    let eighth = fourth * fourth;
    (1.0 - 1.0 / (eighth * eighth)).copysign(x)
}

/// Rewrites every GELU of the expected shape; returns how many.
pub(crate) fn fuse_gelu(graph: &mut GraphProto) -> usize {
    let index = GraphIndex::new(graph);
    let fused: Vec<(usize, [usize; 4])> = graph
        .node
        .iter()
        .enumerate()
        .filter_map(|(out, node)| Some((out, gelu_chain(graph, &index, node)?)))
        .collect();
    let removed: Vec<usize> = fused.iter().flat_map(|(_, chain)| *chain).collect();
    let mut gelus: Vec<(usize, NodeProto)> = fused
        .iter()
        .map(|&(out, [divide, ..])| {
            let output = &graph.node[out].output[0];
            let input = &graph.node[divide].input[0];
            (out, node(Gelu::OP_TYPE, &[input], output, vec![]))
        })
        .collect();
    let count = gelus.len();
    let nodes = std::mem::take(&mut graph.node);
    graph.node = nodes
        .into_iter()
        .enumerate()
        .filter(|(position, _)| !removed.contains(position))
        .map(
            |(position, node)| match gelus.iter().position(|(out, _)| *out == position) {
                Some(found) => gelus.swap_remove(found).1,
                None => node,
            },
        )
        .collect();
    count
}

/// For `out = Mul(x, Mul(Add(Erf(Div(x, √2)), 1), 0.5))` (operands in either order), the
/// inner nodes `[div, erf, add, half]`, each read only by the next.
fn gelu_chain(graph: &GraphProto, index: &GraphIndex, out: &NodeProto) -> Option<[usize; 4]> {
    if out.op_type != "Mul" || out.input.len() != 2 {
        return None;
    }
    let is_constant = |value: &str, expected: f32| {
        scalar_initializer(graph, value).is_some_and(|v| (v - expected).abs() < 1e-6)
    };
    // The operand of `node` other than the constant `expected`, if `node` is `op` with one.
    let operand_beside = |node: usize, op: &str, expected: f32| -> Option<&str> {
        let node = &graph.node[node];
        if node.op_type != op || node.input.len() != 2 {
            return None;
        }
        match (
            is_constant(&node.input[0], expected),
            is_constant(&node.input[1], expected),
        ) {
            (false, true) => Some(&node.input[0]),
            (true, false) => Some(&node.input[1]),
            _ => None,
        }
    };
    let chain = |x: &str, half_output: &str| -> Option<[usize; 4]> {
        let half = index.single_reader_producer(half_output)?;
        let add = index.single_reader_producer(operand_beside(half, "Mul", 0.5)?)?;
        let erf = index.single_reader_producer(operand_beside(add, "Add", 1.0)?)?;
        if graph.node[erf].op_type != "Erf" {
            return None;
        }
        let divide = index.single_reader_producer(&graph.node[erf].input[0])?;
        // `x / √2`, not `√2 / x`.
        let numerator = graph.node[divide].input.first()?;
        (operand_beside(divide, "Div", std::f32::consts::SQRT_2) == Some(x) && numerator == x)
            .then_some([divide, erf, add, half])
    };
    chain(&out.input[0], &out.input[1]).or_else(|| chain(&out.input[1], &out.input[0]))
}

#[cfg(test)]
mod tests {
    use tract_onnx::pb::TensorProto;

    use super::super::custom_op::count_after_tract_passes;
    use super::super::graph::{default_model_proto, op_types, ONNX_FLOAT};
    use super::*;

    fn scalar(name: &str, value: f32) -> TensorProto {
        TensorProto {
            name: name.to_string(),
            data_type: ONNX_FLOAT,
            raw_data: value.to_le_bytes().to_vec(),
            ..Default::default()
        }
    }

    /// The model's GELU on `x`, with `root` as the divisor, then a node reading the result.
    fn gelu_graph(root: f32) -> GraphProto {
        GraphProto {
            initializer: vec![
                scalar("root", root),
                scalar("one", 1.0),
                scalar("half", 0.5),
            ],
            node: vec![
                node("Div", &["x", "root"], "scaled", vec![]),
                node("Erf", &["scaled"], "erf", vec![]),
                node("Add", &["erf", "one"], "one_plus_erf", vec![]),
                node("Mul", &["one_plus_erf", "half"], "halved", vec![]),
                node("Mul", &["x", "halved"], "gelu", vec![]),
                node("Relu", &["gelu"], "out", vec![]),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn the_models_gelu_becomes_one_node() {
        let mut graph = gelu_graph(std::f32::consts::SQRT_2);
        assert_eq!(fuse_gelu(&mut graph), 1);
        assert_eq!(op_types(&graph), [Gelu::OP_TYPE, "Relu"]);
        assert_eq!(graph.node[0].input, ["x"]);
        assert_eq!(graph.node[0].output, ["gelu"], "readers see the same value");
    }

    #[test]
    fn every_layer_of_the_default_model_gets_its_gelu_fused() {
        let mut proto = default_model_proto();
        let graph = proto.graph.as_mut().expect("a graph");
        assert_eq!(fuse_gelu(graph), 6, "one GELU in each of the 6 layers");
        assert!(!op_types(graph).contains(&"Erf"), "no unfused GELU left");
        assert_eq!(count_after_tract_passes::<Gelu>(&proto), 6);
    }

    #[test]
    fn erf_is_within_its_approximation_error() {
        for i in -400..=400 {
            let x = i as f32 / 100.0;
            let exact = libm::erf(f64::from(x));
            assert!((f64::from(erf(x)) - exact).abs() < 1.5e-6, "erf({x})");
        }
        assert_eq!(erf(f32::INFINITY), 1.0);
        assert!(erf(f32::NAN).is_nan());
    }

    #[test]
    fn every_vector_set_gives_the_same_gelu() {
        use crate::wide_vectors::VectorSet;
        // 1001 values (not a whole number of any vector width) from -8 to 8, with the
        // special values.
        let mut inputs: Vec<f32> = (0..1001).map(|i| i as f32 / 62.5 - 8.0).collect();
        inputs.extend([0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN]);
        let run = |set: VectorSet| {
            let mut values = inputs.clone();
            set.run(
                #[inline(always)]
                || gelu_in_place(&mut values),
            );
            values.iter().map(|v| v.to_bits()).collect::<Vec<u32>>()
        };
        VectorSet::assert_every_set_gives_the_baseline_result(run);
    }

    #[test]
    fn another_formula_is_left_alone() {
        let mut graph = gelu_graph(2.0);
        assert_eq!(fuse_gelu(&mut graph), 0);
        assert_eq!(
            op_types(&graph),
            ["Div", "Erf", "Add", "Mul", "Mul", "Relu"]
        );
    }
}
