//! Lookups over an ONNX graph shared by the rewrites.

use std::collections::{HashMap, HashSet};

use tract_onnx::pb::{AttributeProto, GraphProto, NodeProto, TensorProto};

use crate::onnx_data::f32_values;

/// ONNX `TensorProto.DataType.FLOAT`.
pub(crate) const ONNX_FLOAT: i32 = 1;

/// Which node writes each value, and which nodes read it.
pub(crate) struct GraphIndex<'a> {
    producer: HashMap<&'a str, usize>,
    consumers: HashMap<&'a str, Vec<usize>>,
}

impl<'a> GraphIndex<'a> {
    pub fn new(graph: &'a GraphProto) -> Self {
        let mut producer = HashMap::new();
        let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
        for (index, node) in graph.node.iter().enumerate() {
            for output in &node.output {
                producer.insert(output.as_str(), index);
            }
            for input in &node.input {
                consumers.entry(input.as_str()).or_default().push(index);
            }
        }
        Self {
            producer,
            consumers,
        }
    }

    /// The node writing `value`.
    pub fn producer(&self, value: &str) -> Option<usize> {
        self.producer.get(value).copied()
    }

    /// The node reading `value`, when exactly one does.
    pub fn single_consumer(&self, value: &str) -> Option<usize> {
        match self.consumers.get(value).map(Vec::as_slice) {
            Some([only]) => Some(*only),
            _ => None,
        }
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
/// repeatedly, with the value infos of what they wrote: what a rewrite left behind.
pub(crate) fn remove_unused_nodes(graph: &mut GraphProto) {
    loop {
        let read: HashSet<&str> = (graph.node.iter())
            .flat_map(|n| n.input.iter())
            .chain(graph.output.iter().map(|o| &o.name))
            .map(String::as_str)
            .collect();
        let unused: HashSet<usize> = (graph.node.iter().enumerate())
            .filter(|(_, n)| !n.output.iter().any(|o| read.contains(o.as_str())))
            .map(|(at, _)| at)
            .collect();
        if unused.is_empty() {
            return;
        }
        let written: HashSet<String> = (unused.iter())
            .flat_map(|&at| graph.node[at].output.iter().cloned())
            .collect();
        let nodes = std::mem::take(&mut graph.node);
        graph.node = (nodes.into_iter().enumerate())
            .filter(|(at, _)| !unused.contains(at))
            .map(|(_, n)| n)
            .collect();
        graph
            .value_info
            .retain(|info| !written.contains(&info.name));
    }
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
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/minilm-l6-int8/model.onnx"
    );
    let bytes = std::fs::read(path).expect("the model bundle (scripts/setup.sh)");
    crate::onnx_data::decode_model(&bytes).expect("the default model parses")
}
