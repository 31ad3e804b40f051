/// The embedding of one text.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Embedding {
    /// Unit-length vector (L2-normalised), `Encoder::dimension` long.
    pub vector: Vec<f32>,
    /// Tokens the model saw, special tokens included.
    pub tokens: usize,
    /// True when the text was longer than the model's window and its end was cut off.
    pub truncated: bool,
}

/// Turns texts into embeddings. Implemented by the model backends (tract on CPU and wasm,
/// later wgpu); the core only depends on this trait.
///
/// Implementations must return one embedding per text, in input order, and give the same
/// embedding for a text whatever else is in the batch.
pub trait Encoder {
    /// The backend's error type.
    type Error: std::error::Error;

    /// Length of every embedding vector.
    fn dimension(&self) -> usize;

    /// Embeds `texts`, in order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, Self::Error>;

    /// Embeds `descriptions`: texts that say what to look for (a category's definition and
    /// the items it lists) rather than texts to judge, to be compared with the embeddings of
    /// [`Encoder::embed`]. A model trained with two prefixes embeds them with its document
    /// prefix (e5's `passage: `; texts keep `query: `): with e5, the TextDetox toxicity
    /// definition's items ranked toxic test comments above benign ones with AUC .89 this way
    /// against .82 with `query: ` on both sides (`tamis eval classify`, definition only).
    /// By default, as [`Encoder::embed`]: models without prefixes have one role.
    fn embed_descriptions(&self, descriptions: &[&str]) -> Result<Vec<Embedding>, Self::Error> {
        self.embed(descriptions)
    }
}
