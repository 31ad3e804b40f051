//! The architectures' names and bundle files, as the npm package knows them: it decides which
//! files to fetch before the module is loaded, so it keeps its own table
//! (`ARCHITECTURE_FILES` in js/src/load.ts). The test below keeps its `Architecture` union equal
//! to [`Architecture::ALL`]; a Node test compares the table with [`bundle_file_names`].

use serde::Serialize;
use tamis_model::Architecture;
use wasm_bindgen::prelude::*;

use crate::{js_error, serialize, ErrorCode};

/// The files of a bundle beside its `manifest.json`.
#[derive(Debug, PartialEq, Serialize)]
struct BundleFileNames {
    model: &'static str,
    /// `null` where the model file holds the tokenizer.
    tokenizer: Option<&'static str>,
}

/// The architecture named `name`, as a manifest's `architecture` field names it.
fn architecture_named(name: &str) -> Option<Architecture> {
    Architecture::ALL
        .into_iter()
        .find(|architecture| architecture.name() == name)
}

/// The files of a bundle of `architecture` beside its manifest: `{model, tokenizer}`, with
/// `tokenizer` null where the model file holds it. An unknown name is `invalid_argument`,
/// naming the known ones.
#[wasm_bindgen(js_name = bundleFileNames)]
pub fn bundle_file_names(architecture: &str) -> Result<JsValue, JsValue> {
    let Some(found) = architecture_named(architecture) else {
        let known: Vec<&str> = Architecture::ALL.map(Architecture::name).into();
        let message = format!(
            "unknown architecture {architecture:?}; tamis knows {}",
            known.join(", ")
        );
        return Err(js_error(ErrorCode::InvalidArgument, &message));
    };
    serialize(&BundleFileNames {
        model: found.model_file(),
        tokenizer: found.tokenizer_file(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::typescript::union_members;

    /// The TypeScript side; `include_str!` reruns this test when it changes.
    const TYPES_TS: &str = include_str!("../../../js/src/types.ts");

    /// Every architecture; the match stops compiling when one is added, to add it to
    /// [`Architecture::ALL`] too.
    fn architectures() -> Vec<Architecture> {
        let all = Architecture::ALL.to_vec();
        for architecture in &all {
            match architecture {
                Architecture::Bert | Architecture::XlmRoberta => {}
            }
        }
        all
    }

    #[test]
    fn the_typescript_architectures_are_the_rust_ones() {
        let names: Vec<&str> = architectures()
            .into_iter()
            .map(Architecture::name)
            .collect();
        assert_eq!(
            union_members(TYPES_TS, "Architecture"),
            names,
            "js/src/types.ts `Architecture` must list Architecture::ALL's names, in order"
        );
    }

    #[test]
    fn every_architecture_is_found_by_its_name() {
        for architecture in architectures() {
            assert_eq!(architecture_named(architecture.name()), Some(architecture));
        }
        assert_eq!(architecture_named("roberta"), None);
    }
}
