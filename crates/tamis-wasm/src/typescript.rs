//! Reading the TypeScript side of the vocabulary, for the tests that keep it equal to Rust's
//! (error codes, backend names).

/// The string members of `export type <name> = | 'a' | 'b';` in `source`, in order; TSDoc
/// comments may sit between the members.
pub fn union_members(source: &str, name: &str) -> Vec<String> {
    let start = format!("export type {name} =");
    let mut lines = source.lines().skip_while(|line| !line.starts_with(&start));
    assert!(
        lines.next().is_some(),
        "no `{start}` in the TypeScript source"
    );
    let mut members = Vec::new();
    for line in lines {
        let Some(member) = line.trim().strip_prefix("| '") else {
            continue;
        };
        let (member, rest) = member
            .split_once('\'')
            .unwrap_or_else(|| panic!("`{line}`: no closing quote"));
        members.push(member.to_string());
        if rest == ";" {
            return members;
        }
    }
    panic!("`{start}` has no end (a last member `| '...';`)");
}

#[test]
fn reads_a_documented_union() {
    let source = "export type X =\n  /** first */\n  | 'a'\n  | 'b_c';\nexport type Y = | 'z';";
    assert_eq!(union_members(source, "X"), ["a", "b_c"]);
}
