//! What a definition is matched by when a category has nothing else: the definition itself
//! and each item of the list it gives ("Toxic language: insults, slurs, threats or
//! harassment" → "insults", "slurs", "threats", "harassment").
//!
//! A text close to one item is close to the category even when it is far from the sentence
//! as a whole: with e5, TextDetox's toxic comments ranked above its benign ones with AUC .89
//! by their closest item against .76 by the whole definition, and SST-2's negative reviews
//! .77 against .73; SMS spam fell from .84 to .66, its items ("offers", "subscriptions")
//! being words that benign messages use too (`tamis eval classify`, definition only). With
//! MiniLM the items changed less (TextDetox .70 → .79, SST-2 .60 → .56, spam .94 → .91).

/// Most items taken from one definition: each is embedded once per policy edit.
pub const MAX_DEFINITION_ITEMS: usize = 12;

/// The texts a definition is matched by: the definition first, then the items of its list
/// when it has one (at least two items separated by commas or semicolons, after a colon when
/// there is one; the last item split at its first " or " / " and ", as in "a, b or c").
///
/// ```
/// use tamis_core::classify::definition_anchors;
///
/// let anchors = definition_anchors("Toxic language: insults, slurs or threats.");
/// assert_eq!(anchors, ["Toxic language: insults, slurs or threats.", "insults", "slurs", "threats"]);
/// assert_eq!(definition_anchors("Posts about football"), ["Posts about football"]);
/// ```
pub fn definition_anchors(definition: &str) -> Vec<String> {
    let list = definition
        .split_once(':')
        .map_or(definition, |(_, list)| list);
    let mut items: Vec<&str> = list.split([',', ';']).collect();
    if items.len() < 2 {
        return vec![definition.to_string()];
    }
    let last = items.pop().unwrap_or_default();
    let conjunction = [" or ", " and "]
        .iter()
        .filter_map(|word| last.find(word).map(|at| (at, word.len())))
        .min();
    match conjunction {
        Some((at, len)) => items.extend([&last[..at], &last[at + len..]]),
        None => items.push(last),
    }
    let cleaned: Vec<&str> = items
        .into_iter()
        .map(|item| item.trim().trim_end_matches('.').trim())
        .filter(|item| item.chars().any(char::is_alphanumeric))
        .take(MAX_DEFINITION_ITEMS)
        .collect();
    if cleaned.len() < 2 {
        return vec![definition.to_string()];
    }
    std::iter::once(definition)
        .chain(cleaned)
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_after_a_colon_gives_its_items() {
        let anchors = definition_anchors(
            "Toxic language: insults, slurs, obscenity, threats, harassment or hateful \
             attacks on people or groups.",
        );
        assert_eq!(
            &anchors[1..],
            [
                "insults",
                "slurs",
                "obscenity",
                "threats",
                "harassment",
                "hateful attacks on people or groups"
            ]
        );
    }

    #[test]
    fn a_list_without_a_colon_and_other_scripts() {
        assert_eq!(
            definition_anchors("Beleidigungen, Drohungen; Hetze"),
            [
                "Beleidigungen, Drohungen; Hetze",
                "Beleidigungen",
                "Drohungen",
                "Hetze"
            ]
        );
        assert_eq!(definition_anchors("侮辱、脅迫"), ["侮辱、脅迫"]);
    }

    #[test]
    fn a_sentence_without_a_list_is_its_own_anchor() {
        assert_eq!(
            definition_anchors("Spoilers: the end of a film"),
            ["Spoilers: the end of a film"]
        );
        assert_eq!(definition_anchors("a, ..."), ["a, ..."]);
    }

    #[test]
    fn long_lists_are_cut() {
        let definition = (0..40)
            .map(|i| format!("item {i}"))
            .collect::<Vec<_>>()
            .join(", ");
        assert_eq!(
            definition_anchors(&definition).len(),
            1 + MAX_DEFINITION_ITEMS
        );
    }
}
