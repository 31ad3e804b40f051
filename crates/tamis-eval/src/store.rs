//! An encoder that remembers: embeddings computed once are kept in memory and on disk, so a
//! second evaluation run embeds nothing it has seen before.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tamis_core::{Embedding, Encoder};

use crate::EvalError;

/// Wraps an encoder with a cache keyed by the exact text.
pub struct CachedEncoder<'a, E: Encoder> {
    inner: &'a E,
    path: PathBuf,
    cache: RefCell<HashMap<String, Embedding>>,
    /// Entries not yet on disk.
    added: RefCell<usize>,
}

impl<'a, E: Encoder> CachedEncoder<'a, E> {
    /// Opens the cache file at `path` (missing or unreadable: an empty cache). One file per
    /// model: the caller names it after the model's checksum.
    pub fn open(inner: &'a E, path: &Path) -> Self {
        let cache = std::fs::read(path)
            .map(|bytes| decode(&bytes, inner.dimension()))
            .unwrap_or_default();
        CachedEncoder {
            inner,
            path: path.to_path_buf(),
            cache: RefCell::new(cache),
            added: RefCell::new(0),
        }
    }

    /// Writes the cache to disk when it has grown.
    pub fn save(&self) -> Result<(), EvalError> {
        if *self.added.borrow() == 0 {
            return Ok(());
        }
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| EvalError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let mut bytes = Vec::new();
        for (text, embedding) in self.cache.borrow().iter() {
            bytes.extend_from_slice(&(text.len() as u32).to_le_bytes());
            bytes.extend_from_slice(text.as_bytes());
            bytes.extend_from_slice(&(embedding.tokens as u32).to_le_bytes());
            bytes.push(u8::from(embedding.truncated));
            bytes.extend(embedding.vector.iter().flat_map(|v| v.to_le_bytes()));
        }
        std::fs::write(&self.path, bytes).map_err(|source| EvalError::Write {
            path: self.path.clone(),
            source,
        })?;
        *self.added.borrow_mut() = 0;
        Ok(())
    }
}

fn decode(bytes: &[u8], dimension: usize) -> HashMap<String, Embedding> {
    let mut cache = HashMap::new();
    let mut at = 0;
    let mut take = |len: usize| {
        let slice = bytes.get(at..at + len);
        at += len;
        slice
    };
    let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    while let Some(len) = take(4).map(u32_at) {
        let entry = (|| {
            let text = std::str::from_utf8(take(len)?).ok()?.to_string();
            let tokens = u32_at(take(4)?);
            let truncated = take(1)?[0] == 1;
            let vector = take(dimension * 4)?
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            Some((
                text,
                Embedding {
                    vector,
                    tokens,
                    truncated,
                },
            ))
        })();
        match entry {
            Some((text, embedding)) => cache.insert(text, embedding),
            None => break,
        };
    }
    cache
}

impl<E: Encoder> Encoder for CachedEncoder<'_, E> {
    type Error = E::Error;

    fn dimension(&self) -> usize {
        self.inner.dimension()
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, E::Error> {
        let mut missing: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| !self.cache.borrow().contains_key(*t))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        for chunk in missing.chunks(256) {
            let embeddings = self.inner.embed(chunk)?;
            let mut cache = self.cache.borrow_mut();
            for (text, embedding) in chunk.iter().zip(embeddings) {
                cache.insert(text.to_string(), embedding);
            }
            *self.added.borrow_mut() += chunk.len();
            if missing.len() > 256 {
                eprintln!("embedded {} new texts", *self.added.borrow());
            }
        }
        let cache = self.cache.borrow();
        Ok(texts.iter().map(|t| cache[*t].clone()).collect())
    }

    /// Not cached: a policy's definitions give a handful of descriptions, and the cache
    /// is keyed by text alone (the same text embeds differently as a description).
    fn embed_descriptions(&self, descriptions: &[&str]) -> Result<Vec<Embedding>, E::Error> {
        self.inner.embed_descriptions(descriptions)
    }
}
