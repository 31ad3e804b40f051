//! ONNX protobufs: the model decoded from bytes, and values of initializers, stored either as
//! raw little-endian bytes or in the typed repeated fields.

use prost::Message;
use tract_onnx::pb::{ModelProto, TensorProto};

use crate::ModelError;

/// Decodes an ONNX file straight from `bytes` (tract's reader first copies them all).
pub(crate) fn decode_model(bytes: &[u8]) -> Result<ModelProto, ModelError> {
    ModelProto::decode(bytes).map_err(|e| ModelError::InvalidOnnx(format!("{e:#}")))
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
