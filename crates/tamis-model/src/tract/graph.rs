//! Lookups over an ONNX graph shared by the rewrites.

use std::collections::{HashMap, HashSet};

use tract_onnx::pb::{AttributeProto, GraphProto, NodeProto, TensorProto};

use crate::onnx_data::f32_values;

/// ONNX `TensorProto.DataType.FLOAT`.
pub(crate) const ONNX_FLOAT: i32 = 1;
/// ONNX `TensorProto.DataType.INT8`.
pub(crate) const ONNX_INT8: i32 = 3;

/// Which node writes each value, and which node reads it when one alone does, once.
pub(crate) struct GraphIndex<'a> {
    producer: HashMap<&'a str, usize>,
    /// `None` for a value read more than once.
    single_consumer: HashMap<&'a str, Option<usize>>,
}

impl<'a> GraphIndex<'a> {
    pub fn new(graph: &'a GraphProto) -> Self {
        let mut producer = HashMap::with_capacity(graph.node.len());
        let mut single_consumer = HashMap::with_capacity(graph.node.len() * 2);
        for (index, node) in graph.node.iter().enumerate() {
            for output in &node.output {
                producer.insert(output.as_str(), index);
            }
            for input in &node.input {
                single_consumer
                    .entry(input.as_str())
                    .and_modify(|only: &mut Option<usize>| *only = None)
                    .or_insert(Some(index));
            }
        }
        Self {
            producer,
            single_consumer,
        }
    }

    /// The node writing `value`.
    pub fn producer(&self, value: &str) -> Option<usize> {
        self.producer.get(value).copied()
    }

    /// The node reading `value`, when exactly one does, once.
    pub fn single_consumer(&self, value: &str) -> Option<usize> {
        self.single_consumer.get(value).copied().flatten()
    }

    /// The node writing `value`, when one node alone reads it (so the writer can be removed
    /// with its reader).
    pub fn single_reader_producer(&self, value: &str) -> Option<usize> {
        self.single_consumer(value).and(self.producer(value))
    }
}

/// The initializers by name.
pub(crate) fn initializers(graph: &GraphProto) -> HashMap<&str, &TensorProto> {
    graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect()
}

/// The value of a one-element float initializer.
pub(crate) fn scalar_initializer(graph: &GraphProto, name: &str) -> Option<f32> {
    let tensor = graph.initializer.iter().find(|t| t.name == name)?;
    if tensor.data_type != ONNX_FLOAT {
        return None;
    }
    match f32_values(tensor)[..] {
        [value] if tensor.dims.iter().product::<i64>() == 1 => Some(value),
        _ => None,
    }
}

/// Removes the nodes whose outputs nothing reads (neither a node nor the graph's outputs),
/// nor the nodes only those read, and so on, with the value infos of what they wrote: what a
/// rewrite left behind. One walk back from the graph's outputs.
pub(crate) fn remove_unused_nodes(graph: &mut GraphProto) {
    let index = GraphIndex::new(graph);
    let mut used = vec![false; graph.node.len()];
    let mut pending: Vec<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    while let Some(value) = pending.pop() {
        if let Some(writer) = index.producer(value) {
            if !std::mem::replace(&mut used[writer], true) {
                pending.extend(graph.node[writer].input.iter().map(String::as_str));
            }
        }
    }
    if used.iter().all(|&u| u) {
        return;
    }
    let written: HashSet<String> = (graph.node.iter().zip(&used))
        .filter(|(_, &used)| !used)
        .flat_map(|(n, _)| n.output.iter().cloned())
        .collect();
    let nodes = std::mem::take(&mut graph.node);
    graph.node = (nodes.into_iter().zip(used))
        .filter_map(|(n, used)| used.then_some(n))
        .collect();
    graph
        .value_info
        .retain(|info| !written.contains(&info.name));
}

/// A node with one output, named after it.
pub(crate) fn node(
    op_type: &str,
    inputs: &[&str],
    output: &str,
    attribute: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        name: format!("tamis_{output}"),
        op_type: op_type.to_string(),
        input: inputs.iter().map(|i| i.to_string()).collect(),
        output: vec![output.to_string()],
        attribute,
        ..Default::default()
    }
}

/// The op types of the graph's nodes, in order.
#[cfg(test)]
pub(crate) fn op_types(graph: &GraphProto) -> Vec<&str> {
    graph.node.iter().map(|n| n.op_type.as_str()).collect()
}

/// The default model's ONNX protobuf, from the prepared bundle.
#[cfg(test)]
pub(crate) fn default_model_proto() -> tract_onnx::pb::ModelProto {
    let bundle = crate::ModelBundle::default_for_tests();
    crate::onnx_data::decode_model(&bundle.model).expect("the default model parses")
}

#[cfg(test)]
mod tests {
    use tract_onnx::pb::ValueInfoProto;

    use super::*;

    #[test]
    fn unused_nodes_go_with_what_only_they_read_and_their_value_infos() {
        let value_info = |name: &str| ValueInfoProto {
            name: name.into(),
            ..Default::default()
        };
        // x -> a -> b -> y (the output); a -> c -> d, read by nothing; e read by c alone and
        // written after it (not in order).
        let mut graph = GraphProto {
            node: vec![
                node("Relu", &["x"], "a", vec![]),
                node("Add", &["a", "e"], "c", vec![]),
                node("Relu", &["a"], "b", vec![]),
                node("Neg", &["x"], "e", vec![]),
                node("Relu", &["c"], "d", vec![]),
                node("Relu", &["b"], "y", vec![]),
            ],
            output: vec![value_info("y")],
            value_info: ["a", "b", "c", "d", "e"].map(value_info).to_vec(),
            ..Default::default()
        };
        remove_unused_nodes(&mut graph);
        let outputs: Vec<&str> = graph.node.iter().map(|n| n.output[0].as_str()).collect();
        assert_eq!(outputs, ["a", "b", "y"]);
        let infos: Vec<&str> = graph.value_info.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(infos, ["a", "b"]);
    }

    #[test]
    fn a_value_read_twice_has_no_single_consumer() {
        let graph = GraphProto {
            node: vec![
                node("Relu", &["x"], "a", vec![]),
                node("Mul", &["a", "a"], "b", vec![]),
            ],
            ..Default::default()
        };
        let index = GraphIndex::new(&graph);
        assert_eq!(index.single_consumer("x"), Some(0));
        assert_eq!(index.single_consumer("a"), None);
        assert_eq!(index.single_reader_producer("x"), None, "x is an input");
        assert_eq!(index.producer("b"), Some(1));
    }
}
