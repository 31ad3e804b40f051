//! Deterministic obfuscations of test texts, the ways people dodge word filters.

/// One kind of obfuscation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perturbation {
    /// Vowels as digits in every word of three letters or more ("h4t3").
    Leetspeak,
    /// Latin letters swapped for Cyrillic look-alikes.
    Homoglyphs,
    /// A zero-width space after every second character of each word.
    ZeroWidth,
    /// The longest word spelled out with spaces ("s t u p i d").
    SpacedLetters,
    /// The first vowel of each word of three letters or more written four times.
    RepeatedCharacters,
}

impl Perturbation {
    pub const ALL: [Perturbation; 5] = [
        Perturbation::Leetspeak,
        Perturbation::Homoglyphs,
        Perturbation::ZeroWidth,
        Perturbation::SpacedLetters,
        Perturbation::RepeatedCharacters,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Perturbation::Leetspeak => "leetspeak",
            Perturbation::Homoglyphs => "homoglyphs",
            Perturbation::ZeroWidth => "zero-width characters",
            Perturbation::SpacedLetters => "spaced letters",
            Perturbation::RepeatedCharacters => "repeated characters",
        }
    }

    /// The obfuscated copy of `text`.
    pub fn apply(self, text: &str) -> String {
        let long_word = |w: &str| w.chars().filter(|c| c.is_alphabetic()).count() >= 3;
        let words: Vec<&str> = text.split(' ').collect();
        let rewritten: Vec<String> = match self {
            Perturbation::Leetspeak => words
                .iter()
                .map(|w| {
                    if !long_word(w) {
                        return w.to_string();
                    }
                    w.chars()
                        .map(|c| match c {
                            'a' => '4',
                            'e' => '3',
                            'i' => '1',
                            'o' => '0',
                            _ => c,
                        })
                        .collect()
                })
                .collect(),
            Perturbation::Homoglyphs => words
                .iter()
                .map(|w| {
                    w.chars()
                        .map(|c| match c {
                            'a' => 'а',
                            'e' => 'е',
                            'o' => 'о',
                            'p' => 'р',
                            'c' => 'с',
                            'x' => 'х',
                            'y' => 'у',
                            'i' => 'і',
                            _ => c,
                        })
                        .collect()
                })
                .collect(),
            Perturbation::ZeroWidth => words
                .iter()
                .map(|w| {
                    let mut out = String::new();
                    for (i, c) in w.chars().enumerate() {
                        out.push(c);
                        if i % 2 == 1 {
                            out.push('\u{200B}');
                        }
                    }
                    out
                })
                .collect(),
            Perturbation::SpacedLetters => {
                let longest = words
                    .iter()
                    .enumerate()
                    .filter(|(_, w)| w.chars().all(char::is_alphabetic) && w.chars().count() >= 4)
                    .max_by_key(|(i, w)| (w.chars().count(), std::cmp::Reverse(*i)))
                    .map(|(i, _)| i);
                words
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        if Some(i) == longest {
                            w.chars().map(String::from).collect::<Vec<_>>().join(" ")
                        } else {
                            w.to_string()
                        }
                    })
                    .collect()
            }
            Perturbation::RepeatedCharacters => words
                .iter()
                .map(|w| {
                    if !long_word(w) {
                        return w.to_string();
                    }
                    let mut out = String::new();
                    let mut stretched = false;
                    for c in w.chars() {
                        out.push(c);
                        if !stretched && "aeiou".contains(c) {
                            out.extend([c; 3]);
                            stretched = true;
                        }
                    }
                    out
                })
                .collect(),
        };
        rewritten.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::Perturbation;
    use tamis_core::classify::normalize_text;

    #[test]
    fn normalization_undoes_each_perturbation_of_a_plain_sentence() {
        let text = "you are a stupid idiot";
        for perturbation in Perturbation::ALL {
            let obfuscated = perturbation.apply(text);
            assert_ne!(obfuscated, text, "{}", perturbation.name());
            assert_eq!(normalize_text(&obfuscated), text, "{}", perturbation.name());
        }
    }
}
