//! The model's self-attention as one op instead of some twenty tract ops per layer.
//!
//! The default model's export spells each layer's attention as head splits (`Reshape`,
//! `Transpose`), a reshape dance that transposes the keys, `q` and `k` scaled by a constant,
//! `MatMul`, the additive mask, `Softmax`, a NaN guard (`Where(IsNaN(p), 0, p)`), `MatMul` by
//! the values and the heads merged back (`Transpose`, `Reshape`). Run one by one, each of
//! these ops costs a pass over memory and an allocation, and tract runs the per-head products
//! with its large-matrix kernels on 32-wide heads: together about a third of a call in wasm at
//! one text per call, where the attention's arithmetic is under 1% of the model's.
//! [`fuse_attention`] replaces the chain by one `TamisAttention(q, k, v, mask)` node and
//! [`register`] teaches tract to build it. Same formula; the result differs only in float
//! rounding. [`kernel`] computes it: vectorized, in a fixed order of operations, so that every
//! target gives the same bits.

use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::{attribute_proto::AttributeType, AttributeProto, GraphProto, NodeProto};
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_hir::internal::{expand, InferenceOp};

use super::custom_op::{values, values_mut, Custom, TamisOp};
use super::graph::{node, remove_unused_nodes, scalar_initializer, GraphIndex};
use crate::onnx_data::i64_values;
use crate::threads::threads_within_a_run;
pub(crate) use kernel::{attend_in_threads, Heads, Mask};

mod kernel;

/// Lets tract's ONNX parser build the nodes [`fuse_attention`] writes.
pub(crate) fn register(register: &mut OnnxOpRegister) {
    register.insert(FusedAttention::OP_TYPE, build);
}

/// What one matched attention chain computes.
#[derive(Debug, Clone, PartialEq)]
struct AttentionChain {
    /// The merged-heads output: the value the new node writes.
    output: String,
    /// The projections, each batch x tokens x (heads x head_dim).
    query: String,
    key: String,
    value: String,
    /// The additive mask, broadcast to batch x heads x tokens x tokens.
    mask: String,
    head_dim: usize,
    query_scale: f32,
    key_scale: f32,
}

/// Replaces each attention chain of the shape described in the module documentation by one
/// `TamisAttention` node, removes the nodes nothing reads any more; returns how many.
pub(crate) fn fuse_attention(graph: &mut GraphProto) -> usize {
    let index = GraphIndex::new(graph);
    let chains: Vec<(usize, AttentionChain)> = graph
        .node
        .iter()
        .enumerate()
        .filter_map(|(at, node)| Some((at, attention_chain(graph, &index, node)?)))
        .collect();
    for (at, chain) in &chains {
        let float = |name: &str, value: f32| AttributeProto {
            name: name.into(),
            r#type: AttributeType::Float.into(),
            f: value,
            ..Default::default()
        };
        let attributes = vec![
            AttributeProto {
                name: "head_dim".into(),
                r#type: AttributeType::Int.into(),
                i: chain.head_dim as i64,
                ..Default::default()
            },
            float("query_scale", chain.query_scale),
            float("key_scale", chain.key_scale),
        ];
        let inputs = [&chain.query, &chain.key, &chain.value, &chain.mask].map(String::as_str);
        graph.node[*at] = node(FusedAttention::OP_TYPE, &inputs, &chain.output, attributes);
    }
    remove_unused_nodes(graph);
    chains.len()
}

/// Matches `out = Reshape(Transpose(MatMul(P, V)))` with `P = Softmax(Q Kᵀ + mask)` (NaN
/// guard optional) and `Q`, `Kᵀ`, `V` split into heads from three projections.
fn attention_chain(
    graph: &GraphProto,
    index: &GraphIndex,
    out: &NodeProto,
) -> Option<AttentionChain> {
    let find = |value: &str, op_type: &str| -> Option<&NodeProto> {
        let node = &graph.node[index.producer(value)?];
        (node.op_type == op_type).then_some(node)
    };
    let perm = |node: &NodeProto| -> Option<Vec<i64>> {
        node.attribute
            .iter()
            .find(|a| a.name == "perm")
            .map(|a| a.ints.clone())
    };
    let transposed = |value: &str, expected: &[i64]| -> Option<&str> {
        let node = find(value, "Transpose")?;
        (perm(node)? == expected).then(|| node.input[0].as_str())
    };
    // `Transpose(Reshape(x, shape), [0, 2, 1, 3])`: x split into heads; returns (x, shape).
    let heads_of = |value: &str| -> Option<(&str, &str)> {
        let reshape = find(transposed(value, &[0, 2, 1, 3])?, "Reshape")?;
        Some((reshape.input.first()?, reshape.input.get(1)?))
    };
    // `Mul(x, scale)` in either order; returns (x, scale).
    let scaled = |value: &str| -> Option<(&str, f32)> {
        let mul = find(value, "Mul")?;
        let [a, b] = [mul.input.first()?, mul.input.get(1)?];
        match (scalar_initializer(graph, a), scalar_initializer(graph, b)) {
            (None, Some(scale)) => Some((a, scale)),
            (Some(scale), None) => Some((b, scale)),
            _ => None,
        }
    };
    // Keys split into heads with their last two axes swapped, directly or as
    // `Reshape(Transpose(Reshape(heads, [-1, tokens, dim]), [0, 2, 1]))`.
    let keys_transposed = |value: &str| -> Option<(&str, &str)> {
        if let Some(heads) = transposed(value, &[0, 1, 3, 2]) {
            return heads_of(heads);
        }
        let flat = transposed(&find(value, "Reshape")?.input[0], &[0, 2, 1])?;
        heads_of(&find(flat, "Reshape")?.input[0])
    };

    if out.op_type != "Reshape" {
        return None;
    }
    let context = find(transposed(&out.input[0], &[0, 2, 1, 3])?, "MatMul")?;
    let (value, value_shape) = heads_of(context.input.get(1)?)?;
    let probabilities = match find(&context.input[0], "Where") {
        Some(guard) => {
            let [nan, zero, kept] = [
                guard.input.first()?,
                guard.input.get(1)?,
                guard.input.get(2)?,
            ];
            let checked = &find(nan, "IsNaN")?.input[0];
            (checked == kept && scalar_initializer(graph, zero) == Some(0.0)).then_some(kept)?
        }
        None => &context.input[0],
    };
    let softmax = find(probabilities, "Softmax")?;
    let axis = softmax.attribute.iter().find(|a| a.name == "axis");
    if axis.is_some_and(|a| a.i != -1 && a.i != 3) {
        return None;
    }
    let sum = find(&softmax.input[0], "Add")?;
    let [a, b] = [sum.input.first()?, sum.input.get(1)?];
    let (scores, mask) = match find(a, "MatMul") {
        Some(scores) => (scores, b),
        None => (find(b, "MatMul")?, a),
    };
    let (query_heads, query_scale) = scaled(scores.input.first()?)?;
    let (keys, key_scale) = scaled(scores.input.get(1)?)?;
    let (query, query_shape) = heads_of(query_heads)?;
    let (key, key_shape) = keys_transposed(keys)?;
    if query_shape != key_shape || query_shape != value_shape {
        return None;
    }
    Some(AttentionChain {
        output: out.output.first()?.clone(),
        query: query.into(),
        key: key.into(),
        value: value.into(),
        mask: mask.clone(),
        head_dim: head_dim(graph, index, query_shape)?,
        query_scale,
        key_scale,
    })
}

/// The last entry of a head-split shape `[batch, tokens, heads, head_dim]`: an initializer,
/// or a `Concat` whose last part is one.
fn head_dim(graph: &GraphProto, index: &GraphIndex, shape: &str) -> Option<usize> {
    let last_of = |name: &str| -> Option<i64> {
        let tensor = graph.initializer.iter().find(|t| t.name == name)?;
        i64_values(tensor).last().copied()
    };
    let last = last_of(shape).or_else(|| {
        let concat = &graph.node[index.producer(shape)?];
        (concat.op_type == "Concat").then_some(())?;
        last_of(concat.input.last()?)
    })?;
    usize::try_from(last).ok().filter(|&d| d > 0)
}

/// Builds a `TamisAttention` node from its attributes.
fn build(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let head_dim: usize = node.get_attr("head_dim")?;
    ensure!(head_dim > 0, "{}: head_dim must be positive", node.name);
    let op = FusedAttention {
        head_dim,
        query_scale: node.get_attr("query_scale")?,
        key_scale: node.get_attr("key_scale")?,
    };
    Ok((expand(Custom(op)), vec![]))
}

/// `softmax((q·s_q)(k·s_k)ᵀ + mask) v` per head, NaN probabilities read as 0, for `q`, `k`, `v`
/// of shape batch x tokens x (heads x head_dim) and a rank-4 mask broadcast to batch x heads x
/// tokens x tokens.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FusedAttention {
    head_dim: usize,
    query_scale: f32,
    key_scale: f32,
}

impl TamisOp for FusedAttention {
    const OP_TYPE: &'static str = "TamisAttention";
    const INPUTS: usize = 4;

    fn info(&self) -> String {
        format!("heads of {}", self.head_dim)
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<Tensor> {
        let op = Self::OP_TYPE;
        let (query, key, value, mask) = args_4!(inputs);
        let &[batch, tokens, width] = query.shape() else {
            bail!(
                "{op}: expected batch x tokens x width, got {:?}",
                query.shape()
            );
        };
        ensure!(
            key.shape() == query.shape() && value.shape() == query.shape(),
            "{op}: query, key and value shapes differ"
        );
        ensure!(
            width % self.head_dim == 0,
            "{op}: width {width} is not a multiple of the head size {}",
            self.head_dim
        );
        let heads = width / self.head_dim;
        let mask = Mask::new(values(&mask)?, mask.shape(), [batch, heads, tokens, tokens])?;
        let heads = Heads {
            query: values(&query)?,
            key: values(&key)?,
            value: values(&value)?,
            batch,
            tokens,
            heads,
            head_dim: self.head_dim,
            scale: self.query_scale * self.key_scale,
        };
        // Written in place: tract would copy a vector into a tensor of its own. The heads split
        // over the threads the run has to itself, as its products do.
        let mut output = Tensor::zero::<f32>(&[batch, tokens, width])?;
        let threads = threads_within_a_run();
        attend_in_threads(&heads, &mask, threads, values_mut(&mut output)?);
        Ok(output)
    }
}

#[cfg(test)]
mod tests {
    use super::super::custom_op::count_after_tract_passes;
    use super::super::graph::{default_model_proto, op_types};
    use super::*;

    #[test]
    fn every_layer_of_the_default_model_gets_one_attention_node() {
        let mut proto = default_model_proto();
        let graph = proto.graph.as_mut().expect("a graph");
        assert_eq!(
            fuse_attention(graph),
            6,
            "one attention in each of the 6 layers"
        );
        let ops = op_types(graph);
        for gone in ["Softmax", "IsNaN", "Transpose"] {
            assert!(!ops.contains(&gone), "no {gone} left");
        }
        let fused = (graph.node.iter())
            .find(|n| n.op_type == FusedAttention::OP_TYPE)
            .unwrap();
        assert_eq!(fused.attribute[0].i, 32, "MiniLM's 12 heads of 32");
        let count = count_after_tract_passes::<FusedAttention>(&proto);
        assert_eq!(count, 6, "all of them survive tract's passes");
    }
}
