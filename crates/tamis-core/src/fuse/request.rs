//! One query's fusion as the JS and JSON front ends ask for it: ranked lists whose items may
//! carry their text, an optional query and preference examples, a method by name. With a
//! query or preferences and candidate texts, the fusion is content-aware
//! ([`fuse_with_content`]); otherwise classical ([`fuse`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{
    fuse, fuse_with_content, ContentFusion, Evidence, FuseError, FusionMethod, Normalization,
    Preferences, RankedList,
};
use crate::Encoder;

/// What a front end sends.
///
/// ```
/// use tamis_core::fuse::FusionRequest;
/// let request: FusionRequest = serde_json::from_str(r#"{
///     "lists": [{"name": "bm25", "items": [{"id": "a", "text": "Tide tables"}]}],
///     "query": "when is high tide",
///     "method": "rrf"
/// }"#).unwrap();
/// assert_eq!(request.method, "rrf");
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FusionRequest {
    pub lists: Vec<RankedList>,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub preferences: PreferenceTexts,
    /// A ranx method name; `mnz` by default (the consensus of content-aware fusion).
    #[serde(default = "default_method")]
    pub method: String,
    /// A normalization name; `min-max` by default.
    #[serde(default = "default_normalization")]
    pub normalization: String,
}

fn default_method() -> String {
    "mnz".to_string()
}

fn default_normalization() -> String {
    "min-max".to_string()
}

/// The user's liked and disliked examples, as texts.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferenceTexts {
    #[serde(default)]
    pub liked: Vec<String>,
    #[serde(default)]
    pub disliked: Vec<String>,
}

/// One candidate of the fused ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedCandidate {
    pub id: String,
    pub score: f64,
    pub evidence: Evidence,
    /// The consensus of the lists, min-max normalized; present with content-aware fusion.
    pub consensus: Option<f64>,
    /// Similarity of the candidate's text to the query profile, min-max normalized; present
    /// with content-aware fusion.
    pub content: Option<f64>,
}

/// A request that cannot be served. Messages name fields and positions, never texts.
#[derive(Debug, Error)]
pub enum FusionRequestError<E: std::error::Error> {
    #[error("unknown fusion method `{0}`; one of {names}", names = method_names())]
    UnknownMethod(String),
    #[error("unknown normalization `{0}`; one of none, min-max, max, sum, zmuv, rank, borda")]
    UnknownNormalization(String),
    #[error(transparent)]
    Lists(#[from] FuseError),
    #[error("{field} is empty; leave it out instead")]
    EmptyText { field: String },
    #[error(
        "list {list}, item {position}: id `{id}` has another text in an earlier list; \
         a candidate has one text"
    )]
    ConflictingText {
        list: usize,
        position: usize,
        id: String,
    },
    #[error("embedding failed: {0}")]
    Encoder(E),
}

fn method_names() -> String {
    FusionMethod::NAMED.map(|(name, _)| name).join(", ")
}

/// Serves `request`, embedding texts with `encoder` when the fusion is content-aware.
pub fn fuse_request<E: Encoder>(
    encoder: &E,
    request: &FusionRequest,
) -> Result<Vec<RankedCandidate>, FusionRequestError<E::Error>> {
    let method = FusionMethod::from_name(&request.method)
        .ok_or_else(|| FusionRequestError::UnknownMethod(request.method.clone()))?;
    let normalization = Normalization::from_name(&request.normalization)
        .ok_or_else(|| FusionRequestError::UnknownNormalization(request.normalization.clone()))?;
    let texts = candidate_texts(&request.lists)?;
    let has_profile = request.query.is_some()
        || !request.preferences.liked.is_empty()
        || !request.preferences.disliked.is_empty();
    if !has_profile || texts.is_empty() {
        return Ok(fuse(&request.lists, normalization, method)?
            .into_iter()
            .map(|item| RankedCandidate {
                id: item.id,
                score: item.score,
                evidence: item.evidence,
                consensus: None,
                content: None,
            })
            .collect());
    }
    check_not_empty(request)?;
    // Lists are validated before any text is embedded: a bad request costs no inference.
    super::input::Runs::validate(&request.lists)?;
    method.validate(request.lists.len())?;

    let (ids, candidate_texts): (Vec<&str>, Vec<&str>) = texts.into_iter().unzip();
    let query = request.query.iter().map(String::as_str);
    let liked = request.preferences.liked.iter().map(String::as_str);
    let disliked = request.preferences.disliked.iter().map(String::as_str);
    let all: Vec<&str> = candidate_texts
        .iter()
        .copied()
        .chain(query)
        .chain(liked)
        .chain(disliked)
        .collect();
    let mut vectors = encoder
        .embed(&all)
        .map_err(FusionRequestError::Encoder)?
        .into_iter()
        .map(|e| e.vector);
    let by_id: HashMap<&str, Vec<f32>> = ids.into_iter().zip(vectors.by_ref()).collect();
    let query = match request.query {
        Some(_) => vectors.next().unwrap_or_default(),
        None => vec![0.0; encoder.dimension()],
    };
    let preferences = Preferences {
        liked: vectors
            .by_ref()
            .take(request.preferences.liked.len())
            .collect(),
        disliked: vectors.collect(),
    };
    let settings = ContentFusion {
        method,
        normalization,
        ..ContentFusion::default()
    };
    let fused = fuse_with_content(
        &request.lists,
        &query,
        |id| by_id.get(id).map(Vec::as_slice),
        &preferences,
        settings,
    )?;
    Ok(fused
        .into_iter()
        .map(|f| RankedCandidate {
            id: f.item.id,
            score: f.item.score,
            evidence: f.item.evidence,
            consensus: Some(f.consensus),
            content: Some(f.content),
        })
        .collect())
}

/// Each candidate's text, once, in order of first appearance.
fn candidate_texts<E: std::error::Error>(
    lists: &[RankedList],
) -> Result<Vec<(&str, &str)>, FusionRequestError<E>> {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    let mut texts = Vec::new();
    for (list_index, list) in lists.iter().enumerate() {
        for (item_index, item) in list.items.iter().enumerate() {
            let Some(text) = item.text.as_deref() else {
                continue;
            };
            let (list, position) = (list_index + 1, item_index + 1);
            if text.trim().is_empty() {
                return Err(FusionRequestError::EmptyText {
                    field: format!("the text of list {list}, item {position}"),
                });
            }
            match seen.get(item.id.as_str()) {
                Some(earlier) if *earlier != text => {
                    return Err(FusionRequestError::ConflictingText {
                        list,
                        position,
                        id: item.id.clone(),
                    })
                }
                Some(_) => {}
                None => {
                    seen.insert(&item.id, text);
                    texts.push((item.id.as_str(), text));
                }
            }
        }
    }
    Ok(texts)
}

fn check_not_empty<E: std::error::Error>(
    request: &FusionRequest,
) -> Result<(), FusionRequestError<E>> {
    let empty = |field: String| Err(FusionRequestError::EmptyText { field });
    if request
        .query
        .as_deref()
        .is_some_and(|q| q.trim().is_empty())
    {
        return empty("the query".to_string());
    }
    for (name, texts) in [
        ("liked", &request.preferences.liked),
        ("disliked", &request.preferences.disliked),
    ] {
        if let Some(index) = texts.iter().position(|t| t.trim().is_empty()) {
            return empty(format!("preferences.{name}[{index}]"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Embedding;

    /// Embeds by keyword: "tide" texts on axis 0, "train" texts on axis 1.
    struct KeywordEncoder;

    impl Encoder for KeywordEncoder {
        type Error = std::io::Error;

        fn dimension(&self) -> usize {
            2
        }

        fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, Self::Error> {
            Ok(texts
                .iter()
                .map(|t| Embedding {
                    vector: if t.contains("tide") {
                        vec![1.0, 0.0]
                    } else {
                        vec![0.0, 1.0]
                    },
                    tokens: 1,
                    truncated: false,
                })
                .collect())
        }
    }

    fn request(json: &str) -> FusionRequest {
        serde_json::from_str(json).unwrap()
    }

    const LISTS: &str = r#"[
        {"name": "a", "items": [{"id": "x", "text": "train times"}, {"id": "y", "text": "tide tables"}]},
        {"name": "b", "items": [{"id": "x", "text": "train times"}, {"id": "z", "text": "train fares"}]}
    ]"#;

    #[test]
    fn without_query_or_preferences_the_fusion_is_classical() {
        let fused = fuse_request(
            &KeywordEncoder,
            &request(&format!(r#"{{"lists": {LISTS}, "method": "rrf"}}"#)),
        )
        .unwrap();
        assert_eq!(fused[0].id, "x");
        assert_eq!(fused[0].content, None);
    }

    #[test]
    fn a_query_lets_content_lift_a_candidate_one_list_has() {
        let fused = fuse_request(
            &KeywordEncoder,
            &request(&format!(r#"{{"lists": {LISTS}, "query": "high tide"}}"#)),
        )
        .unwrap();
        assert_eq!(fused[0].id, "y");
        assert_eq!(fused[0].content, Some(1.0));
        assert_eq!(fused[0].evidence.agreement, 1);
    }

    #[test]
    fn disliked_examples_push_candidates_down() {
        let json = format!(
            r#"{{"lists": {LISTS}, "preferences": {{"liked": ["tide charts"], "disliked": ["train delays"]}}}}"#
        );
        let fused = fuse_request(&KeywordEncoder, &request(&json)).unwrap();
        assert_eq!(fused[0].id, "y");
    }

    #[test]
    fn bad_requests_are_named() {
        let bad = |json: String| fuse_request(&KeywordEncoder, &request(&json)).unwrap_err();
        let error = bad(format!(r#"{{"lists": {LISTS}, "method": "magic"}}"#));
        assert!(error.to_string().contains("rrf"), "{error}");
        let error = bad(format!(r#"{{"lists": {LISTS}, "query": " "}}"#));
        assert!(error.to_string().contains("the query"), "{error}");
        let lists = r#"[{"name": "a", "items": [{"id": "x", "text": "one"}]},
                        {"name": "b", "items": [{"id": "x", "text": "two"}]}]"#;
        let error = bad(format!(r#"{{"lists": {lists}, "query": "q"}}"#));
        assert!(matches!(
            error,
            FusionRequestError::ConflictingText { list: 2, .. }
        ));
        let error = bad(r#"{"lists": [], "query": "q"}"#.to_string());
        assert!(matches!(
            error,
            FusionRequestError::Lists(FuseError::NoLists)
        ));
    }
}
