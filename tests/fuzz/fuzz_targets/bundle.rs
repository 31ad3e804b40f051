//! Model bundles from arbitrary bytes: the first byte picks what is fuzzed (the manifest, or
//! the ONNX file: the real model truncated or corrupted by the input, or the input itself).
//! Loading gives a model or a typed error, never a panic. Needs the prepared bundle.
#![no_main]
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tamis_model::{Manifest, ModelBundle, TractEncoder};

static BUNDLE: LazyLock<ModelBundle> = LazyLock::new(|| {
    ModelBundle::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/minilm-l6-int8"
    ))
    .expect("the model bundle: run scripts/setup.sh")
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let real = &*BUNDLE;
    let model = match mode % 4 {
        0 => {
            let _ = Manifest::from_json(rest);
            return;
        }
        1 => {
            // The real model cut short where the input says.
            let cut = rest.iter().fold(0usize, |acc, &b| {
                acc.wrapping_mul(31).wrapping_add(usize::from(b))
            });
            real.model[..cut % real.model.len()].to_vec()
        }
        2 => {
            // The real model with bytes overwritten at positions the input picks.
            let mut model = real.model.clone();
            for pair in rest.chunks_exact(4) {
                let at =
                    usize::from(u16::from_le_bytes([pair[0], pair[1]])) * 97 + usize::from(pair[2]);
                if let Some(byte) = model.get_mut(at % real.model.len()) {
                    *byte = pair[3];
                }
            }
            model
        }
        _ => rest.to_vec(),
    };
    let bundle = ModelBundle {
        model,
        ..real.clone()
    };
    let _ = TractEncoder::new(&bundle);
});
