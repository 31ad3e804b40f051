//! Values of ONNX initializers, stored either as raw little-endian bytes or in the typed
//! repeated fields.

use tract_onnx::pb::TensorProto;

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
    if tensor.raw_data.is_empty() {
        tensor.float_data.clone()
    } else {
        tensor
            .raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }
}

/// An int64 tensor's values (shapes, axes).
pub(crate) fn i64_values(tensor: &TensorProto) -> Vec<i64> {
    if tensor.raw_data.is_empty() {
        tensor.int64_data.clone()
    } else {
        tensor
            .raw_data
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("chunks of 8")))
            .collect()
    }
}
