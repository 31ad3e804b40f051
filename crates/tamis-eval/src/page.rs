//! The `docs/` pages the evaluations write: each says at the top which command regenerates it.

use std::path::Path;

use crate::EvalError;

/// Writes `body` to `path` under a title and the command that regenerates the page.
pub fn write_page(path: &Path, title: &str, command: &str, body: &str) -> Result<(), EvalError> {
    let page = format!(
        "# {title}\n\nWritten by `{command}`: rerun it to refresh this page, and edit the \
         evaluation, not the page.\n\n{body}"
    );
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| EvalError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, page).map_err(|source| EvalError::Write {
        path: path.to_path_buf(),
        source,
    })
}
