//! Reading the TypeScript side of the vocabulary, for the tests that keep it equal to Rust's
//! (error codes, backend names).

/// The string members of `export type <name> = | 'a' | 'b';` in `source`, in order: one
/// single-quoted member per line, TSDoc comments between them. Any other line in the union (a
/// double-quoted member, two members on one line, a member without its `|`) fails loudly, so
/// that a member is never silently left out of the comparison.
pub fn union_members(source: &str, name: &str) -> Vec<String> {
    let start = format!("export type {name} =");
    let mut lines = source.lines().skip_while(|line| !line.starts_with(&start));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no `{start}` in the TypeScript source"));
    assert!(
        first.trim_end() == start,
        "`{first}`: write the members of `{name}` on the following lines, one per line"
    );
    let mut members = Vec::new();
    for line in lines {
        let line = line.trim();
        if is_comment(line) {
            continue;
        }
        let (member, end) = parse_member(line).unwrap_or_else(|| {
            panic!("`{line}` in `{name}`: expected one member per line, `| 'member'` (`;` after the last)")
        });
        members.push(member.to_string());
        if end {
            return members;
        }
    }
    panic!("`{start}` has no end (a last member `| '...';`)");
}

/// Whether `line` (trimmed) is part of a comment: `/** ... */`, ` * ...`, `*/`, `// ...`.
fn is_comment(line: &str) -> bool {
    line.starts_with("/*") || line.starts_with('*') || line.starts_with("//")
}

/// `| 'member'` or `| 'member';` (trimmed): the member and whether the union ends there.
fn parse_member(line: &str) -> Option<(&str, bool)> {
    let quoted = line.strip_prefix('|')?.trim_start().strip_prefix('\'')?;
    let (member, rest) = quoted.split_once('\'')?;
    let valid = !member.is_empty() && !member.contains(['"', '|', '\\']);
    match rest.trim_end() {
        "" if valid => Some((member, false)),
        ";" if valid => Some((member, true)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::union_members;

    #[test]
    fn reads_a_documented_union() {
        let source = "export type X =\n  /** first */\n  | 'a'\n  /**\n   * second\n   */\n  | 'b_c';\nexport type Y =\n  | 'z';";
        assert_eq!(union_members(source, "X"), ["a", "b_c"]);
        assert_eq!(union_members(source, "Y"), ["z"]);
    }

    /// Runs `union_members` on `source`'s union `X`; the panic message when it refuses.
    fn refusal(source: &str) -> String {
        let panic = std::panic::catch_unwind(|| union_members(source, "X"))
            .expect_err("the union was accepted");
        panic
            .downcast_ref::<String>()
            .cloned()
            .expect("a formatted panic message")
    }

    #[test]
    fn refuses_a_double_quoted_member() {
        let message = refusal("export type X =\n  | 'a'\n  | \"b\"\n  | 'c';");
        assert!(message.contains(r#"`| "b"` in `X`"#), "{message}");
    }

    #[test]
    fn refuses_two_members_on_one_line() {
        let message = refusal("export type X =\n  | 'a' | 'b'\n  | 'c';");
        assert!(message.contains("`| 'a' | 'b'` in `X`"), "{message}");
        let message = refusal("export type X = 'a' | 'b';");
        assert!(message.contains("one per line"), "{message}");
    }

    #[test]
    fn refuses_a_member_without_its_bar_and_a_missing_end() {
        let message = refusal("export type X =\n  | 'a'\n  'b';");
        assert!(message.contains("`'b';` in `X`"), "{message}");
        let message = refusal("export type X =\n  | 'a'\n");
        assert!(message.contains("has no end"), "{message}");
    }
}
