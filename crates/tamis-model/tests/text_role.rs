//! `CpuEncoder::for_role` and `Encoder::embed_descriptions`: a model trained with prefixes
//! embeds each role behind its own, a model without them embeds every role alike.

use std::path::Path;

use tamis_core::Encoder;
use tamis_model::{CpuEncoder, ModelBundle, TextRole, XlmRobertaEncoder};

fn bundle(id: &str) -> ModelBundle {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models")
        .join(id);
    ModelBundle::read_dir(dir).unwrap_or_else(|e| panic!("{e}"))
}

const TEXTS: [&str; 2] = [
    "Experimental study of the boundary layer on a flat plate at supersonic speeds.",
    "",
];

fn vectors(encoder: &impl Encoder<Error: std::fmt::Debug>) -> Vec<Vec<f32>> {
    let embeddings = encoder.embed(&TEXTS).expect("embeds");
    embeddings.into_iter().map(|e| e.vector).collect()
}

fn descriptions(encoder: &impl Encoder<Error: std::fmt::Debug>) -> Vec<Vec<f32>> {
    let embeddings = encoder.embed_descriptions(&TEXTS).expect("embeds");
    embeddings.into_iter().map(|e| e.vector).collect()
}

#[test]
fn e5_puts_the_passage_prefix_before_a_passage() {
    let bundle = bundle("e5-small-q4");
    let passages = CpuEncoder::for_role(&bundle, TextRole::Passage).expect("e5 loads");
    let queries = CpuEncoder::new(&bundle).expect("e5 loads");
    let behind_passage_prefix =
        XlmRobertaEncoder::from_model_file(&bundle.model, "passage: ", bundle.manifest.max_tokens)
            .expect("e5 loads");
    assert_eq!(vectors(&passages), vectors(&behind_passage_prefix));
    assert_eq!(
        descriptions(&queries),
        vectors(&passages),
        "a description is embedded as a passage"
    );
    for (passage, query) in vectors(&passages).iter().zip(vectors(&queries)) {
        assert_ne!(
            passage, &query,
            "the query prefix is not the passage prefix"
        );
    }
}

#[test]
fn minilm_embeds_every_role_alike() {
    let bundle = bundle("minilm-l6-int8");
    let passages = CpuEncoder::for_role(&bundle, TextRole::Passage).expect("MiniLM loads");
    let queries = CpuEncoder::new(&bundle).expect("MiniLM loads");
    assert_eq!(vectors(&passages), vectors(&queries));
    assert_eq!(descriptions(&queries), vectors(&queries));
}
