//! The `code` of every error the npm package throws, defined once: the codes these bindings
//! set and those only the JavaScript wrapper raises (a failed download, an aborted load, a
//! disposed object, a trapped module). `js/src/errors.ts` types the same list for
//! TypeScript; a test below fails when the two differ.

/// Defines [`ErrorCode`], its names and its list from one table, so that a code cannot be
/// named in one and missing from another.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal,)*) => {
        /// A stable error code, for programs to branch on (`error.code` in JavaScript).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order `js/src/errors.ts` lists them.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as JavaScript sees it, e.g. `"invalid_argument"`.
            ///
            /// ```
            /// use tamis_wasm::ErrorCode;
            ///
            /// assert_eq!(ErrorCode::InvalidArgument.as_str(), "invalid_argument");
            /// assert!(ErrorCode::ALL.iter().any(|code| code.as_str() == "aborted"));
            /// ```
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }
        }
    };
}

error_codes! {
    /// A model file is missing or unreadable (in Node: no file at the path given).
    ModelMissing = "model_missing",
    /// A model file's bytes do not match the manifest's sha256.
    ChecksumMismatch = "checksum_mismatch",
    /// `manifest.json` is not JSON or lacks what loading needs.
    InvalidManifest = "invalid_manifest",
    /// The model file (`model.onnx`, `model.e5s`) is not a model tamis can run.
    InvalidModel = "invalid_model",
    /// `tokenizer.json` is not a usable tokenizer for the model.
    InvalidTokenizer = "invalid_tokenizer",
    /// The priors given are not a priors file, or were fitted for another model file.
    InvalidPriors = "invalid_priors",
    /// Tokenizing or running the model failed.
    InferenceFailed = "inference_failed",
    /// The policy is not a valid tamis policy.
    InvalidPolicy = "invalid_policy",
    /// A policy edit names a category the policy does not have.
    UnknownCategory = "unknown_category",
    /// A policy edit removes a text the policy does not have.
    UnknownText = "unknown_text",
    /// A text to classify or a fusion query is empty.
    EmptyText = "empty_text",
    /// A text is over the size limit.
    TextTooLong = "text_too_long",
    /// The ranked lists to fuse are not valid (duplicate ids, scores that are not numbers).
    InvalidLists = "invalid_lists",
    /// An argument has the wrong type or value (a string where an array of texts is expected,
    /// an unknown backend, an unknown fusion method).
    InvalidArgument = "invalid_argument",
    /// Content-aware fusion was asked of `fuseLists`, which has no model.
    ModelRequired = "model_required",
    /// A model file or the `.wasm` could not be downloaded or read.
    FetchFailed = "fetch_failed",
    /// The GPU was asked for and cannot run the model.
    BackendUnavailable = "backend_unavailable",
    /// The GPU was lost while the model was being loaded on it.
    BackendLost = "backend_lost",
    /// The caller's `AbortSignal` aborted the load.
    Aborted = "aborted",
    /// The object was disposed.
    Disposed = "disposed",
    /// A bug in tamis, to report. Either a Rust panic trapped the module: every later call in
    /// this worker or page is then `instance_broken`; or an unexpected failure that leaves the
    /// module usable (a result it could not convert to JavaScript, a JavaScript error without
    /// a code). The message says which.
    InternalError = "internal_error",
    /// An earlier Rust panic (an `internal_error`) left the module unusable in this worker or
    /// page.
    InstanceBroken = "instance_broken",
    /// The Web Worker running tamis failed.
    WorkerFailed = "worker_failed",
    /// Never reaches callers: on the GPU a call needs embeddings computed first; the
    /// JavaScript wrapper computes them and runs the call again.
    NeedsEmbeddings = "needs_embeddings",
}

impl ErrorCode {
    /// Codes the JavaScript wrapper handles itself, so that no caller ever sees them.
    pub fn is_internal(self) -> bool {
        self == ErrorCode::NeedsEmbeddings
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;
    use crate::typescript::union_members;

    /// The TypeScript side; `include_str!` reruns this test when it changes.
    const ERRORS_TS: &str = include_str!("../../../js/src/errors.ts");

    fn names(internal: bool) -> Vec<String> {
        ErrorCode::ALL
            .iter()
            .filter(|code| code.is_internal() == internal)
            .map(|code| code.as_str().to_string())
            .collect()
    }

    #[test]
    fn the_typescript_error_codes_are_the_rust_ones() {
        assert_eq!(
            union_members(ERRORS_TS, "ErrorCode"),
            names(false),
            "js/src/errors.ts `ErrorCode` must list the public codes of ErrorCode::ALL, in order"
        );
        assert_eq!(
            union_members(ERRORS_TS, "InternalCode"),
            names(true),
            "js/src/errors.ts `InternalCode` must list the internal codes of ErrorCode::ALL"
        );
    }

    #[test]
    fn codes_are_distinct_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "{name} twice");
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name} is not snake_case"
            );
        }
    }
}
