/// Words too common to help retrieval (a short English list).
const STOPWORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any",
    "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both",
    "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few",
    "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him",
    "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more",
    "most", "my", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other",
    "our", "ours", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than",
    "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through",
    "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where",
    "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your",
];

/// Lower-cased alphanumeric words, stopwords removed, plurals reduced by Harman's S-stemmer.
pub fn analyze(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .filter(|word| !STOPWORDS.contains(&word.as_str()))
        .map(|word| s_stem(&word))
        .collect()
}

/// Harman's S-stemmer: "-ies" to "-y", else a final "s" dropped unless after "u" or "s" (its
/// "-es" to "-e" rule gives the same result).
fn s_stem(word: &str) -> String {
    let ends = |suffix: &str| word.ends_with(suffix);
    if word.len() > 3 && ends("ies") && !ends("eies") && !ends("aies") {
        format!("{}y", &word[..word.len() - 3])
    } else if word.len() > 1 && ends("s") && !ends("us") && !ends("ss") {
        word[..word.len() - 1].to_string()
    } else {
        word.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowered_filtered_and_stemmed() {
        assert_eq!(
            analyze("The Bodies of the WINGS, speeds and flows!"),
            vec!["body", "wing", "speed", "flow"]
        );
        assert!(analyze("  ... ").is_empty());
    }
}
