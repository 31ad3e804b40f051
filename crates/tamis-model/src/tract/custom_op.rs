//! tamis's own operations, wired into tract once: an op states its ONNX type, its inputs and
//! how it computes; [`Custom`] makes it a tract op (inference rules, typing, evaluation).
//!
//! Why tamis computes these itself: tract's f32 kernels differ by architecture (summation
//! order, `erf` and `exp` approximations), so native and wasm results used to differ in the
//! last bits. tamis's ops are plain Rust with a fixed order of operations and the same `exp`
//! and `erf` code on every target, so native and wasm embeddings are bit-identical, which lets
//! the integer matrix products quantize activations coarsely (see
//! [`super::integer_kernels`]): the same rounding happens on every host.

use std::fmt::Debug;

use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_hir::internal::{
    check_input_arity, check_output_arity, Expansion, InferenceResult, Solver, TensorProxy,
};

/// One of tamis's operations on f32 tensors.
pub(crate) trait TamisOp: Debug + Clone + PartialEq + Send + Sync + 'static {
    /// The ONNX op type of its nodes.
    const OP_TYPE: &'static str;
    /// How many inputs it reads.
    const INPUTS: usize;

    /// The length its first input's last axis must have, when fixed.
    fn input_width(&self) -> Option<usize> {
        None
    }

    /// The length of its output's last axis, when not the first input's.
    fn output_width(&self) -> Option<usize> {
        None
    }

    /// A line describing the op (tract's model dumps).
    fn info(&self) -> String;

    /// The output, shaped like the first input but for the last axis ([`Self::output_width`]).
    fn eval(&self, inputs: TVec<TValue>) -> TractResult<Tensor>;
}

/// A [`TamisOp`] as a tract op.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Custom<T>(pub T);

impl<T: TamisOp> Eq for Custom<T> {}

impl<T: TamisOp> Op for Custom<T> {
    fn name(&self) -> StaticName {
        T::OP_TYPE.into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![self.0.info()])
    }

    op_as_typed_op!();
}

impl<T: TamisOp> EvalOp for Custom<T> {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        ensure!(
            inputs.len() == T::INPUTS,
            "{}: expected {} inputs, got {}",
            T::OP_TYPE,
            T::INPUTS,
            inputs.len()
        );
        Ok(tvec!(self.0.eval(inputs)?.into_tvalue()))
    }
}

impl<T: TamisOp> TypedOp for Custom<T> {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(
            inputs.iter().all(|i| i.datum_type == f32::datum_type()),
            "{}: every input must be f32",
            T::OP_TYPE
        );
        let mut shape = inputs[0].shape.to_tvec();
        let last = shape.last_mut().context("the first input has no axis")?;
        if let Some(width) = self.0.input_width() {
            ensure!(
                last.to_usize().ok() == Some(width),
                "{}: last axis must be {width}",
                T::OP_TYPE
            );
        }
        if let Some(width) = self.0.output_width() {
            *last = width.into();
        }
        Ok(tvec!(f32::fact(shape)))
    }
}

impl<T: TamisOp> Expansion for Custom<T> {
    fn name(&self) -> StaticName {
        T::OP_TYPE.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, T::INPUTS)?;
        check_output_arity(outputs, 1)?;
        for input in inputs {
            s.equals(&input.datum_type, f32::datum_type())?;
        }
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&inputs[0].rank, &outputs[0].rank)?;
        let (input_width, output_width) = (self.0.input_width(), self.0.output_width());
        s.given(&inputs[0].rank, move |s, rank| {
            let Some(last) = usize::try_from(rank).ok().and_then(|r| r.checked_sub(1)) else {
                bail!("{}: the input has no axis", T::OP_TYPE);
            };
            for axis in 0..last {
                s.equals(&inputs[0].shape[axis], &outputs[0].shape[axis])?;
            }
            if let Some(width) = input_width {
                s.equals(&inputs[0].shape[last], width.to_dim())?;
            }
            match output_width {
                Some(width) => s.equals(&outputs[0].shape[last], width.to_dim()),
                None => s.equals(&inputs[0].shape[last], &outputs[0].shape[last]),
            }
        })
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.clone(), inputs)
    }
}

/// The f32 values of an input, in standard (row-major) order.
pub(crate) fn values(input: &TValue) -> TractResult<&[f32]> {
    input.try_as_plain_ram()?.as_slice::<f32>()
}

/// The f32 values of a tensor an op writes, in standard (row-major) order.
pub(crate) fn values_mut(tensor: &mut Tensor) -> TractResult<&mut [f32]> {
    (tensor.to_plain_array_view_mut::<f32>()?.into_slice())
        .context("a tensor not in standard order")
}

/// Lanes of the deterministic sums below: summed independently, so that the compiler
/// vectorizes (it keeps a plain sum's order), then in order.
const LANES: usize = 8;

/// A deterministic sum of `values`, the same on every target.
pub(crate) fn lane_sum(values: &[f32]) -> f32 {
    let chunks = values.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    let mut lanes = [0f32; LANES];
    for chunk in chunks {
        for lane in 0..LANES {
            lanes[lane] += chunk[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// A deterministic dot product, the same on every target.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (chunks_a, chunks_b) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = (chunks_a.remainder().iter())
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut lanes = [0f32; LANES];
    for (x, y) in chunks_a.zip(chunks_b) {
        for lane in 0..LANES {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// How many `T` nodes survive tract's passes on the model `proto` describes: decluttering,
/// where the encoder stops when tamis's ops run every product, and codegen after it, which
/// the f32 and unfused-attention variants also run. Both must keep every one of them.
#[cfg(test)]
pub(crate) fn count_after_tract_passes<T: TamisOp>(proto: &tract_onnx::pb::ModelProto) -> usize {
    use tract_onnx::prelude::{Framework, InferenceModelExt, TypedModel};

    let count = |model: &TypedModel| {
        (model.nodes().iter())
            .filter(|n| n.op_is::<Custom<T>>())
            .count()
    };
    let model = super::framework().model_for_proto_model(proto).unwrap();
    let mut model = model.into_typed().unwrap().into_decluttered().unwrap();
    let after_declutter = count(&model);
    model.optimize().unwrap();
    assert_eq!(count(&model), after_declutter, "codegen removed some");
    after_declutter
}
