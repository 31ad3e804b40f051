use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ModelError;

/// The command that (re)creates the default bundle; error messages point to it.
pub const PREPARE_COMMAND: &str = "python3 scripts/prepare-model.py";

/// The manifest format this version reads.
const MANIFEST_FORMAT: u32 = 1;
const MODEL_FILE: &str = "model.onnx";
const TOKENIZER_FILE: &str = "tokenizer.json";

/// `manifest.json`: what the model is, how to pool it, and where each file came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version (1).
    pub format: u32,
    /// Short identifier, e.g. `minilm-l6-int8`; cache keys use it.
    pub id: String,
    /// Human-readable model name.
    pub name: String,
    /// Length of the embedding vectors.
    pub dimension: usize,
    /// Rows of the model's token embedding table.
    pub vocab_size: usize,
    /// Longest token sequence the model accepts, special tokens included.
    pub max_tokens: usize,
    /// Pooling over the token states: only `mean` (over the attention mask) is supported.
    pub pooling: String,
    /// Normalisation of the pooled vector: only `l2` is supported.
    pub normalization: String,
    /// The bundle's files by name (`model.onnx`, `tokenizer.json`).
    pub files: BTreeMap<String, FileEntry>,
}

/// One file of the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Lower-case hex sha256 of the file's bytes.
    pub sha256: String,
    /// The registry package the file was taken from.
    pub source: SourcePackage,
}

/// Provenance of a bundle file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourcePackage {
    pub package: String,
    pub version: String,
    pub registry: String,
    /// Path of the file inside the package.
    pub path: String,
    pub license: String,
}

impl Manifest {
    /// Parses and validates `manifest.json`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ModelError> {
        let manifest: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| ModelError::InvalidManifest(e.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    fn validate(&self) -> Result<(), ModelError> {
        let invalid = |message: String| Err(ModelError::InvalidManifest(message));
        if self.format != MANIFEST_FORMAT {
            return invalid(format!(
                "field `format` is {}, this version of tamis reads format {MANIFEST_FORMAT}",
                self.format
            ));
        }
        if self.pooling != "mean" {
            return invalid(format!(
                "field `pooling` is {:?}, only \"mean\" is supported",
                self.pooling
            ));
        }
        if self.normalization != "l2" {
            return invalid(format!(
                "field `normalization` is {:?}, only \"l2\" is supported",
                self.normalization
            ));
        }
        for (field, value) in [
            ("dimension", self.dimension),
            ("vocab_size", self.vocab_size),
            ("max_tokens", self.max_tokens),
        ] {
            if value == 0 {
                return invalid(format!("field `{field}` must be positive"));
            }
        }
        for file in [MODEL_FILE, TOKENIZER_FILE] {
            if !self.files.contains_key(file) {
                return invalid(format!("field `files` has no entry for {file}"));
            }
        }
        Ok(())
    }

    fn expected_sha256(&self, file: &str) -> &str {
        &self.files[file].sha256
    }
}

/// A verified model bundle: the manifest and the bytes of the model and tokenizer.
///
/// Built from bytes ([`ModelBundle::from_bytes`]) so it works the same wherever the bytes come
/// from (a folder, a fetch in the browser, an extension package).
#[derive(Clone)]
pub struct ModelBundle {
    pub manifest: Manifest,
    pub onnx: Vec<u8>,
    pub tokenizer: Vec<u8>,
}

impl std::fmt::Debug for ModelBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelBundle")
            .field("manifest", &self.manifest)
            .field("onnx_bytes", &self.onnx.len())
            .field("tokenizer_bytes", &self.tokenizer.len())
            .finish()
    }
}

impl ModelBundle {
    /// The sha256 of the bundle's `model.onnx`: what priors and caches are keyed on.
    pub fn model_sha256(&self) -> &str {
        self.manifest.expected_sha256(MODEL_FILE)
    }

    /// Validates the manifest and checks both files against its sha256 values.
    pub fn from_bytes(
        manifest_json: &[u8],
        onnx: Vec<u8>,
        tokenizer: Vec<u8>,
    ) -> Result<Self, ModelError> {
        let bundle = Self::from_verified_bytes(manifest_json, onnx, tokenizer)?;
        verify_sha256(MODEL_FILE, &bundle.onnx, bundle.model_sha256())?;
        verify_sha256(
            TOKENIZER_FILE,
            &bundle.tokenizer,
            bundle.manifest.expected_sha256(TOKENIZER_FILE),
        )?;
        Ok(bundle)
    }

    /// Validates the manifest but leaves the sha256 checks of the files to the caller, for
    /// hosts that hash faster than this crate can: in wasm, hashing the 23 MB model costs
    /// about 230 ms, Web Crypto a tenth of that. Use [`ModelBundle::from_bytes`] unless the
    /// caller has checked both files against this manifest.
    pub fn from_verified_bytes(
        manifest_json: &[u8],
        onnx: Vec<u8>,
        tokenizer: Vec<u8>,
    ) -> Result<Self, ModelError> {
        Ok(Self {
            manifest: Manifest::from_json(manifest_json)?,
            onnx,
            tokenizer,
        })
    }

    /// Reads and verifies a bundle folder (`model.onnx`, `tokenizer.json`, `manifest.json`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_dir(dir: impl AsRef<std::path::Path>) -> Result<Self, ModelError> {
        let dir = dir.as_ref();
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => ModelError::MissingFile {
                    path: path.display().to_string(),
                    fix: PREPARE_COMMAND,
                },
                _ => ModelError::Unreadable {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                },
            })
        };
        Self::from_bytes(
            &read("manifest.json")?,
            read(MODEL_FILE)?,
            read(TOKENIZER_FILE)?,
        )
    }

    /// The folder of the prepared default bundle in this workspace, `models/minilm-l6-int8`:
    /// for the workspace's tests (the path is this crate's source folder, so it means nothing
    /// to a published build).
    #[doc(hidden)]
    pub fn default_dir_for_tests() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/minilm-l6-int8")
    }

    /// The prepared default bundle ([`ModelBundle::default_dir_for_tests`]), read once per
    /// process: for the workspace's tests. Panics when it is missing or damaged, with the
    /// error, which names the command that prepares it.
    #[doc(hidden)]
    #[cfg(not(target_arch = "wasm32"))]
    pub fn default_for_tests() -> &'static ModelBundle {
        static BUNDLE: std::sync::OnceLock<ModelBundle> = std::sync::OnceLock::new();
        BUNDLE.get_or_init(|| {
            Self::read_dir(Self::default_dir_for_tests()).unwrap_or_else(|e| panic!("{e}"))
        })
    }
}

fn verify_sha256(file: &str, bytes: &[u8], expected: &str) -> Result<(), ModelError> {
    let actual: String = Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(ModelError::ChecksumMismatch {
            file: file.to_string(),
            expected: expected.to_string(),
            actual,
            fix: PREPARE_COMMAND,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_json(model_sha: &str, tokenizer_sha: &str) -> String {
        let source =
            r#"{"package":"p","version":"1","registry":"PyPI","path":"f","license":"MIT"}"#;
        format!(
            r#"{{"format":1,"id":"t","name":"t","dimension":4,"vocab_size":10,"max_tokens":8,
               "pooling":"mean","normalization":"l2",
               "files":{{"model.onnx":{{"sha256":"{model_sha}","source":{source}}},
                         "tokenizer.json":{{"sha256":"{tokenizer_sha}","source":{source}}}}}}}"#
        )
    }

    fn sha(bytes: &[u8]) -> String {
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn accepts_files_that_match_their_checksums() {
        let json = manifest_json(&sha(b"onnx"), &sha(b"tok"));
        let bundle = ModelBundle::from_bytes(json.as_bytes(), b"onnx".to_vec(), b"tok".to_vec())
            .expect("valid bundle");
        assert_eq!(bundle.manifest.dimension, 4);
    }

    #[test]
    fn a_corrupt_file_names_itself_and_the_fix() {
        let json = manifest_json(&sha(b"onnx"), &sha(b"tok"));
        let err = ModelBundle::from_bytes(json.as_bytes(), b"onnx".to_vec(), b"tak".to_vec())
            .unwrap_err();
        assert!(
            matches!(err, ModelError::ChecksumMismatch { ref file, .. } if file == "tokenizer.json")
        );
        assert!(err.to_string().contains(PREPARE_COMMAND));
    }

    #[test]
    fn manifest_errors_name_the_field() {
        let json = manifest_json("a", "b").replace("\"mean\"", "\"cls\"");
        let err = Manifest::from_json(json.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("`pooling`"), "{err}");
        let err = Manifest::from_json(b"{\"format\": 1}").unwrap_err();
        assert!(matches!(err, ModelError::InvalidManifest(_)));
    }

    #[test]
    fn a_missing_folder_names_the_file_and_the_fix() {
        let err = ModelBundle::read_dir("/nonexistent/tamis-bundle").unwrap_err();
        assert!(matches!(err, ModelError::MissingFile { .. }));
        assert!(err.to_string().contains("manifest.json"));
        assert!(err.to_string().contains(PREPARE_COMMAND));
    }
}
