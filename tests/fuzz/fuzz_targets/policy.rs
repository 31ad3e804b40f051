//! Policy JSON and edits: any input is a policy, an edit, or a typed error; a valid policy
//! survives a JSON round trip; a refused edit leaves the policy as it was.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tamis_core::classify::{Policy, PolicyEdit};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (policy_part, edit_part) = text.split_once('\u{1}').unwrap_or((&text, ""));
    let Ok(mut policy) = Policy::from_json(policy_part) else {
        return;
    };
    assert_eq!(Policy::from_json(&policy.to_json()).as_ref(), Ok(&policy));
    for line in edit_part.lines() {
        let Ok(edit) = serde_json::from_str::<PolicyEdit>(line) else {
            continue;
        };
        let before = policy.clone();
        if edit.apply(&mut policy).is_err() {
            assert_eq!(policy, before);
        }
        policy
            .validate()
            .expect("an accepted edit keeps the policy valid");
    }
});
