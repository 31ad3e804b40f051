//! Undoing the usual ways of dodging a filter: invisible characters, look-alike letters from
//! other scripts, leetspeak, spaced-out letters and stretched words. Both the policy's
//! examples and the texts to classify go through it, so a clean text and its obfuscated copy
//! reach the model as (nearly) the same string.

/// Characters that render as nothing: zero-width spaces and joiners, the soft hyphen, word
/// joiners, the byte-order mark and variation selectors.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}'
        | '\u{FEFF}' | '\u{FE00}'..='\u{FE0F}')
}

/// The Latin letter a Cyrillic or Greek look-alike, or a full-width form, stands for.
fn unconfuse(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        'а' | 'α' => 'a',
        'в' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ε' => 'e',
        'һ' => 'h',
        'і' | 'ι' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'п' | 'η' => 'n',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' => 'u',
        'ν' => 'v',
        'ԝ' | 'ω' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        'А' | 'Α' => 'A',
        'В' | 'Β' => 'B',
        'С' => 'C',
        'Е' | 'Ε' => 'E',
        'Н' | 'Η' => 'H',
        'І' | 'Ι' => 'I',
        'Ј' => 'J',
        'К' | 'Κ' => 'K',
        'М' | 'Μ' => 'M',
        'Ν' => 'N',
        'О' | 'Ο' => 'O',
        'Р' | 'Ρ' => 'P',
        'Ѕ' => 'S',
        'Т' | 'Τ' => 'T',
        'Х' | 'Χ' => 'X',
        'У' | 'Υ' => 'Y',
        'Ζ' => 'Z',
        _ => c,
    }
}

/// The letter a leetspeak digit or symbol stands for.
fn unleet(c: char) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' | '!' | '|' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' => 't',
        _ => return None,
    })
}

/// Rewrites leetspeak inside words that hold a letter ("h4te", "$tup1d", "1d10t"), leaving
/// numbers, prices, phone numbers and a number with a unit or suffix ("£1000", "10am",
/// "3rd", "4u") alone. A trailing `!` is punctuation, not an i.
fn unleet_word(word: &str) -> String {
    let trimmed = word.trim_end_matches(['!', '?', '.', ',']);
    let (body, tail) = word.split_at(trimmed.len());
    let digits_then_letters = {
        let rest = body.trim_start_matches(|c: char| c.is_ascii_digit());
        rest.len() < body.len() && rest.chars().all(char::is_alphabetic)
    };
    if !body.chars().any(char::is_alphabetic)
        || !body.chars().any(|c| unleet(c).is_some())
        || digits_then_letters
    {
        return word.to_string();
    }
    body.chars()
        .map(|c| unleet(c).unwrap_or(c))
        .chain(tail.chars())
        .collect()
}

/// Joins runs of three or more single letters separated by spaces, dots, dashes or
/// underscores ("s t u p i d", "i.d.i.o.t") into one word.
fn join_spaced_letters(words: Vec<String>) -> Vec<String> {
    let single_letter = |w: &str| {
        let mut chars = w.chars();
        matches!((chars.next(), chars.next()), (Some(c), None) if c.is_alphabetic())
    };
    let mut joined = Vec::with_capacity(words.len());
    let mut run: Vec<String> = Vec::new();
    let flush = |run: &mut Vec<String>, joined: &mut Vec<String>| {
        // "a s t u p i d": the article stays a word of its own.
        if run.len() >= 4 && matches!(run[0].as_str(), "a" | "A" | "I") {
            joined.push(run.remove(0));
        }
        if run.len() >= 3 {
            joined.push(run.concat());
        } else {
            joined.append(run);
        }
        run.clear();
    };
    for word in words {
        let dotted: Vec<&str> = word.split(['.', '-', '_']).collect();
        if dotted.len() >= 3 && dotted.iter().all(|part| single_letter(part)) {
            flush(&mut run, &mut joined);
            joined.push(dotted.concat());
        } else if single_letter(&word) {
            run.push(word);
        } else {
            flush(&mut run, &mut joined);
            joined.push(word);
        }
    }
    flush(&mut run, &mut joined);
    joined
}

/// Shortens runs of three or more of the same letter to one ("stuuupid" → "stupid");
/// doubled letters ("cool") and digits ("1000") are left as they are.
fn squeeze_repeats(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut start = 0;
    while start < chars.len() {
        let c = chars[start];
        let end = chars[start..].iter().take_while(|&&d| d == c).count() + start;
        let run = end - start;
        let keep = if run >= 3 && c.is_alphabetic() {
            1
        } else {
            run
        };
        out.extend(std::iter::repeat_n(c, keep));
        start = end;
    }
    out
}

/// The text with obfuscations undone and whitespace collapsed to single spaces. Case is
/// kept: the lexical features read capitals as a signal.
///
/// ```
/// use tamis_core::classify::normalize_text;
///
/// assert_eq!(normalize_text("y0u are s t u p i d"), "you are stupid");
/// assert_eq!(normalize_text("ѕtuuuрid\u{200B}"), "stupid");
/// assert_eq!(normalize_text("Win £1000 now!"), "Win £1000 now!");
/// ```
pub fn normalize_text(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .filter(|&c| !is_invisible(c))
        .map(unconfuse)
        .collect();
    let words: Vec<String> = cleaned
        .split_whitespace()
        .map(|w| squeeze_repeats(&unleet_word(w)))
        .collect();
    join_spaced_letters(words).join(" ")
}

#[cfg(test)]
mod tests {
    use super::normalize_text;

    #[test]
    fn undoes_each_obfuscation() {
        assert_eq!(normalize_text("h4te"), "hate");
        assert_eq!(normalize_text("\u{200D}idiot\u{FE0F}"), "idiot");
        assert_eq!(normalize_text("іdіоt"), "idiot");
        assert_eq!(normalize_text("Ｆｒｅｅ"), "Free");
        assert_eq!(normalize_text("f-r-e-e c.a.s.h"), "free cash");
        assert_eq!(normalize_text("loooser"), "loser");
        assert_eq!(
            normalize_text("4r3 y0u a s t u p i d 1d10t?"),
            "are you a stupid idiot?"
        );
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        for text in [
            "Call 09061701461 to claim £1000!",
            "a b test",
            "I'm cool, see you at 7.",
            "good!",
            "see you at 10am on the 3rd, 4u",
        ] {
            assert_eq!(normalize_text(text), text);
        }
    }
}
