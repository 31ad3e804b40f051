//! Rewrites of the int8 weight dequantization in the default model's graph.
//!
//! The model stores every weight matrix as int8 `q` plus a float `scale` per row or column,
//! and its graph computes `Mul(Cast(q), scale)` on every call: tract does not fold these
//! constants, so as shipped each call dequantizes all weights, the 30522 x 384 word table
//! included. Two rewrites remove that work, each doing the same f32 arithmetic on the same
//! elements, so the output is bit-identical:
//! - lookups: `Gather(Mul(Cast(q), scale), ids)` becomes `Mul(Cast(Gather(q, ids)),
//!   Gather(scale, ids))`, dequantizing only the rows read (the table stays int8 in memory);
//! - the other weights are dequantized once, at load, into float initializers that tract can
//!   pack for its matrix kernels.

use std::collections::HashMap;

use tract_onnx::pb::{
    attribute_proto::AttributeType, AttributeProto, GraphProto, NodeProto, TensorProto,
};

use super::graph::{initializers, node, GraphIndex, ONNX_FLOAT, ONNX_INT8};
use crate::onnx_data::{f32_values, int8_values};

/// `Mul(Cast(q), scale)` on two initializers: int8 `q` of rank 2 and `scale` of shape
/// `[rows, 1]` or `[1, columns]`.
pub(crate) struct Dequantization {
    pub cast_node: usize,
    pub mul_node: usize,
    pub quantized: String,
    pub scale: String,
    pub per_row: bool,
    /// The node reading the dequantized tensor, when it is its only reader.
    pub single_consumer: Option<usize>,
}

/// Applies both rewrites; returns how many lookups and weights were rewritten.
pub(crate) fn rewrite_dequantization(graph: &mut GraphProto) -> (usize, usize) {
    let found = find_dequantizations(graph);
    let (lookups, weights): (Vec<_>, Vec<_>) = found
        .into_iter()
        .partition(|d| lookup_node(graph, d).is_some());
    let mut replaced: HashMap<usize, Vec<NodeProto>> = HashMap::new();
    for lookup in &lookups {
        let gather_node = lookup_node(graph, lookup).expect("partitioned on it");
        replaced.insert(
            gather_node,
            lookup_after_gather(&graph.node[gather_node], lookup),
        );
    }
    // Weights stored in a layout `dequantized_initializer` does not read keep their nodes.
    let (folded, weights): (Vec<TensorProto>, Vec<&Dequantization>) = weights
        .iter()
        .filter_map(|w| Some((dequantized_initializer(graph, w)?, w)))
        .unzip();
    let mut removed_values = Vec::new();
    for dequantization in lookups.iter().chain(weights.iter().copied()) {
        for node in [dequantization.cast_node, dequantization.mul_node] {
            replaced.insert(node, vec![]);
            removed_values.extend(graph.node[node].output.iter().cloned());
        }
    }
    let nodes = std::mem::take(&mut graph.node);
    graph.node = nodes
        .into_iter()
        .enumerate()
        .flat_map(|(index, original)| replaced.remove(&index).unwrap_or_else(|| vec![original]))
        .collect();
    graph
        .value_info
        .retain(|info| !removed_values.contains(&info.name));
    graph.initializer.extend(folded);
    (lookups.len(), weights.len())
}

/// Every `Mul(Cast(q), scale)` of initializers in the graph.
pub(crate) fn find_dequantizations(graph: &GraphProto) -> Vec<Dequantization> {
    let initializers = initializers(graph);
    let index = GraphIndex::new(graph);
    let single_consumer = |value: &str| index.single_consumer(value);

    graph
        .node
        .iter()
        .enumerate()
        .filter(|(_, n)| n.op_type == "Mul" && n.input.len() == 2 && n.output.len() == 1)
        .filter_map(|(mul_node, mul)| {
            let cast_node = index.producer(&mul.input[0])?;
            let cast = &graph.node[cast_node];
            let to_float = cast
                .attribute
                .iter()
                .any(|a| a.name == "to" && a.i == i64::from(ONNX_FLOAT));
            if cast.op_type != "Cast" || !to_float || single_consumer(&mul.input[0]).is_none() {
                return None;
            }
            let quantized = initializers.get(cast.input[0].as_str())?;
            let scale = initializers.get(mul.input[1].as_str())?;
            let [rows, columns] = quantized.dims[..] else {
                return None;
            };
            let per_row = scale.dims == [rows, 1];
            let per_column = scale.dims == [1, columns];
            (quantized.data_type == ONNX_INT8
                && scale.data_type == ONNX_FLOAT
                && (per_row || per_column))
                .then(|| Dequantization {
                    cast_node,
                    mul_node,
                    quantized: quantized.name.clone(),
                    scale: scale.name.clone(),
                    per_row,
                    single_consumer: single_consumer(&mul.output[0]),
                })
        })
        .collect()
}

/// The `Gather` on axis 0 that is the only reader of a per-row dequantized table.
fn lookup_node(graph: &GraphProto, dequantization: &Dequantization) -> Option<usize> {
    let index = dequantization.single_consumer?;
    let gather = &graph.node[index];
    let table = &graph.node[dequantization.mul_node].output[0];
    (dequantization.per_row
        && gather.op_type == "Gather"
        && axis(gather) == 0
        && gather.input.len() == 2
        && &gather.input[0] == table)
        .then_some(index)
}

fn lookup_after_gather(gather: &NodeProto, lookup: &Dequantization) -> Vec<NodeProto> {
    let (ids, output) = (gather.input[1].as_str(), gather.output[0].as_str());
    let rows = format!("{output}__rows_q");
    let row_scales = format!("{output}__rows_scale");
    let rows_float = format!("{output}__rows_f");
    vec![
        node(
            "Gather",
            &[&lookup.quantized, ids],
            &rows,
            vec![int_attribute("axis", 0)],
        ),
        node(
            "Gather",
            &[&lookup.scale, ids],
            &row_scales,
            vec![int_attribute("axis", 0)],
        ),
        node(
            "Cast",
            &[&rows],
            &rows_float,
            vec![int_attribute("to", ONNX_FLOAT.into())],
        ),
        node("Mul", &[&rows_float, &row_scales], output, vec![]),
    ]
}

/// `Cast(q) * scale` computed once, named like the `Mul` output it replaces.
fn dequantized_initializer(graph: &GraphProto, weight: &Dequantization) -> Option<TensorProto> {
    let find = |name: &str| graph.initializer.iter().find(|t| t.name == name);
    let quantized = find(&weight.quantized)?;
    let scale = find(&weight.scale)?;
    let values = int8_values(quantized);
    let scales = f32_values(scale);
    let columns = usize::try_from(quantized.dims[1]).ok()?;
    let expected_scales = if weight.per_row {
        values.len() / columns.max(1)
    } else {
        columns
    };
    if columns == 0 || !values.len().is_multiple_of(columns) || scales.len() != expected_scales {
        return None;
    }
    let raw_data = values
        .iter()
        .enumerate()
        .flat_map(|(index, &value)| {
            let scale = scales[if weight.per_row {
                index / columns
            } else {
                index % columns
            }];
            (f32::from(value) * scale).to_le_bytes()
        })
        .collect();
    Some(TensorProto {
        name: graph.node[weight.mul_node].output[0].clone(),
        dims: quantized.dims.clone(),
        data_type: ONNX_FLOAT,
        raw_data,
        ..Default::default()
    })
}

fn axis(node: &NodeProto) -> i64 {
    node.attribute
        .iter()
        .find(|a| a.name == "axis")
        .map_or(0, |a| a.i)
}

fn int_attribute(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: AttributeType::Int as i32,
        i: value,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use tract_onnx::pb::TensorProto;

    use super::super::graph::op_types;
    use super::*;

    fn initializer(name: &str, dims: &[i64], data_type: i32) -> TensorProto {
        TensorProto {
            name: name.to_string(),
            dims: dims.to_vec(),
            data_type,
            ..Default::default()
        }
    }

    /// `Gather(Mul(Cast(q), scale), ids)` plus an unrelated node that must survive.
    fn dequantized_lookup_graph(scale_dims: &[i64]) -> GraphProto {
        GraphProto {
            initializer: vec![
                initializer("q", &[10, 4], ONNX_INT8),
                initializer("scale", scale_dims, ONNX_FLOAT),
            ],
            node: vec![
                node(
                    "Cast",
                    &["q"],
                    "f",
                    vec![int_attribute("to", ONNX_FLOAT.into())],
                ),
                node("Mul", &["f", "scale"], "table", vec![]),
                node("Gather", &["table", "ids"], "rows", vec![]),
                node("Relu", &["rows"], "out", vec![]),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn lookup_reads_rows_before_dequantizing() {
        let mut graph = dequantized_lookup_graph(&[10, 1]);
        assert_eq!(rewrite_dequantization(&mut graph), (1, 0));
        assert_eq!(
            op_types(&graph),
            ["Gather", "Gather", "Cast", "Mul", "Relu"]
        );
        assert_eq!(graph.node[0].input, ["q", "ids"]);
        assert_eq!(graph.node[1].input, ["scale", "ids"]);
        assert_eq!(
            graph.node[3].output,
            ["rows"],
            "downstream nodes see the same tensor"
        );
    }

    #[test]
    fn other_scale_layouts_are_left_alone() {
        let mut graph = dequantized_lookup_graph(&[1]);
        assert_eq!(rewrite_dequantization(&mut graph), (0, 0));
        assert_eq!(op_types(&graph), ["Cast", "Mul", "Gather", "Relu"]);
    }

    #[test]
    fn weights_are_dequantized_once_into_an_initializer() {
        let mut graph = dequantized_lookup_graph(&[1, 4]);
        graph.initializer[0].raw_data = (0..40).map(|v: i8| (v - 20) as u8).collect();
        graph.initializer[1].raw_data = [0.5f32, 1.0, 2.0, -1.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(rewrite_dequantization(&mut graph), (0, 1));
        assert_eq!(op_types(&graph), ["Gather", "Relu"]);
        let folded = graph.initializer.last().expect("folded weight");
        assert_eq!(folded.name, "table");
        assert_eq!(folded.dims, [10, 4]);
        let values: Vec<f32> = folded
            .raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        // Row 0 is q = -20, -19, -18, -17 times the column scales.
        assert_eq!(values[..4], [-10.0, -19.0, -36.0, 17.0]);
        // Row 9 ends with q = 19 times the last column scale, -1.
        assert_eq!(values[39], -19.0);
    }
}
