//! ONNX protobufs: the model decoded from bytes, and values of initializers, stored either as
//! raw little-endian bytes or in the typed repeated fields.

use prost::Message;
use tract_onnx::pb::{ModelProto, NodeProto, TensorProto};

use crate::ModelError;

/// Decodes an ONNX file straight from `bytes` (tract's reader first copies them all), and
/// checks that every node has an output, that the nodes tamis's graph readers inspect have
/// the inputs ONNX requires, and that each `Transpose` perm is a permutation (tract's shape
/// inference indexes axes with it): a corrupted file is then an error, not an index out of
/// bounds (both found by fuzzing).
pub(crate) fn decode_model(bytes: &[u8]) -> Result<ModelProto, ModelError> {
    let model = ModelProto::decode(bytes).map_err(|e| ModelError::InvalidOnnx(format!("{e:#}")))?;
    for node in model.graph.iter().flat_map(|g| &g.node) {
        check_transpose(node)?;
        let required = match node.op_type.as_str() {
            "Where" => 3,
            "Add" | "Sub" | "Mul" | "Div" | "Pow" | "MatMul" | "Reshape" | "Gather"
            | "LayerNormalization" => 2,
            "Cast" | "Transpose" | "Softmax" | "Erf" | "IsNaN" => 1,
            _ => 0,
        };
        if node.input.len() < required || node.output.is_empty() {
            return Err(ModelError::InvalidOnnx(format!(
                "node `{}`: {} needs {required} inputs and an output, it has {} and {}",
                node.name,
                node.op_type,
                node.input.len(),
                node.output.len()
            )));
        }
    }
    Ok(model)
}

/// Refuses a `Transpose` whose `perm` is not a permutation of `0..n`.
fn check_transpose(node: &NodeProto) -> Result<(), ModelError> {
    if node.op_type != "Transpose" {
        return Ok(());
    }
    for perm in node.attribute.iter().filter(|a| a.name == "perm") {
        let mut seen = vec![false; perm.ints.len()];
        let is_permutation = perm.ints.iter().all(|&axis| {
            let slot = usize::try_from(axis).ok().and_then(|a| seen.get_mut(a));
            slot.is_some_and(|seen| !std::mem::replace(seen, true))
        });
        if !is_permutation {
            return Err(ModelError::InvalidOnnx(format!(
                "node `{}`: Transpose perm {:?} is not a permutation of 0..{}",
                node.name,
                perm.ints,
                perm.ints.len()
            )));
        }
    }
    Ok(())
}

/// An int8 tensor's values.
pub(crate) fn int8_values(tensor: &TensorProto) -> Vec<i8> {
    if tensor.raw_data.is_empty() {
        tensor.int32_data.iter().map(|&v| v as i8).collect()
    } else {
        tensor.raw_data.iter().map(|&b| b as i8).collect()
    }
}

/// A float tensor's values.
pub(crate) fn f32_values(tensor: &TensorProto) -> Vec<f32> {
    values(&tensor.raw_data, &tensor.float_data, f32::from_le_bytes)
}

/// An int64 tensor's values (shapes, axes).
pub(crate) fn i64_values(tensor: &TensorProto) -> Vec<i64> {
    values(&tensor.raw_data, &tensor.int64_data, i64::from_le_bytes)
}

/// The raw little-endian bytes decoded, or the typed field when there are none.
fn values<T: Copy, const N: usize>(raw: &[u8], typed: &[T], decode: fn([u8; N]) -> T) -> Vec<T> {
    if raw.is_empty() {
        return typed.to_vec();
    }
    raw.chunks_exact(N)
        .map(|bytes| decode(bytes.try_into().expect("chunks of N bytes")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tract::default_model_proto;

    #[test]
    fn a_node_missing_its_inputs_is_an_error_not_a_panic() {
        // Found by fuzzing: a corrupted `Cast` with no input made a graph reader index out
        // of bounds.
        let mut model = default_model_proto();
        let graph = model.graph.as_mut().unwrap();
        let cast = graph.node.iter_mut().find(|n| n.op_type == "Cast").unwrap();
        cast.input.clear();
        let error = decode_model(&model.encode_to_vec()).unwrap_err();
        assert!(error.to_string().contains("Cast needs 1 inputs"), "{error}");
    }
}
