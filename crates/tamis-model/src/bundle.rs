use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Architecture, ModelError};

/// The command that (re)creates the default bundle; error messages point to it.
pub const PREPARE_COMMAND: &str = "python3 scripts/prepare-model.py";

/// The manifest format this version reads.
const MANIFEST_FORMAT: u32 = 1;

/// `manifest.json`: what the model is, how to pool it, and where each file came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version (1).
    pub format: u32,
    /// Short identifier, e.g. `minilm-l6-int8`; cache keys use it.
    pub id: String,
    /// Human-readable model name.
    pub name: String,
    /// What the model is: it decides the bundle's files and which encoder runs them. Manifests
    /// written before tamis knew a second architecture have none and are BERT's.
    #[serde(default)]
    pub architecture: Architecture,
    /// How the weights are stored, e.g. `int8`, `q4_0`: reported, not interpreted (the model
    /// file says how its tensors are stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<String>,
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
    /// Text prepended to each input, for models trained with them (e5: `query: ` for texts
    /// compared with each other, as classification and fusion do; `passage: ` for documents
    /// retrieved by a query).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefixes: Option<Prefixes>,
    /// The bundle's files by name: [`Architecture::model_file`] and, where the architecture
    /// has one, [`Architecture::tokenizer_file`].
    pub files: BTreeMap<String, FileEntry>,
}

/// The prefixes a model was trained with (see [`Manifest::prefixes`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefixes {
    /// Prepended to queries and to texts compared symmetrically.
    pub query: String,
    /// Prepended to documents retrieved by a query.
    pub passage: String,
}

/// What a text is to the model that embeds it: models trained with prefixes (e5) give each
/// role its own ([`Manifest::prefix`]); for the others the roles embed alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum TextRole {
    /// A query, or a text compared with others of its kind (classification, tamis's default).
    #[default]
    Query,
    /// A document that queries retrieve.
    Passage,
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

    /// The text put before every text of `role`: [`Prefixes::query`] or
    /// [`Prefixes::passage`], empty for a model trained without prefixes.
    ///
    /// ```
    /// use tamis_model::{Manifest, TextRole};
    ///
    /// let manifest = Manifest::from_json(&std::fs::read("../../models/e5-small-q4/manifest.json")?)?;
    /// assert_eq!(manifest.prefix(TextRole::Passage), "passage: ");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prefix(&self, role: TextRole) -> &str {
        self.prefixes.as_ref().map_or("", |prefixes| match role {
            TextRole::Query => prefixes.query.as_str(),
            TextRole::Passage => prefixes.passage.as_str(),
        })
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
        let architecture = self.architecture;
        for file in std::iter::once(architecture.model_file()).chain(architecture.tokenizer_file())
        {
            if !self.files.contains_key(file) {
                return invalid(format!(
                    "field `files` has no entry for {file}, which a {} bundle needs",
                    architecture.name()
                ));
            }
        }
        Ok(())
    }

    fn expected_sha256(&self, file: &str) -> &str {
        &self.files[file].sha256
    }
}

/// A verified model bundle: the manifest and the bytes of the model and, where the
/// architecture keeps it apart, the tokenizer.
///
/// Built from bytes ([`ModelBundle::from_bytes`]) so it works the same wherever the bytes come
/// from (a folder, a fetch in the browser, an extension package).
#[derive(Clone)]
pub struct ModelBundle {
    pub manifest: Manifest,
    /// The model file, [`Architecture::model_file`]: `model.onnx` or `model.e5s`.
    pub model: Vec<u8>,
    /// `tokenizer.json` for an architecture that has one ([`Architecture::tokenizer_file`]);
    /// `None` where the model file holds the tokenizer.
    pub tokenizer: Option<Vec<u8>>,
}

impl std::fmt::Debug for ModelBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelBundle")
            .field("manifest", &self.manifest)
            .field("model_bytes", &self.model.len())
            .field("tokenizer_bytes", &self.tokenizer.as_ref().map(Vec::len))
            .finish()
    }
}

impl ModelBundle {
    /// The sha256 of the bundle's model file: what priors and caches are keyed on.
    pub fn model_sha256(&self) -> &str {
        self.manifest
            .expected_sha256(self.manifest.architecture.model_file())
    }

    /// Validates the manifest and checks the files against its sha256 values.
    pub fn from_bytes(
        manifest_json: &[u8],
        model: Vec<u8>,
        tokenizer: Option<Vec<u8>>,
    ) -> Result<Self, ModelError> {
        let bundle = Self::from_verified_bytes(manifest_json, model, tokenizer)?;
        let architecture = bundle.manifest.architecture;
        verify_sha256(
            architecture.model_file(),
            &bundle.model,
            bundle.model_sha256(),
        )?;
        if let (Some(file), Some(bytes)) = (architecture.tokenizer_file(), &bundle.tokenizer) {
            verify_sha256(file, bytes, bundle.manifest.expected_sha256(file))?;
        }
        Ok(bundle)
    }

    /// Validates the manifest and that the files are the ones its architecture needs, but
    /// leaves the sha256 checks to the caller, for hosts that hash faster than this crate can:
    /// in wasm, hashing the 23 MB model costs about 230 ms, Web Crypto a tenth of that. Use
    /// [`ModelBundle::from_bytes`] unless the caller has checked the files against this
    /// manifest.
    pub fn from_verified_bytes(
        manifest_json: &[u8],
        model: Vec<u8>,
        tokenizer: Option<Vec<u8>>,
    ) -> Result<Self, ModelError> {
        let manifest = Manifest::from_json(manifest_json)?;
        let architecture = manifest.architecture;
        match (architecture.tokenizer_file(), &tokenizer) {
            (Some(file), None) => {
                return Err(ModelError::InvalidManifest(format!(
                    "a {} bundle needs {file} beside the model, and none was given",
                    architecture.name()
                )))
            }
            (None, Some(_)) => {
                return Err(ModelError::InvalidManifest(format!(
                    "a {} bundle's tokenizer is inside {}: pass no tokenizer file",
                    architecture.name(),
                    architecture.model_file()
                )))
            }
            _ => {}
        }
        Ok(Self {
            manifest,
            model,
            tokenizer,
        })
    }

    /// Reads and verifies a bundle folder: `manifest.json` and the files its architecture
    /// names (`model.onnx` and `tokenizer.json`, or `model.e5s`).
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
        let manifest = read("manifest.json")?;
        let architecture = Manifest::from_json(&manifest)?.architecture;
        let tokenizer = architecture.tokenizer_file().map(read).transpose()?;
        Self::from_bytes(&manifest, read(architecture.model_file())?, tokenizer)
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
        let bundle =
            ModelBundle::from_bytes(json.as_bytes(), b"onnx".to_vec(), Some(b"tok".to_vec()))
                .expect("valid bundle");
        assert_eq!(bundle.manifest.dimension, 4);
    }

    #[test]
    fn a_corrupt_file_names_itself_and_the_fix() {
        let json = manifest_json(&sha(b"onnx"), &sha(b"tok"));
        let err = ModelBundle::from_bytes(json.as_bytes(), b"onnx".to_vec(), Some(b"tak".to_vec()))
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
    fn the_architecture_decides_which_files_a_bundle_needs() {
        let bert = manifest_json(&sha(b"onnx"), &sha(b"tok"));
        let err = ModelBundle::from_bytes(bert.as_bytes(), b"onnx".to_vec(), None).unwrap_err();
        assert!(err.to_string().contains("tokenizer.json"), "{err}");

        let e5 = bert.replace(
            r#""format":1,"#,
            r#""format":1,"architecture":"xlm-roberta","#,
        );
        let err = Manifest::from_json(e5.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("model.e5s"), "{err}");
        let e5 = e5.replace("model.onnx", "model.e5s");
        let bundle = ModelBundle::from_bytes(e5.as_bytes(), b"onnx".to_vec(), None).unwrap();
        assert_eq!(bundle.manifest.architecture, Architecture::XlmRoberta);
        assert_eq!(bundle.model_sha256(), sha(b"onnx"));
        let err = ModelBundle::from_bytes(e5.as_bytes(), b"onnx".to_vec(), Some(b"tok".to_vec()))
            .unwrap_err();
        assert!(err.to_string().contains("inside model.e5s"), "{err}");

        let unknown = bert.replace(r#""format":1,"#, r#""format":1,"architecture":"gpt","#);
        let err = Manifest::from_json(unknown.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("unknown variant `gpt`"), "{err}");
    }

    #[test]
    fn a_missing_folder_names_the_file_and_the_fix() {
        let err = ModelBundle::read_dir("/nonexistent/tamis-bundle").unwrap_err();
        assert!(matches!(err, ModelError::MissingFile { .. }));
        assert!(err.to_string().contains("manifest.json"));
        assert!(err.to_string().contains(PREPARE_COMMAND));
    }
}
