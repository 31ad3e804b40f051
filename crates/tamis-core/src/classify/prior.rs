//! Built-in priors: for each standard category (toxic, spam, negative) a linear model fitted
//! once on the `train.csv` splits of the seed datasets, plus a summary of ordinary benign
//! text (cluster centres) that stands in for "everything else" when a policy gives no
//! counter-examples. Both belong to one model: embeddings of another model mean nothing to
//! them, so the file names the model's checksum.
//!
//! File layout (little-endian): the magic `TAMISPR1`, a `u32` header length, a JSON header,
//! then for each category its embedding weights, lexical weights and bias, then for each
//! background point its embedding and its sparse lexical features. Weights are stored as f16.

use half::f16;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::features::{SparseVector, LEXICAL_DIMENSIONS};
use super::linear::{LinearModel, TextFeatures};
use crate::similarity::l2_normalize;

const MAGIC: &[u8; 8] = b"TAMISPR1";

/// A benign point of reference, standing for `weight` of the texts it summarizes.
#[derive(Debug, Clone, PartialEq)]
pub struct BackgroundPoint {
    pub features: TextFeatures,
    pub weight: f32,
}

/// Priors for one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Priors {
    /// sha256 of the `model.onnx` whose embeddings these weights read.
    pub model_sha256: String,
    /// (category name, model).
    pub categories: Vec<(String, LinearModel)>,
    pub background: Vec<BackgroundPoint>,
}

/// Why a priors file could not be used.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PriorsError {
    #[error("not a tamis priors file: {0}")]
    Format(String),
    #[error("these priors were fitted for model {expected}, not {found}; refit them with `tamis prior fit`")]
    ModelMismatch { expected: String, found: String },
}

#[derive(Serialize, Deserialize)]
struct Header {
    model_sha256: String,
    dimension: usize,
    lexical_dimensions: usize,
    categories: Vec<String>,
    /// (weight, non-zero lexical entries) per background point.
    background: Vec<(f32, usize)>,
}

impl Priors {
    /// The prior of a standard category, by name (ignoring case).
    pub fn category(&self, name: &str) -> Option<&LinearModel> {
        self.categories
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, model)| model)
    }

    /// Checks that these priors read the embeddings of the model with this sha256.
    pub fn check_model(&self, model_sha256: &str) -> Result<(), PriorsError> {
        if self.model_sha256 != model_sha256 {
            return Err(PriorsError::ModelMismatch {
                expected: self.model_sha256.clone(),
                found: model_sha256.to_string(),
            });
        }
        Ok(())
    }

    /// Serializes the priors (weights rounded to f16).
    pub fn to_bytes(&self) -> Vec<u8> {
        let dimension = self.categories.first().map_or_else(
            || {
                self.background
                    .first()
                    .map_or(0, |p| p.features.embedding.len())
            },
            |(_, m)| m.embedding.len(),
        );
        let header = Header {
            model_sha256: self.model_sha256.clone(),
            dimension,
            lexical_dimensions: LEXICAL_DIMENSIONS,
            categories: self.categories.iter().map(|(n, _)| n.clone()).collect(),
            background: self
                .background
                .iter()
                .map(|p| (p.weight, p.features.lexical.indices.len()))
                .collect(),
        };
        let header = serde_json::to_vec(&header).expect("the header serializes");
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&header);
        let mut put = |values: &[f32]| {
            for &v in values {
                bytes.extend_from_slice(&f16::from_f32(v).to_le_bytes());
            }
        };
        for (_, model) in &self.categories {
            put(&model.embedding);
            put(&model.lexical);
            put(&[model.bias]);
        }
        for point in &self.background {
            put(&point.features.embedding);
            put(&point.features.lexical.values);
        }
        for point in &self.background {
            for &index in &point.features.lexical.indices {
                bytes.extend_from_slice(&index.to_le_bytes());
            }
        }
        bytes
    }

    /// Reads priors written by [`Priors::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PriorsError> {
        let format = |reason: &str| PriorsError::Format(reason.to_string());
        let mut reader = Reader { bytes, at: 0 };
        if reader.take(8).ok_or_else(|| format("too short"))? != MAGIC {
            return Err(format("wrong magic bytes"));
        }
        let header_len = reader.u32().ok_or_else(|| format("no header"))? as usize;
        let header: Header = reader
            .take(header_len)
            .and_then(|h| serde_json::from_slice(h).ok())
            .ok_or_else(|| format("unreadable header"))?;
        if header.lexical_dimensions != LEXICAL_DIMENSIONS {
            return Err(format("lexical features of another tamis version"));
        }
        let truncated = || format("file ends early");
        let mut categories = Vec::new();
        for name in &header.categories {
            let embedding = reader.f16s(header.dimension).ok_or_else(truncated)?;
            let lexical = reader.f16s(LEXICAL_DIMENSIONS).ok_or_else(truncated)?;
            let bias = reader.f16s(1).ok_or_else(truncated)?[0];
            categories.push((
                name.clone(),
                LinearModel {
                    embedding,
                    lexical,
                    bias,
                },
            ));
        }
        let mut dense = Vec::new();
        for &(_, nonzero) in &header.background {
            let embedding = reader.f16s(header.dimension).ok_or_else(truncated)?;
            let values = reader.f16s(nonzero).ok_or_else(truncated)?;
            dense.push((embedding, values));
        }
        let mut background = Vec::new();
        for ((embedding, values), &(weight, nonzero)) in dense.into_iter().zip(&header.background) {
            let indices = (0..nonzero)
                .map(|_| reader.u32())
                .collect::<Option<Vec<u32>>>()
                .ok_or_else(truncated)?;
            if indices.iter().any(|&i| i as usize >= LEXICAL_DIMENSIONS) {
                return Err(format("lexical index out of range"));
            }
            background.push(BackgroundPoint {
                features: TextFeatures {
                    embedding,
                    lexical: SparseVector { indices, values },
                },
                weight,
            });
        }
        if reader.at != bytes.len() {
            return Err(format("trailing bytes"));
        }
        Ok(Priors {
            model_sha256: header.model_sha256,
            categories,
            background,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(len)?)?;
        self.at += len;
        Some(slice)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn f16s(&mut self, count: usize) -> Option<Vec<f32>> {
        let raw = self.take(count.checked_mul(2)?)?;
        Some(
            raw.chunks_exact(2)
                .map(|pair| f16::from_le_bytes([pair[0], pair[1]]).to_f32())
                .collect(),
        )
    }
}

/// Where a background point's text sits in its cluster: its rank by similarity to the
/// centre, as a fraction of the cluster (0: the medoid, the member nearest the centre; 1: the
/// farthest). The medoid is the most ordinary text of its cluster, so against medoids the
/// benign side looked tighter than benign texts are. Measured with the priors refitted
/// for each rank (`tamis prior fit`, then `tamis eval classify --only renamed`; SMS spam /
/// TextDetox / SST-2, mean of 5 seeds), medoid against an eighth of the way down, e5: renamed
/// category with k harmful examples and k keep texts, F1 at k = 8 .895 / .896 / .731 against
/// .903 / .899 / .728, ECE at k = 8 .079 / .054 / .078 against .077 / .057 / .076 and at
/// k = 32 .067 / .041 / .057 against .064 / .042 / .048; 4 examples without keep texts .704 /
/// .844 / .682 against .742 / .852 / .678; a definition alone .416 / .679 / .520 against .395 /
/// .721 / .568. MiniLM: F1 at k = 8 .764 / .847 / .615 against .764 / .853 / .608, a
/// definition alone .590 / .550 / .504 against .574 / .654 / .516. A quarter of the way down
/// went further for e5 (a definition alone .393 / .764 / .585) but cost MiniLM's SST-2
/// category without keep texts (F1 at k = 4 .627 to .485). What the eighth costs (the whole
/// `tamis eval classify`, docs/accuracy.md): a category from one post hides more benign texts
/// (SMS spam / TextDetox / SST-2, e5 .008 / .004 / .026 to .007 / .008 / .045, MiniLM .060 /
/// .024 / .042 to .073 / .043 / .062), and MiniLM's standard `negative` from its definition
/// alone catches less (F1 .705 to .670).
pub const REPRESENTATIVE_RANK: f32 = 0.125;

/// Summarizes benign texts as `clusters` weighted points: spherical k-means on the
/// embeddings (deterministic seeding: evenly spaced texts), each cluster represented by one
/// of its members ([`REPRESENTATIVE_RANK`]) with that text's lexical features, cut to the
/// `lexical_entries` largest, and weighted by the cluster's share of the texts.
///
/// Real texts, not the centres themselves: a centre is an average, closer to every text
/// than single texts are to each other, so a definition or an example measured against
/// centres looked ordinary (`tamis eval classify`: with e5, a toxicity definition was closer
/// to the centres than to any test text, and the definition alone flagged nothing), and a
/// category fitted against them with no keep texts was calibrated for averages.
pub fn summarize_background(
    texts: &[TextFeatures],
    clusters: usize,
    lexical_entries: usize,
) -> Vec<BackgroundPoint> {
    let clusters = clusters.min(texts.len());
    if clusters == 0 {
        return Vec::new();
    }
    let mut centres: Vec<Vec<f32>> = (0..clusters)
        .map(|c| texts[c * texts.len() / clusters].embedding.clone())
        .collect();
    let mut assignment = vec![0; texts.len()];
    for _ in 0..20 {
        for (text, assigned) in texts.iter().zip(&mut assignment) {
            *assigned = nearest_centre(&text.embedding, &centres);
        }
        for (c, centre) in centres.iter_mut().enumerate() {
            let mut sum = vec![0.0; centre.len()];
            for (text, _) in texts.iter().zip(&assignment).filter(|(_, &a)| a == c) {
                sum.iter_mut()
                    .zip(&text.embedding)
                    .for_each(|(s, x)| *s += x);
            }
            if sum.iter().any(|&s| s != 0.0) {
                l2_normalize(&mut sum);
                *centre = sum;
            }
        }
    }
    centres
        .iter()
        .enumerate()
        .filter_map(|(c, centre)| {
            // Members by similarity to the centre, nearest first, each similarity computed once.
            let mut ranked: Vec<(f32, &TextFeatures)> = texts
                .iter()
                .zip(&assignment)
                .filter(|(_, &a)| a == c)
                .map(|(text, _)| (dot(centre, &text.embedding), text))
                .collect();
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
            let size = ranked.len();
            let (_, representative) =
                *ranked.get((size.saturating_sub(1) as f32 * REPRESENTATIVE_RANK) as usize)?;
            let lexical = &representative.lexical;
            let mut order: Vec<usize> = (0..lexical.indices.len()).collect();
            order.sort_by(|&a, &b| lexical.values[b].total_cmp(&lexical.values[a]));
            order.truncate(lexical_entries);
            let lexical = SparseVector::from_pairs(
                order
                    .into_iter()
                    .map(|k| (lexical.indices[k], lexical.values[k]))
                    .collect(),
            );
            Some(BackgroundPoint {
                features: TextFeatures {
                    embedding: representative.embedding.clone(),
                    lexical,
                },
                weight: size as f32 / texts.len() as f32,
            })
        })
        .collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn nearest_centre(embedding: &[f32], centres: &[Vec<f32>]) -> usize {
    centres
        .iter()
        .enumerate()
        .max_by(|(_, a), (_, b)| dot(a, embedding).total_cmp(&dot(b, embedding)))
        .map_or(0, |(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(x: f32, lexical: &[(u32, f32)]) -> TextFeatures {
        let mut embedding = vec![x, 1.0 - x, 0.5];
        l2_normalize(&mut embedding);
        TextFeatures {
            embedding,
            lexical: SparseVector::from_pairs(lexical.to_vec()),
        }
    }

    #[test]
    fn the_background_is_made_of_real_texts_weighted_by_their_clusters() {
        let texts = [
            point(1.0, &[(3, 0.5), (7, 0.25)]),
            point(0.9, &[(4, 1.0)]),
            point(0.95, &[(5, 1.0)]),
            point(0.0, &[(6, 1.0)]),
        ];
        let background = summarize_background(&texts, 2, 1);
        assert_eq!(background.len(), 2);
        for point in &background {
            // One of the texts, with its own strongest lexical entry.
            let text = texts
                .iter()
                .find(|t| t.embedding == point.features.embedding)
                .expect("a background point is one of the texts");
            assert_eq!(point.features.lexical.indices.len(), 1);
            assert!(text
                .lexical
                .indices
                .contains(&point.features.lexical.indices[0]));
        }
        let mut weights: Vec<f32> = background.iter().map(|p| p.weight).collect();
        weights.sort_by(f32::total_cmp);
        assert_eq!(weights, [0.25, 0.75]);
    }

    #[test]
    fn a_cluster_is_represented_by_its_member_an_eighth_of_the_way_down() {
        // One cluster of nine texts; its centre's angle is 0.42, so by similarity to it the
        // members rank 0.45, 0.35, 0.3, ...: rank 1 of 0..=8 is the one at 0.35.
        let texts: Vec<TextFeatures> = [0.0f32, 0.1, 0.2, 0.3, 0.35, 0.45, 0.6, 0.8, 1.0]
            .iter()
            .map(|&angle| TextFeatures {
                embedding: vec![angle.cos(), angle.sin()],
                lexical: SparseVector::default(),
            })
            .collect();
        assert_eq!((8.0 * REPRESENTATIVE_RANK) as usize, 1);
        let background = summarize_background(&texts, 1, 1);
        assert_eq!(background[0].features.embedding, texts[4].embedding);
        assert_eq!(background[0].weight, 1.0);
    }

    #[test]
    fn round_trip_keeps_weights_to_f16_precision() {
        let mut model = LinearModel::zeros(3);
        model.embedding = vec![0.5, -1.25, 3.0];
        model.lexical[7] = 0.125;
        model.bias = -0.75;
        let priors = Priors {
            model_sha256: "abc".into(),
            categories: vec![("spam".into(), model.clone())],
            background: summarize_background(
                &[
                    point(1.0, &[(3, 0.5)]),
                    point(0.9, &[(4, 1.0)]),
                    point(0.0, &[]),
                ],
                2,
                8,
            ),
        };
        let read = Priors::from_bytes(&priors.to_bytes()).unwrap();
        assert_eq!(read.category("SPAM"), Some(&model));
        assert_eq!(read.background.len(), 2);
        let weights: f32 = read.background.iter().map(|p| p.weight).sum();
        assert!((weights - 1.0).abs() < 1e-3);
        assert!(read.check_model("abc").is_ok());
        assert!(matches!(
            read.check_model("def"),
            Err(PriorsError::ModelMismatch { .. })
        ));
    }

    #[test]
    fn damaged_files_are_refused() {
        let priors = Priors {
            model_sha256: "abc".into(),
            categories: vec![("toxic".into(), LinearModel::zeros(3))],
            background: Vec::new(),
        };
        let bytes = priors.to_bytes();
        for damaged in [&bytes[..bytes.len() - 1], &bytes[1..], &b"TAMISPR1"[..]] {
            assert!(matches!(
                Priors::from_bytes(damaged),
                Err(PriorsError::Format(_))
            ));
        }
    }
}
