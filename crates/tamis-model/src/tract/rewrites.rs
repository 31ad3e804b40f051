//! The graph rewrites [`super::TractEncoder`] applies before tract reads the graph, each
//! followed by a check that it matched everywhere it should have.
//!
//! A rewrite that does not recognise part of a graph leaves it to tract's generic ops: the
//! model still runs, but slower, and (for the integer products, attention, GELU and layer
//! norms) without the same bits natively and in wasm. So a node left that a rewrite exists to
//! replace is an error naming that node, not a silent fallback.

use tract_onnx::pb::{GraphProto, NodeProto};

use super::graph::{GraphIndex, ONNX_INT8};
use super::{attention, dequantize, gelu, integer_matmul, layer_norm, EncoderOptions};
use crate::ModelError;

/// One rewrite and the nodes it must not leave behind.
struct Rewrite {
    /// What the error calls it.
    name: &'static str,
    /// The [`EncoderOptions`] field that turns it off (the layer norms have none: tract's own
    /// differ between architectures).
    option: Option<&'static str>,
    enabled: fn(&EncoderOptions) -> bool,
    apply: fn(&mut GraphProto),
    /// The first node left that the rewrite exists to replace.
    unmatched: fn(&GraphProto) -> Option<&NodeProto>,
}

/// In the order they run: the integer products take their weights before the other weights
/// are dequantized at load, and the layer norms read the integer products' outputs.
const REWRITES: [Rewrite; 5] = [
    Rewrite {
        name: "integer weight product rewrite",
        option: Some("integer_matmul"),
        enabled: |options| options.integer_matmul,
        apply: |graph| {
            integer_matmul::use_integer_matmuls(graph);
        },
        unmatched: matmul_on_int8_weights,
    },
    Rewrite {
        name: "dequantization rewrite",
        option: Some("rewrite_dequantization"),
        enabled: |options| options.rewrite_dequantization,
        apply: |graph| {
            dequantize::rewrite_dequantization(graph);
        },
        unmatched: dequantization_of_int8_weights,
    },
    Rewrite {
        name: "GELU fusion",
        option: Some("fuse_gelu"),
        enabled: |options| options.fuse_gelu,
        apply: |graph| {
            gelu::fuse_gelu(graph);
        },
        unmatched: |graph| first_of_type(graph, "Erf"),
    },
    Rewrite {
        name: "attention fusion",
        option: Some("fuse_attention"),
        enabled: |options| options.fuse_attention,
        apply: |graph| {
            attention::fuse_attention(graph);
        },
        unmatched: |graph| first_of_type(graph, "Softmax"),
    },
    Rewrite {
        name: "layer norm retyping",
        option: None,
        enabled: |_| true,
        apply: |graph| {
            layer_norm::use_own_layer_norms(graph);
        },
        unmatched: |graph| first_of_type(graph, "LayerNormalization"),
    },
];

/// Applies the rewrites `options` enables; a node left that one of them exists to replace is
/// [`ModelError::UnsupportedModel`] naming the rewrite and the node.
pub(super) fn rewrite(graph: &mut GraphProto, options: &EncoderOptions) -> Result<(), ModelError> {
    for rewrite in REWRITES.iter().filter(|r| (r.enabled)(options)) {
        (rewrite.apply)(graph);
        if let Some(node) = (rewrite.unmatched)(graph) {
            return Err(unmatched_error(rewrite, node));
        }
    }
    Ok(())
}

fn unmatched_error(rewrite: &Rewrite, node: &NodeProto) -> ModelError {
    let node_name = match (node.name.as_str(), node.output.first()) {
        ("", Some(output)) => format!("(unnamed, writing `{output}`)"),
        (name, _) => format!("`{name}`"),
    };
    let turn_off = match rewrite.option {
        Some(option) => format!(
            "; to run tract's generic ops instead (slower, and not bit-identical natively and \
             in wasm), set `EncoderOptions::{option}` to false"
        ),
        None => String::new(),
    };
    ModelError::UnsupportedModel(format!(
        "the {} left {} node {node_name}, which it exists to replace: the model's graph does \
         not have the shape tamis's ops implement{turn_off}",
        rewrite.name, node.op_type
    ))
}

fn first_of_type<'a>(graph: &'a GraphProto, op_type: &str) -> Option<&'a NodeProto> {
    graph.node.iter().find(|n| n.op_type == op_type)
}

/// A node that turns an int8 initializer into floats on every call: `Cast` (the first half of
/// the model's `Mul(Cast(q), scale)`) or `DequantizeLinear`.
fn dequantizes_int8_initializer(graph: &GraphProto, node: &NodeProto) -> bool {
    let is_int8_initializer = |name: &String| {
        (graph.initializer.iter()).any(|t| t.name == *name && t.data_type == ONNX_INT8)
    };
    matches!(node.op_type.as_str(), "Cast" | "DequantizeLinear")
        && node.input.first().is_some_and(is_int8_initializer)
}

/// What [`dequantize::rewrite_dequantization`] leaves nowhere: an int8 weight or table
/// dequantized on every call.
fn dequantization_of_int8_weights(graph: &GraphProto) -> Option<&NodeProto> {
    (graph.node.iter()).find(|node| dequantizes_int8_initializer(graph, node))
}

/// What [`integer_matmul::use_integer_matmuls`] leaves nowhere: a `MatMul` by an int8 weight
/// matrix dequantized to floats, as `Mul(Cast(q), scale)` or `DequantizeLinear(q, ...)`.
fn matmul_on_int8_weights(graph: &GraphProto) -> Option<&NodeProto> {
    let index = GraphIndex::new(graph);
    let writer = |value: &str| index.producer(value).map(|at| &graph.node[at]);
    let dequantized = |value: &str| {
        writer(value).is_some_and(|node| {
            let scaled = |input: &String| {
                writer(input).is_some_and(|cast| dequantizes_int8_initializer(graph, cast))
            };
            dequantizes_int8_initializer(graph, node)
                || (node.op_type == "Mul" && node.input.iter().any(scaled))
        })
    };
    (graph.node.iter())
        .find(|node| node.op_type == "MatMul" && node.input.iter().any(|i| dequantized(i)))
}

#[cfg(test)]
mod tests {
    use tract_onnx::pb::{attribute_proto::AttributeType, AttributeProto, TensorProto};

    use super::super::graph::{default_model_proto, node, ONNX_FLOAT};
    use super::*;

    fn position(graph: &GraphProto, found: impl Fn(&NodeProto) -> bool) -> usize {
        graph
            .node
            .iter()
            .position(found)
            .expect("the default model has it")
    }

    fn writer(graph: &GraphProto, value: &str) -> usize {
        position(graph, |n| n.output.iter().any(|o| o == value))
    }

    /// Stores the scale initializer `name` as one value for the whole tensor (per-tensor
    /// quantization), a layout the rewrites do not read.
    fn make_scale_per_tensor(graph: &mut GraphProto, name: &str) {
        let scale = (graph.initializer.iter_mut())
            .find(|t| t.name == name)
            .expect("an initializer");
        let first = crate::onnx_data::f32_values(scale)[0];
        *scale = TensorProto {
            name: name.into(),
            data_type: ONNX_FLOAT,
            raw_data: first.to_le_bytes().to_vec(),
            ..Default::default()
        };
    }

    /// The default model's graph after `break_chain`, which returns the node it leaves for a
    /// rewrite to stumble on, run through the default rewrites: that node and the error.
    fn unmatched(break_chain: impl FnOnce(&mut GraphProto) -> usize) -> (NodeProto, String) {
        let mut proto = default_model_proto();
        let graph = proto.graph.as_mut().expect("a graph");
        let at = break_chain(graph);
        let broken = graph.node[at].clone();
        assert!(!broken.name.is_empty(), "the model names its nodes");
        match rewrite(graph, &EncoderOptions::default()) {
            Err(ModelError::UnsupportedModel(message)) => (broken, message),
            other => panic!("expected an unmatched node, got {other:?}"),
        }
    }

    fn assert_names(message: &str, rewrite: &str, node: &NodeProto, option: &str) {
        let left = format!("the {rewrite} left {} node `{}`", node.op_type, node.name);
        assert!(message.starts_with(&left), "{message}");
        assert!(message.contains("does not have the shape tamis's ops implement"));
        assert!(message.ends_with(&format!("`EncoderOptions::{option}` to false")));
    }

    #[test]
    fn the_default_model_leaves_nothing_unmatched() {
        let all_off = EncoderOptions {
            rewrite_dequantization: false,
            fuse_gelu: false,
            integer_matmul: false,
            fuse_attention: false,
            ..EncoderOptions::default()
        };
        for options in [EncoderOptions::default(), all_off] {
            let mut proto = default_model_proto();
            let graph = proto.graph.as_mut().expect("a graph");
            rewrite(graph, &options).expect("every chain matches");
        }
    }

    #[test]
    fn a_weight_with_one_scale_for_the_whole_matrix_is_a_matmul_left_on_floats() {
        let (matmul, message) = unmatched(|graph| {
            let index = GraphIndex::new(graph);
            let found = dequantize::find_dequantizations(graph);
            let weight = found
                .iter()
                .find(|d| {
                    d.single_consumer
                        .is_some_and(|at| graph.node[at].op_type == "MatMul")
                })
                .expect("a weight product");
            let matmul = index.single_consumer(&graph.node[weight.mul_node].output[0]);
            let scale = weight.scale.clone();
            make_scale_per_tensor(graph, &scale);
            matmul.expect("read by its product")
        });
        assert_eq!(matmul.op_type, "MatMul");
        assert_names(
            &message,
            "integer weight product rewrite",
            &matmul,
            "integer_matmul",
        );
    }

    #[test]
    fn a_table_with_one_scale_is_a_cast_left_dequantizing_it_on_every_call() {
        let (cast, message) = unmatched(|graph| {
            let lookup = position(graph, |n| {
                n.op_type == "Gather" && n.input.get(1).is_some_and(|i| i == "input_ids")
            });
            let table = writer(graph, &graph.node[lookup].input[0]);
            let scale = graph.node[table].input[1].clone();
            make_scale_per_tensor(graph, &scale);
            writer(graph, &graph.node[table].input[0])
        });
        assert_eq!(cast.op_type, "Cast");
        assert_names(
            &message,
            "dequantization rewrite",
            &cast,
            "rewrite_dequantization",
        );
    }

    #[test]
    fn a_gelu_dividing_by_a_rounded_square_root_of_two_leaves_its_erf() {
        let (erf, message) = unmatched(|graph| {
            let erf = position(graph, |n| n.op_type == "Erf");
            let divide = writer(graph, &graph.node[erf].input[0]);
            graph.initializer.push(TensorProto {
                name: "rounded_root_2".into(),
                data_type: ONNX_FLOAT,
                raw_data: 1.414f32.to_le_bytes().to_vec(),
                ..Default::default()
            });
            graph.node[divide].input[1] = "rounded_root_2".into();
            erf
        });
        assert_names(&message, "GELU fusion", &erf, "fuse_gelu");
    }

    #[test]
    fn an_attention_with_a_step_before_its_softmax_leaves_the_softmax() {
        let (softmax, message) = unmatched(|graph| {
            let softmax = position(graph, |n| n.op_type == "Softmax");
            let scores = graph.node[softmax].input[0].clone();
            let copied = format!("{scores}__copy");
            graph.node[softmax].input[0] = copied.clone();
            graph
                .node
                .insert(softmax, node("Identity", &[&scores], &copied, vec![]));
            softmax + 1
        });
        assert_names(&message, "attention fusion", &softmax, "fuse_attention");
    }

    #[test]
    fn a_layer_norm_over_an_axis_spelled_positively_is_left_and_cannot_be_turned_off() {
        let (norm, message) = unmatched(|graph| {
            let norm = position(graph, |n| n.op_type == "LayerNormalization");
            let attributes = &mut graph.node[norm].attribute;
            attributes.retain(|a| a.name != "axis");
            attributes.push(AttributeProto {
                name: "axis".into(),
                r#type: AttributeType::Int.into(),
                i: 2,
                ..Default::default()
            });
            norm
        });
        let left = format!(
            "the layer norm retyping left LayerNormalization node `{}`",
            norm.name
        );
        assert!(message.starts_with(&left), "{message}");
        assert!(message.ends_with("does not have the shape tamis's ops implement"));
    }
}
