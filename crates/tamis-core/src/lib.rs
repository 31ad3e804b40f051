//! The pure core of tamis: no model, no I/O, no wasm.
//!
//! It defines what an encoder produces ([`Embedding`]) and the [`Encoder`] trait the model
//! backends implement, plus the vector arithmetic every later layer (classification, fusion)
//! builds on.
//!
//! ```
//! use tamis_core::{cosine, nearest_neighbours};
//!
//! let vectors = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![0.6, 0.8]];
//! assert!((cosine(&vectors[0], &vectors[2]) - 0.6).abs() < 1e-6);
//! let nearest = nearest_neighbours(&vectors[2], &vectors, 1, Some(2));
//! assert_eq!(nearest[0].index, 1);
//! ```

pub mod classify;
mod embedding;
pub mod fuse;
pub(crate) mod hash;
pub mod metrics;
pub mod retrieve;
pub(crate) mod similarity;

pub use embedding::{Embedding, Encoder};
pub use similarity::{cosine, l2_normalize, nearest_neighbours, Neighbour};
