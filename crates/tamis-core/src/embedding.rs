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
}
