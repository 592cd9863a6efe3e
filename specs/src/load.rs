//! Loading files into the model (to be written: see issue 2).

use std::path::Path;

use crate::diag::Diagnostic;
use crate::model::Document;

/// Limits and switches for loading.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Largest file accepted, in bytes (default 16 MiB).
    pub max_file_size: u64,
    /// When true, a YAML document without a top-level `berth:` key is skipped and
    /// counted instead of being an error (used when walking folders).
    pub skip_foreign: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_file_size: 16 * 1024 * 1024,
            skip_foreign: false,
        }
    }
}

/// What loading one file gave: its valid documents, every diagnostic, and how
/// many foreign (non-berth) documents were skipped.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Documents that loaded without errors (warnings allowed).
    pub documents: Vec<Document>,
    /// Every problem found.
    pub diagnostics: Vec<Diagnostic>,
    /// Documents skipped as not berth files (only with `skip_foreign`).
    pub skipped: usize,
}

/// Loads every document of one file.
pub fn load_file(_path: &Path, _opts: &LoadOptions) -> Loaded {
    unimplemented!("issue 2")
}

/// Loads every document of a text, named `name` in diagnostics.
pub fn load_str(_name: &Path, _text: &str, _opts: &LoadOptions) -> Loaded {
    unimplemented!("issue 2")
}

/// Validates a provider's `provide` output (one JSON object in the host-manifest
/// form of `kind`, without the kind key, e.g. `{"path": "/mnt/x"}`) exactly like a
/// manifest entry of that kind named `name`.
pub fn provide_detail_from_json(
    kind: &crate::model::Kind,
    name: &str,
    value: &serde_json::Value,
) -> Result<crate::model::ProvideDetail, Vec<Diagnostic>> {
    // Replaced by the real validation in the next commit of issue 2.
    let _ = (kind, name, value);
    Err(vec![Diagnostic::error(
        crate::diag::Code::WrongType,
        "provider output validation is being written (issue 2)",
    )])
}
