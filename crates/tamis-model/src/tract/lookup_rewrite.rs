//! Embedding lookups on int8 tables, rewritten to dequantize only the rows they read.
//!
//! The default model stores each embedding table as int8 `q` plus a per-row float `scale`, and
//! its graph computes `Gather(Mul(Cast(q), scale), ids)`: as shipped, tract dequantizes the
//! whole 30522 x 384 word table on every call. The rewrite turns it into
//! `Mul(Cast(Gather(q, ids)), Gather(scale, ids))`, the same arithmetic on the same elements,
//! so the output is bit-identical while the cost drops to the rows actually looked up.

use std::collections::HashMap;

use tract_onnx::pb::{attribute_proto::AttributeType, AttributeProto, GraphProto, NodeProto};

/// ONNX `TensorProto.DataType.FLOAT` and `INT8`.
const ONNX_FLOAT: i64 = 1;
const ONNX_INT8: i32 = 3;

/// One lookup found by [`find_lookups`]: node indices and tensor names involved.
struct DequantizedLookup {
    cast_node: usize,
    mul_node: usize,
    gather_node: usize,
    quantized: String,
    scale: String,
}

/// Rewrites every `Gather(Mul(Cast(int8 table), per-row scale), ids)` in `graph`.
/// Returns how many lookups were rewritten.
pub(crate) fn dequantize_after_lookup(graph: &mut GraphProto) -> usize {
    let lookups = find_lookups(graph);
    if lookups.is_empty() {
        return 0;
    }
    let mut replaced: HashMap<usize, Vec<NodeProto>> = HashMap::new();
    let mut removed_values = Vec::new();
    for lookup in &lookups {
        let gather = &graph.node[lookup.gather_node];
        let (ids, output) = (gather.input[1].clone(), gather.output[0].clone());
        let rows = format!("{output}__rows_q");
        let row_scales = format!("{output}__rows_scale");
        let rows_float = format!("{output}__rows_f");
        replaced.insert(
            lookup.gather_node,
            vec![
                node(
                    "Gather",
                    &[&lookup.quantized, &ids],
                    &rows,
                    vec![int_attribute("axis", 0)],
                ),
                node(
                    "Gather",
                    &[&lookup.scale, &ids],
                    &row_scales,
                    vec![int_attribute("axis", 0)],
                ),
                node(
                    "Cast",
                    &[&rows],
                    &rows_float,
                    vec![int_attribute("to", ONNX_FLOAT)],
                ),
                node("Mul", &[&rows_float, &row_scales], &output, vec![]),
            ],
        );
        replaced.insert(lookup.cast_node, vec![]);
        replaced.insert(lookup.mul_node, vec![]);
        removed_values.extend(graph.node[lookup.cast_node].output.iter().cloned());
        removed_values.extend(graph.node[lookup.mul_node].output.iter().cloned());
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
    lookups.len()
}

fn find_lookups(graph: &GraphProto) -> Vec<DequantizedLookup> {
    let initializer_dims: HashMap<&str, (&[i64], i32)> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), (t.dims.as_slice(), t.data_type)))
        .collect();
    let mut producer: HashMap<&str, usize> = HashMap::new();
    let mut consumers: HashMap<&str, usize> = HashMap::new();
    for (index, n) in graph.node.iter().enumerate() {
        n.output.iter().for_each(|o| {
            producer.insert(o.as_str(), index);
        });
        n.input
            .iter()
            .for_each(|i| *consumers.entry(i.as_str()).or_default() += 1);
    }
    let single_use = |value: &str| consumers.get(value) == Some(&1);

    graph
        .node
        .iter()
        .enumerate()
        .filter(|(_, n)| n.op_type == "Gather" && axis(n) == 0 && n.input.len() == 2)
        .filter_map(|(gather_node, gather)| {
            let table = gather.input[0].as_str();
            let mul_node = *producer.get(table)?;
            let mul = &graph.node[mul_node];
            if mul.op_type != "Mul" || mul.input.len() != 2 || !single_use(table) {
                return None;
            }
            let cast_node = *producer.get(mul.input[0].as_str())?;
            let cast = &graph.node[cast_node];
            if cast.op_type != "Cast" || !single_use(&mul.input[0]) {
                return None;
            }
            let (quantized_dims, quantized_type) = initializer_dims.get(cast.input[0].as_str())?;
            let (scale_dims, _) = initializer_dims.get(mul.input[1].as_str())?;
            let per_row_scale =
                quantized_dims.len() == 2 && *scale_dims == [quantized_dims[0], 1].as_slice();
            (*quantized_type == ONNX_INT8 && per_row_scale).then(|| DequantizedLookup {
                cast_node,
                mul_node,
                gather_node,
                quantized: cast.input[0].clone(),
                scale: mul.input[1].clone(),
            })
        })
        .collect()
}

fn axis(node: &NodeProto) -> i64 {
    node.attribute
        .iter()
        .find(|a| a.name == "axis")
        .map_or(0, |a| a.i)
}

fn node(op_type: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        name: format!("tamis_{output}"),
        op_type: op_type.to_string(),
        input: inputs.iter().map(|i| i.to_string()).collect(),
        output: vec![output.to_string()],
        attribute,
        ..Default::default()
    }
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
                initializer("scale", scale_dims, ONNX_FLOAT as i32),
            ],
            node: vec![
                node("Cast", &["q"], "f", vec![int_attribute("to", ONNX_FLOAT)]),
                node("Mul", &["f", "scale"], "table", vec![]),
                node("Gather", &["table", "ids"], "rows", vec![]),
                node("Relu", &["rows"], "out", vec![]),
            ],
            ..Default::default()
        }
    }

    fn op_types(graph: &GraphProto) -> Vec<&str> {
        graph.node.iter().map(|n| n.op_type.as_str()).collect()
    }

    #[test]
    fn lookup_reads_rows_before_dequantizing() {
        let mut graph = dequantized_lookup_graph(&[10, 1]);
        assert_eq!(dequantize_after_lookup(&mut graph), 1);
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
        assert_eq!(dequantize_after_lookup(&mut graph), 0);
        assert_eq!(op_types(&graph), ["Cast", "Mul", "Gather", "Relu"]);
    }
}
