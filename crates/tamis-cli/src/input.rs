//! Reading texts from a file or standard input: one text per line, or JSON lines.

use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use crate::error::{CliError, IoAction};

/// Sample posts for `tamis neighbours` and `tamis classify` when no input is given.
const SAMPLE_POSTS: &str = include_str!("../samples/posts.txt");

/// How input lines are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// Each line is one text (a trailing `\r` is dropped).
    Lines,
    /// Each line is a JSON string, or an object with a `text` field.
    Jsonl,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonLine {
    Text(String),
    Object { text: String },
}

/// The texts of the file at `path`, or of standard input when there is none.
pub fn read_texts(path: Option<&Path>, format: InputFormat) -> Result<Vec<String>, CliError> {
    let bytes = match path {
        Some(path) => std::fs::read(path).map_err(|e| CliError::io(IoAction::Read, path, e))?,
        None => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(CliError::Stdin)?;
            bytes
        }
    };
    parse_texts(&bytes, format)
}

/// The texts of the file at `path`, or the built-in sample posts when there is none.
pub fn read_texts_or_samples(
    path: Option<&Path>,
    format: InputFormat,
) -> Result<Vec<String>, CliError> {
    match path {
        Some(_) => read_texts(path, format),
        None => Ok(SAMPLE_POSTS.lines().map(str::to_string).collect()),
    }
}

/// The texts as `&str`s, for an encoder or a classifier.
pub fn as_strs(texts: &[String]) -> Vec<&str> {
    texts.iter().map(String::as_str).collect()
}

/// Splits `bytes` into texts. A line that is not UTF-8, or not valid JSON in `jsonl` mode, is
/// an error naming its 1-based line number. An empty line is an empty text in `lines` mode
/// and is skipped in `jsonl` mode.
fn parse_texts(bytes: &[u8], format: InputFormat) -> Result<Vec<String>, CliError> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|last| last.is_empty()) {
        lines.pop();
    }
    let mut texts = Vec::with_capacity(lines.len());
    for (index, raw) in lines.into_iter().enumerate() {
        let line = index + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = std::str::from_utf8(raw).map_err(|e| CliError::NotUtf8 {
            line,
            column: e.valid_up_to() + 1,
        })?;
        match format {
            InputFormat::Lines => texts.push(text.to_string()),
            InputFormat::Jsonl if text.trim().is_empty() => {}
            InputFormat::Jsonl => {
                let parsed: JsonLine =
                    serde_json::from_str(text).map_err(|e| CliError::InvalidJsonLine {
                        line,
                        reason: e.to_string(),
                    })?;
                texts.push(match parsed {
                    JsonLine::Text(text) | JsonLine::Object { text } => text,
                });
            }
        }
    }
    Ok(texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_empty_texts_but_not_the_final_newline() {
        let texts = parse_texts(b"one\r\n\nthree\n", InputFormat::Lines).unwrap();
        assert_eq!(texts, vec!["one", "", "three"]);
    }

    #[test]
    fn non_utf8_names_the_line_and_column() {
        let err = parse_texts(b"fine\nab\xffcd\n", InputFormat::Lines).unwrap_err();
        assert!(
            matches!(err, CliError::NotUtf8 { line: 2, column: 3 }),
            "{err}"
        );
        assert!(err.to_string().contains("line 2"));
    }

    #[test]
    fn jsonl_takes_strings_and_objects_and_names_bad_lines() {
        let input = b"\"a\"\n{\"text\": \"b\", \"id\": 7}\n\n";
        let texts = parse_texts(input, InputFormat::Jsonl).unwrap();
        assert_eq!(texts, vec!["a", "b"]);
        let err = parse_texts(b"\"a\"\n{oops}\n", InputFormat::Jsonl).unwrap_err();
        assert!(
            matches!(err, CliError::InvalidJsonLine { line: 2, .. }),
            "{err}"
        );
    }
}
