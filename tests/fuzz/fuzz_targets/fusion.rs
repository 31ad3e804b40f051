//! Fusion requests as JSON: fused (every candidate once, finite scores) or a typed error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tamis_core::fuse::{fuse_request, FusionRequest};
use tamis_core::{Embedding, Encoder};

/// Deterministic unit vectors from the text's bytes: content fusion without a model.
struct ByteEncoder;

impl Encoder for ByteEncoder {
    type Error = std::convert::Infallible;

    fn dimension(&self) -> usize {
        4
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, Self::Error> {
        Ok(texts
            .iter()
            .map(|text| {
                let mut vector = [1.0f32; 4];
                for (i, byte) in text.bytes().enumerate() {
                    vector[i % 4] += f32::from(byte);
                }
                let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
                Embedding {
                    vector: vector.iter().map(|v| v / norm).collect(),
                    tokens: text.len(),
                    truncated: false,
                }
            })
            .collect())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<FusionRequest>(data) else {
        return;
    };
    if let Ok(fused) = fuse_request(&ByteEncoder, &request) {
        let mut ids: Vec<&str> = fused.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        let count = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), count, "every candidate once");
        assert!(fused.iter().all(|c| !c.score.is_nan()), "no NaN score");
    }
});
