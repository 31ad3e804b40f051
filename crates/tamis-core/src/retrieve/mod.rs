//! Lexical retrieval over an in-memory collection: BM25 and TF-IDF cosine, the classical
//! retrievers whose runs the fusers combine. Dense retrieval is `nearest_neighbours` over
//! encoder embeddings.
//!
//! ```
//! use tamis_core::retrieve::{LexicalIndex, Scoring};
//!
//! let index = LexicalIndex::new(&["wing flutter at supersonic speed", "heat transfer in slabs"]);
//! let hits = index.search("supersonic wings", Scoring::Bm25 { k1: 1.2, b: 0.75 }, 10);
//! assert_eq!(hits[0].0, 0);
//! ```

mod analyze;
mod lexical;

pub use analyze::analyze;
pub use lexical::{LexicalIndex, Scoring};
