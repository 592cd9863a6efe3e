//! Loading: bytes → node tree ([`crate::yaml`]) → typed [`model`](crate::model)
//! documents, collecting **every** problem of a file as a located
//! [`Diagnostic`] instead of stopping at the first.
//!
//! What must stay true:
//! - A document with any error is left out of [`Loaded::documents`], so the model's
//!   promises (valid names, normalized mount paths, no control characters, parsed
//!   addresses) hold for everything that comes out of here.
//! - Size is checked before a file is read whole; nothing here panics on any input.
//! - Loading a big multi-document file in parallel chunks gives exactly what a
//!   sequential load gives (a chunk that fails to parse makes the whole file be
//!   parsed again in one piece).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ipnet::IpNet;
use rayon::prelude::*;

mod kinds;

use crate::diag::{Capped, Code, Diagnostic, Omitted, Severity, MAX_KEPT_PER_FILE};
use crate::json;
pub use crate::kinds::{need_options, provide_options};
use crate::kinds::{provide_options_allow, KIND_WORDS};
use crate::model::*;
use crate::read;
use crate::validate::{self, FieldSpans};
use crate::yaml::{self, Node, Scalar, YamlError};
use smallvec::SmallVec;

/// Limits and switches for loading.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Largest file accepted, in bytes (default [`read::MAX_FILE_SIZE`]).
    pub max_file_size: u64,
    /// When true, a YAML document without a top-level `berth:` key is skipped and
    /// counted instead of being an error (used when walking folders).
    pub skip_foreign: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_file_size: read::MAX_FILE_SIZE,
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
    /// The problems found: the first [`MAX_KEPT_PER_FILE`] of the file.
    pub diagnostics: Vec<Diagnostic>,
    /// How many more were found and left out ([`crate::diag::Capped`]).
    pub omitted: Omitted,
    /// Documents skipped as not berth files (only with `skip_foreign`).
    pub skipped: usize,
    /// Documents looked at (loaded, failed or skipped; empty ones not counted).
    pub examined: usize,
    /// The file was found in a folder, is over the size limit and does not
    /// look like berth's: skipped unread
    /// ([`crate::discover::load_found`]).
    pub oversize_skipped: bool,
}

impl Loaded {
    fn failed(d: Diagnostic) -> Loaded {
        Loaded {
            diagnostics: vec![d],
            ..Loaded::default()
        }
    }

    /// True when any diagnostic is an error, listed or omitted.
    pub fn has_errors(&self) -> bool {
        self.omitted.errors > 0 || self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Files above this size are parsed in parallel chunks.
const PARALLEL_THRESHOLD: usize = 1 << 20;

/// Loads every document of one file. YAML, or JSON when the name ends in
/// `.json`. The size limit is checked before the file is read
/// ([`crate::read`], the one size rule).
pub fn load_file(path: &Path, opts: &LoadOptions) -> Loaded {
    match read::read_text(path, opts.max_file_size) {
        Ok(text) => load_source(Source::new(path, text), opts, true),
        Err(e) => Loaded::failed(e.diagnostic(path)),
    }
}

/// Loads every document of a text, named `name` in diagnostics (JSON when
/// the name ends in `.json`, YAML otherwise).
pub fn load_str(name: &Path, text: &str, opts: &LoadOptions) -> Loaded {
    if text.len() as u64 > opts.max_file_size {
        return Loaded::failed(
            Diagnostic::error(
                Code::FileTooLarge,
                format!(
                    "the text is {} bytes, more than the limit of {} bytes",
                    text.len(),
                    opts.max_file_size
                ),
            )
            .help("split it into several files, or raise the limit with --max-file-size")
            .at_file(&Source::new(name, "")),
        );
    }
    load_source(Source::new(name, text), opts, true)
}

/// Like [`load_str`], but parses and converts on one thread, in one piece. The
/// parallel path must give exactly this; tests and benchmarks compare them.
pub fn load_str_sequential(name: &Path, text: &str, opts: &LoadOptions) -> Loaded {
    load_source(Source::new(name, text), opts, false)
}

/// What one chunk (or a JSON file) gave.
#[derive(Default)]
struct Part {
    documents: Vec<Document>,
    diagnostics: Capped,
    skipped: usize,
    examined: usize,
    yaml_error: bool,
}

fn load_source(source: Arc<Source>, opts: &LoadOptions, parallel: bool) -> Loaded {
    let text: &str = &source.text;
    let is_json = source
        .path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let parts: Vec<Part> = if is_json {
        // Each document is converted as soon as its tree is built; most
        // have no diagnostic, and carry none.
        let (results, error) = json::parse_json_each(text, |root| {
            let mut cx = Cx::new(&source);
            let outcome = cx.document(&root, opts);
            (outcome, (!cx.diags.is_empty()).then(|| Box::new(cx.diags)))
        });
        let mut part = Part::default();
        part.documents.reserve_exact(results.len());
        for (outcome, diags) in results {
            part.record(outcome, diags.map(|d| *d).unwrap_or_default());
        }
        if let Some(e) = error {
            part.yaml_error = true;
            part.diagnostics.push(yaml_diagnostic(&source, e));
        }
        vec![part]
    } else {
        let budget = AtomicUsize::new(0);
        let limit = yaml::alias_budget(text.len());
        let starts = if parallel && text.len() > PARALLEL_THRESHOLD {
            let pieces = rayon::current_num_threads().max(1) * 4;
            yaml::chunk_starts(text, (text.len() / pieces).max(PARALLEL_THRESHOLD / 4))
        } else {
            vec![yaml::Base::default()]
        };
        let parse = |i: usize, base: yaml::Base| {
            let end = starts.get(i + 1).map_or(text.len(), |b| b.offset);
            parse_and_convert(&source, &text[base.offset..end], base, &budget, limit, opts)
        };
        let parts: Vec<Part> = starts
            .par_iter()
            .enumerate()
            .map(|(i, b)| parse(i, *b))
            .collect();
        if parts.len() > 1 && parts.iter().any(|p| p.yaml_error) {
            // A cut may have fallen where the text is not a document boundary,
            // or the file really is broken: either way the sequential parse is
            // the truth.
            let budget = AtomicUsize::new(0);
            vec![parse_and_convert(
                &source,
                text,
                yaml::Base::default(),
                &budget,
                limit,
                opts,
            )]
        } else {
            parts
        }
    };
    let mut out = Loaded::default();
    let mut yaml_error = false;
    let mut diagnostics = Capped::new(MAX_KEPT_PER_FILE);
    for p in parts {
        yaml_error |= p.yaml_error;
        if out.documents.is_empty() {
            out.documents = p.documents;
        } else {
            out.documents.extend(p.documents);
        }
        diagnostics.append(p.diagnostics);
        out.skipped += p.skipped;
        out.examined += p.examined;
    }
    (out.diagnostics, out.omitted) = diagnostics.into_parts();
    // Walking a repository meets YAML that is not YAML yet (Helm and Jinja
    // templates). A broken file with no berth document and no `berth:` line is
    // foreign: skipped, like a foreign document, not an error.
    if opts.skip_foreign
        && yaml_error
        && out.examined == out.skipped
        && !text.lines().any(|l| l.starts_with("berth:"))
    {
        out.diagnostics.retain(|d| !is_yaml_code(d.code));
        out.skipped += 1;
        out.examined += 1;
    }
    out
}

fn is_yaml_code(code: Code) -> bool {
    matches!(
        code,
        Code::YamlSyntax | Code::YamlAliasLimit | Code::YamlTooDeep
    )
}

fn yaml_diagnostic(source: &Arc<Source>, e: YamlError) -> Diagnostic {
    match e {
        YamlError::Syntax { message, span } => {
            // The usual pitfalls (an unquoted address, indentation, tabs) get
            // a hint in berth's words before the parser's consequence.
            let help = match yaml::syntax_hint(&source.text, &message, span.line) {
                Some(hint) => format!("{hint}; everything after this point in the file was not read"),
                None => "everything after this point in the file was not read".to_string(),
            };
            Diagnostic::error(Code::YamlSyntax, format!("YAML syntax error: {message}"))
                .at(source, span)
                .label(message)
                .help(help)
        }
        YamlError::AliasLimit { span, limit } => Diagnostic::error(
            Code::YamlAliasLimit,
            format!("YAML anchors and aliases copy more than {limit} bytes"),
        )
        .at(source, span)
        .label("expansion limit reached here")
        .help(format!(
            "aliases may copy {} MiB, or four times the file's size if more; berth files never need big alias expansions: write the values out",
            yaml::ALIAS_BUDGET >> 20
        )),
        YamlError::TooDeep { span } => Diagnostic::error(
            Code::YamlTooDeep,
            format!("nesting deeper than {} levels", yaml::MAX_DEPTH),
        )
        .at(source, span)
        .label("too deep")
        .help("berth files nest at most five levels"),
    }
}

/// Parses a YAML text (or chunk) and converts each document as soon as it is
/// parsed, while its tree is still in cache; the tree is dropped right after.
fn parse_and_convert(
    source: &Arc<Source>,
    text: &str,
    base: yaml::Base,
    budget: &AtomicUsize,
    limit: usize,
    opts: &LoadOptions,
) -> Part {
    let mut part = Part::default();
    let error = yaml::parse_yaml_each_limited(text, base, budget, limit, |root| {
        part.add(source, &root, opts);
    });
    if let Some(e) = error {
        part.yaml_error = true;
        part.diagnostics.push(yaml_diagnostic(source, e));
    }
    part
}

impl Part {
    /// Converts one document and records the outcome.
    fn add(&mut self, source: &Arc<Source>, root: &Node<'_>, opts: &LoadOptions) {
        let mut cx = Cx::new(source);
        let outcome = cx.document(root, opts);
        self.record(outcome, cx.diags);
    }

    fn record(&mut self, outcome: Outcome, diags: Capped) {
        match outcome {
            Outcome::Empty => {}
            Outcome::Skipped => {
                self.skipped += 1;
                self.examined += 1;
            }
            Outcome::Failed => self.examined += 1,
            Outcome::Loaded(d) => {
                self.examined += 1;
                self.documents.push(d);
            }
        }
        self.diagnostics.append(diags);
    }
}

enum Outcome {
    Empty,
    Skipped,
    Failed,
    /// Not boxed: a JSON fleet's 150,000 outcomes are made on the rayon
    /// pool and moved on the calling thread; a box each was an allocation
    /// freed on another thread.
    Loaded(Document),
}

/// Validates a provider's `provide` output (one JSON object in the host-manifest
/// form of `kind`, without the kind key, e.g. `{"path": "/mnt/x"}`) exactly like a
/// manifest entry of that kind named `name`. Diagnostics point into the
/// pretty-printed output, named `<provider output>`; callers may re-point them.
pub fn provide_detail_from_json(
    kind: &Kind,
    name: &str,
    value: &serde_json::Value,
) -> Result<ProvideDetail, Vec<Diagnostic>> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let source = Source::new("<provider output>", text);
    let mut cx = Cx::new(&source);
    if !value.is_object() {
        let span = Span {
            offset: 0,
            len: source.text.len(),
            line: 1,
            col: 1,
        };
        cx.diags.push(
            Diagnostic::error(
                Code::WrongType,
                format!("provider output must be a JSON object, found {}", json_type(value)),
            )
            .at(&source, span)
            .help(format!(
                "print one object in the host-manifest form of {} {kind} provide, without the kind key", article(kind)
            )),
        );
        return Err(cx.diags.into_parts().0);
    }
    let parsed = json::parse_json(&source.text);
    let Some(root) = parsed.documents.first() else {
        return Err(vec![Diagnostic::error(
            Code::WrongType,
            "provider output could not be read as JSON",
        )]);
    };
    cx.control_characters(root);
    let entries = root.as_map().unwrap_or_default();
    let allowed = provide_options(kind);
    let fields = cx.fields(entries.iter(), allowed, Context::Provide(kind, ""), &[]);
    let mut spans = FieldSpans::default();
    let detail = cx.provide_detail(kind, name, &fields, root.span, 0, &mut spans);
    match detail {
        Some(d) if cx.errors() == 0 => Ok(d),
        _ => Err(cx.diags.into_parts().0),
    }
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

// ---------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------

const NEED_SPEC_KEYS: &[&str] = &["berth", "container", "image", "needs", "placement"];
const HOST_KEYS: &[&str] = &[
    "berth",
    "host",
    "labels",
    "state_dir",
    "provides",
    "providers",
];
const PROVIDER_KEYS: &[&str] = &["run", "timeout", "allow", "env"];

fn all_options(f: fn(&Kind) -> &'static [&'static str]) -> Vec<&'static str> {
    let custom = Kind::Custom(String::new());
    let mut all: Vec<&str> = Kind::BUILTIN
        .iter()
        .chain([&custom])
        .flat_map(|k| f(k).iter().copied())
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Every key that is an option of some need kind (computed once).
static ALL_NEED_OPTIONS: LazyLock<Vec<&'static str>> = LazyLock::new(|| all_options(need_options));

/// Every key that is an option of some provide kind, and `allow`.
static ALL_PROVIDE_OPTIONS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut v = all_options(provide_options);
    v.push("allow");
    v
});

/// The candidate nearest to `word`, if it is close enough to be a typo.
pub fn suggest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Whether `s` is a valid resource name: `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}`.
pub fn is_resource_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

/// Whether `s` is a custom kind key: `vendor.tld/class`.
pub fn is_custom_kind(s: &str) -> bool {
    let Some((vendor, class)) = s.split_once('/') else {
        return false;
    };
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b.len() <= 63
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
    };
    vendor.len() <= 253
        && vendor.split('.').count() >= 2
        && vendor.split('.').all(label_ok)
        && class.len() <= 64
        && is_resource_name(class)
}

fn is_label_key(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_./-".contains(c))
}

pub(crate) fn is_env_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

pub(crate) fn is_cdi_name(s: &str) -> bool {
    match s.split_once('=') {
        Some((kind, name)) => is_custom_kind(kind) && is_resource_name(name),
        None => false,
    }
}

/// Checks that a path is absolute and normalized. On failure returns why, and
/// the normalized form when there is one.
fn path_problem(p: &str) -> Option<(String, Option<String>)> {
    if !p.starts_with('/') {
        let fixed = format!("/{}", p.trim_start_matches("./"));
        return Some((
            "is relative".into(),
            path_problem(&fixed).map_or(Some(fixed), |_| None),
        ));
    }
    if p == "/" {
        return Some(("is the root directory".into(), None));
    }
    // Split again where needed rather than collected: most paths are fine.
    let parts = || p.split('/').skip(1);
    if parts().any(|s| s == "..") {
        return Some(("contains `..`".into(), None));
    }
    if parts().any(|s| s.is_empty() || s == ".") {
        let kept: Vec<&str> = parts().filter(|s| !s.is_empty() && *s != ".").collect();
        let fixed = (!kept.is_empty()).then(|| format!("/{}", kept.join("/")));
        let why = if p.ends_with('/') && !p.contains("//") && !parts().any(|s| s == ".") {
            "ends with `/`"
        } else {
            "is not normalized"
        };
        return Some((why.into(), fixed));
    }
    if p.len() > 4096 {
        return Some(("is longer than 4096 bytes".into(), None));
    }
    None
}

fn parse_timeout(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    if num.is_empty() || num.len() > 9 {
        return None;
    }
    let n: u64 = num.parse().ok()?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return None,
    };
    (d > Duration::ZERO && d <= Duration::from_secs(24 * 3600)).then_some(d)
}

fn cover(a: Span, b: Span) -> Span {
    let end = (b.offset + b.len).max(a.offset + a.len);
    Span {
        len: end - a.offset,
        ..a
    }
}

pub(crate) fn tick(s: &str) -> String {
    // A key or value can be megabytes long (one line of a hostile file): the
    // message names it by its start and length; the span points at all of it.
    const SHOWN: usize = 64;
    match s.char_indices().nth(SHOWN) {
        None => format!("`{}`", s.escape_debug()),
        Some((cut, _)) => format!("`{}…` ({} bytes)", s[..cut].escape_debug(), s.len()),
    }
}

// ---------------------------------------------------------------------------
// Conversion
// ---------------------------------------------------------------------------

/// What a map is, for messages ("a volume need"); formatted only when a
/// diagnostic is made, so loading clean files allocates no message text.
#[derive(Clone, Copy)]
pub(crate) enum Context<'k> {
    Lit(&'static str),
    Need(&'k Kind),
    Provide(&'k Kind, &'k str),
    Provider(&'k Kind),
}

impl std::fmt::Display for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Context::Lit(s) => f.write_str(s),
            Context::Need(k) => write!(f, "{} {k} need", article(k)),
            Context::Provide(k, "") => write!(f, "{} {k} provide", article(k)),
            Context::Provide(k, n) => write!(f, "{k} provide `{n}`"),
            Context::Provider(k) => write!(f, "{} {k} provider", article(k)),
        }
    }
}

/// "a" or "an" before a kind's name ("an ipv6 need").
fn article(kind: &Kind) -> &'static str {
    if kind.as_str().starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// "the name of a volume", formatted only on error.
struct NameOf<'k>(&'k Kind);

impl std::fmt::Display for NameOf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the name of {} {}", article(self.0), self.0)
    }
}

/// Where each key of a map was first seen. Linear for the usual handful of
/// keys; hashed once a map is big, so a hostile map of 100,000 keys is still
/// checked in linear time.
#[derive(Default)]
struct Seen<'n> {
    /// The first [`SEEN_SMALL`] keys, in place: most maps have a handful,
    /// and a heap vector each was two allocations per need.
    small: SmallVec<[(&'n str, Span); SEEN_SMALL]>,
    big: HashMap<&'n str, Span>,
}

const SEEN_SMALL: usize = 16;

impl<'n> Seen<'n> {
    /// Records `key` at `span`; returns where it was first seen if it was.
    fn first(&mut self, key: &'n str, span: Span) -> Option<Span> {
        if self.small.len() < SEEN_SMALL {
            if let Some((_, first)) = self.small.iter().find(|(k, _)| *k == key) {
                return Some(*first);
            }
            self.small.push((key, span));
            return None;
        }
        if self.big.is_empty() {
            self.big.extend(self.small.iter().copied());
        }
        if let Some(first) = self.big.get(key) {
            return Some(*first);
        }
        self.big.insert(key, span);
        None
    }
}

/// Known keys of one map, first occurrence each, with key and value nodes.
pub(crate) struct Fields<'n, 'a> {
    /// In place for the usual handful (a heap vector each was one
    /// allocation per map of a fleet).
    pub(crate) items: SmallVec<[(&'static str, &'n Node<'a>, &'n Node<'a>); 8]>,
}

impl<'n, 'a> Fields<'n, 'a> {
    pub(crate) fn get(&self, key: &str) -> Option<&'n Node<'a>> {
        self.items
            .iter()
            .find(|(k, ..)| *k == key)
            .map(|(_, _, v)| *v)
    }
    pub(crate) fn key(&self, key: &str) -> Option<&'n Node<'a>> {
        self.items
            .iter()
            .find(|(k, ..)| *k == key)
            .map(|(_, k, _)| *k)
    }
}

pub(crate) struct Cx<'s> {
    pub(crate) src: &'s Arc<Source>,
    /// Capped per file: a document can hold millions of mistakes, and only
    /// the first ones are kept (the rest are counted, and still decide
    /// validity through [`Capped::since`] and [`Capped::errors`]).
    pub(crate) diags: Capped,
}

impl<'s> Cx<'s> {
    pub(crate) fn new(src: &'s Arc<Source>) -> Self {
        Cx {
            src,
            diags: Capped::new(MAX_KEPT_PER_FILE),
        }
    }

    /// What kind of errors were reported after `mark` (a length of `diags`).
    fn errors_since(&self, mark: usize) -> EntryErrors {
        let mut out = EntryErrors::None;
        for &(code, _) in self
            .diags
            .since(mark)
            .iter()
            .filter(|(_, s)| *s == Severity::Error)
        {
            if code != Code::UnknownKey {
                return EntryErrors::Others;
            }
            out = EntryErrors::UnknownKeys;
        }
        out
    }

    fn errors(&self) -> usize {
        self.diags.errors()
    }

    pub(crate) fn error(
        &mut self,
        code: Code,
        span: Span,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.diags
            .push(Diagnostic::error(code, message).at(self.src, span));
        self.diags.last_mut().expect("just pushed")
    }

    pub(crate) fn wrong_type(
        &mut self,
        node: &Node<'_>,
        what: impl std::fmt::Display,
        expected: &str,
    ) {
        let d = self.error(
            Code::WrongType,
            node.span,
            format!("{what} must be {expected}, found {}", node.type_name()),
        );
        d.label = Some(format!("expected {expected}"));
    }

    /// Reports every scalar (key or value) holding a control character.
    fn control_characters(&mut self, node: &Node<'_>) {
        match &node.value {
            // Fast path: printable ASCII has no control characters.
            yaml::Value::Scalar(s, _) if s.bytes().all(|b| (0x20..0x7f).contains(&b)) => {}
            yaml::Value::Scalar(s, _) => {
                if let Some(c) = s.chars().find(|c| c.is_control()) {
                    let d = self.error(
                        Code::ControlCharacter,
                        node.span,
                        format!("a value contains the control character {:?}", c),
                    );
                    d.label = Some("control character in here".into());
                    d.help = Some(
                        "berth values may not contain control characters (tabs, newlines, escapes): they would corrupt emitted configurations".into(),
                    );
                }
            }
            yaml::Value::Seq(items) => items.iter().for_each(|n| self.control_characters(n)),
            yaml::Value::Map(entries) => entries.iter().for_each(|(k, v)| {
                self.control_characters(k);
                self.control_characters(v);
            }),
        }
    }

    /// Sorts a map's entries into known keys (returned), duplicates and
    /// unknown keys (reported). `pass` keys are neither known nor reported
    /// (the kind key of an entry).
    pub(crate) fn fields<'n, 'a: 'n>(
        &mut self,
        entries: impl Iterator<Item = &'n (Node<'a>, Node<'a>)>,
        allowed: &[&'static str],
        context: Context<'_>,
        pass: &[&str],
    ) -> Fields<'n, 'a> {
        let mut items: SmallVec<[(&'static str, &'n Node<'a>, &'n Node<'a>); 8]> = SmallVec::new();
        let mut seen = Seen::default();
        for (k, v) in entries {
            let Some(key) = k.text() else {
                self.wrong_type(k, "a key", "a string");
                continue;
            };
            if let Some(first) = seen.first(key, k.span) {
                let d = self.error(
                    Code::DuplicateKey,
                    k.span,
                    format!("key {} is given twice in {context}", tick(key)),
                );
                d.label = Some("second time".into());
                d.related.push((first, "first time".into()));
                d.help = Some("keep one of them".into());
                continue;
            }
            if pass.contains(&key) {
                continue;
            }
            if let Some(known) = allowed.iter().find(|a| **a == key) {
                items.push((known, k, v));
                continue;
            }
            if key.chars().any(char::is_control) {
                continue; // already reported
            }
            let help = match suggest(key, allowed) {
                Some(s) => format!("did you mean `{s}`?"),
                None if allowed.is_empty() => format!("{context} takes no options"),
                None => format!("{context} takes: {}", allowed.join(", ")),
            };
            let d = self.error(
                Code::UnknownKey,
                k.span,
                format!("unknown key {} in {context}", tick(key)),
            );
            d.label = Some("unknown key".into());
            d.help = Some(help);
        }
        Fields { items }
    }

    pub(crate) fn missing(&mut self, at: Span, context: Context<'_>, key: &str, example: &str) {
        let d = self.error(Code::MissingKey, at, format!("{context} requires `{key}`"));
        d.label = Some(format!("`{key}` missing here"));
        d.help = Some(format!("add `{key}: {example}`"));
    }

    // --- scalars -----------------------------------------------------------

    /// A string value; plain numbers count as strings (written as they are).
    /// Values with control characters give `None` silently: they are reported
    /// once, by [`Cx::control_characters`].
    pub(crate) fn string<'n>(
        &mut self,
        v: &'n Node<'_>,
        what: impl std::fmt::Display,
    ) -> Option<&'n str> {
        match v.scalar() {
            Some(Scalar::Str(_)) | Some(Scalar::Int(_)) => {
                let s = v.text()?;
                (!s.chars().any(char::is_control)).then_some(s)
            }
            _ => {
                self.wrong_type(v, what, "a string");
                None
            }
        }
    }

    /// An optional boolean: `false` when absent.
    pub(crate) fn flag(&mut self, v: Option<&Node<'_>>, what: &str) -> Option<bool> {
        v.map_or(Some(false), |b| self.boolean(b, what))
    }

    fn boolean(&mut self, v: &Node<'_>, what: &str) -> Option<bool> {
        match v.scalar() {
            Some(Scalar::Bool(b)) => Some(b),
            _ => {
                self.wrong_type(v, what, "`true` or `false`");
                if let Some(Scalar::Str(s)) = v.scalar() {
                    let quoted = matches!(&v.value, yaml::Value::Scalar(_, yaml::Style::Quoted));
                    let help = match s.to_ascii_lowercase().as_str() {
                        "true" | "false" if quoted => {
                            Some("write `true` or `false` without quotes".to_string())
                        }
                        // YAML 1.2 (and berth) reads these as strings, YAML 1.1 as booleans.
                        "yes" | "no" | "on" | "off" | "y" | "n" => Some(format!(
                            "berth reads YAML 1.2, where `{s}` is a string, not a boolean: write `true` or `false`"
                        )),
                        _ => None,
                    };
                    if let Some(help) = help {
                        let d = self.diags.last_mut().expect("just pushed");
                        d.help = Some(help);
                    }
                }
                None
            }
        }
    }

    fn string_list<'n>(&mut self, v: &'n Node<'_>, what: &str) -> Option<Vec<(&'n str, Span)>> {
        let Some(items) = v.as_seq() else {
            self.wrong_type(v, what, "a list");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match self.string(item, format!("an item of {what}")) {
                Some(s) => out.push((s, item.span)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    pub(crate) fn string_map(
        &mut self,
        v: &Node<'_>,
        what: &str,
    ) -> Option<Vec<(String, String, Span)>> {
        let Some(entries) = v.as_map() else {
            self.wrong_type(v, what, "a map");
            return None;
        };
        let mut out: Vec<(String, String, Span)> = Vec::with_capacity(entries.len());
        let mut seen = Seen::default();
        let mut ok = true;
        for (k, val) in entries {
            let Some(key) = self.string(k, format_args!("a key of {what}")) else {
                ok = false;
                continue;
            };
            if let Some(first) = seen.first(key, k.span) {
                let d = self.error(
                    Code::DuplicateKey,
                    k.span,
                    format!("key {} is given twice in {what}", tick(key)),
                );
                d.related.push((first, "first time".into()));
                ok = false;
                continue;
            }
            let value = match val.scalar() {
                Some(Scalar::Str(_) | Scalar::Int(_) | Scalar::Bool(_)) => val.text(),
                _ => {
                    self.wrong_type(val, format!("the value of {}", tick(key)), "a string");
                    None
                }
            };
            match value {
                Some(s) if !s.chars().any(char::is_control) => {
                    out.push((key.to_string(), s.to_string(), k.span))
                }
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn labels(&mut self, v: &Node<'_>, what: &str) -> Option<BTreeMap<String, String>> {
        let entries = self.string_map(v, what)?;
        let mut ok = true;
        for (k, _, span) in &entries {
            if !is_label_key(k) {
                ok = false;
                let d = self.error(
                    Code::InvalidLabel,
                    *span,
                    format!("invalid label {}", tick(k)),
                );
                d.label = Some("invalid label".into());
                d.help = Some("a label is 1-63 characters: letters, digits, `_`, `.`, `/`, `-`, starting with a letter or digit".into());
            }
        }
        ok.then(|| entries.into_iter().map(|(k, v, _)| (k, v)).collect())
    }

    /// A container's or a host's name (`what`), which share one syntax but
    /// not one code: scripts told "invalid container name" about a host
    /// were misled.
    fn container_name(&mut self, v: &Node<'_>, what: &str) -> Option<String> {
        let s = self.string(v, format_args!("`{what}`"))?;
        if valid_container_name(s) {
            return Some(s.to_string());
        }
        let code = if what == "host" {
            Code::InvalidHostName
        } else {
            Code::InvalidContainerName
        };
        let d = self.error(code, v.span, format!("invalid {what} name {}", tick(s)));
        d.label = Some("invalid name".into());
        let lower = s.to_ascii_lowercase();
        d.help = Some(if valid_container_name(&lower) {
            format!("names are lowercase: did you mean `{lower}`?")
        } else {
            "a name is 1-63 characters: lowercase letters, digits, `_`, `.`, `-`, starting with a letter or digit".into()
        });
        None
    }

    fn resource_name(&mut self, v: &Node<'_>, kind: &Kind) -> Option<String> {
        let s = self.string(v, NameOf(kind))?;
        if is_resource_name(s) {
            return Some(s.to_string());
        }
        self.invalid_name(v.span, s, kind, false);
        None
    }

    pub(crate) fn invalid_name(&mut self, span: Span, s: &str, kind: &Kind, pattern: bool) {
        let d = self.error(
            Code::InvalidName,
            span,
            format!("invalid {kind} name {}", tick(s)),
        );
        d.label = Some("invalid name".into());
        d.help = Some(format!(
            "a resource name is 1-128 characters: letters, digits, `_`, `.`, `-`, starting with a letter or digit{}",
            if pattern { "; a pattern may also use `*`, `?` and `[...]`" } else { "" }
        ));
    }

    fn name_pattern(&mut self, v: &Node<'_>, kind: &Kind) -> Option<NamePattern> {
        let s = self.string(v, NameOf(kind))?;
        let glob_chars = |c: char| matches!(c, '*' | '?' | '[' | ']' | '!' | '^');
        let plain: String = s.chars().filter(|c| !glob_chars(*c)).collect();
        let chars_ok = s.len() <= 128
            && plain
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(&c))
            && !s.starts_with(['.', '-', '_']);
        let parsed = if chars_ok {
            NamePattern::parse(s).ok()
        } else {
            None
        };
        match parsed {
            Some(NamePattern::Exact(n)) if !is_resource_name(&n) => {
                self.invalid_name(v.span, s, kind, true);
                None
            }
            Some(p) => Some(p),
            None => {
                self.invalid_name(v.span, s, kind, true);
                None
            }
        }
    }

    /// An absolute, normalized path; `container` picks the code and wording.
    pub(crate) fn path(&mut self, v: &Node<'_>, what: &str, container: bool) -> Option<String> {
        let s = self.string(v, what)?;
        let Some((why, fixed)) = path_problem(s) else {
            return Some(s.to_string());
        };
        let code = if container {
            Code::NeedBadMount
        } else {
            Code::HostBadPath
        };
        let d = self.error(code, v.span, format!("{what} {} {why}", tick(s)));
        d.label = Some(why.clone());
        d.help = Some(match fixed {
            Some(f) => format!("write it absolute and normalized: `{f}`"),
            None if container => "a mount path is absolute and normalized, like `/var/www`".into(),
            None => "a host path is absolute and normalized, like `/srv/data`".into(),
        });
        None
    }

    /// A device path (host or container side): a path, and without `:`,
    /// which docker's `--device` and compose's `devices:` read as
    /// `host:container:permissions`. Refused here, when the manifest or a
    /// provider result is loaded, so nothing is recorded for a device the
    /// engine would then fail on (paths under `/dev/disk/by-path` have `:`).
    pub(crate) fn device_path(&mut self, v: &Node<'_>, container: bool) -> Option<String> {
        let s = self.path(v, "device path", container)?;
        if !s.contains(':') {
            return Some(s);
        }
        let code = if container {
            Code::NeedBadMount
        } else {
            Code::HostBadPath
        };
        let d = self.error(
            code,
            v.span,
            format!(
                "device path {} contains `:`, which docker and compose read as host:container:permissions",
                tick(&s)
            ),
        );
        d.label = Some("contains `:`".into());
        d.help = Some(
            "point a symlink without `:` at the device (`/dev/berth/disk0` -> `/dev/disk/by-path/...`) and name that"
                .into(),
        );
        None
    }

    // --- documents -----------------------------------------------------------

    fn document(&mut self, root: &Node<'_>, opts: &LoadOptions) -> Outcome {
        if root.is_null() {
            return Outcome::Empty;
        }
        let Some(entries) = root.as_map() else {
            if opts.skip_foreign {
                return Outcome::Skipped;
            }
            self.wrong_type(root, "a berth document", "a map");
            return Outcome::Failed;
        };
        let version = root.get("berth");
        if version.is_none() && opts.skip_foreign {
            return Outcome::Skipped;
        }
        let before = self.errors();
        // Most documents hold no control character anywhere in their text
        // (newlines aside): one byte scan then replaces the walk over every
        // scalar. DEL, 0xc2 (the lead byte of C1 controls) and `\` (escapes
        // in double-quoted scalars) also send the document to the walk, which
        // decides precisely.
        let end = (root.span.offset + root.span.len).min(self.src.text.len());
        let region = self
            .src
            .text
            .as_bytes()
            .get(root.span.offset..end)
            .unwrap_or_default();
        if region
            .iter()
            .any(|&b| (b < 0x20 && b != b'\n') || matches!(b, 0x7f | 0xc2 | b'\\'))
        {
            self.control_characters(root);
        }
        match version {
            None => {
                let at = entries.first().map_or(root.span, |(k, _)| k.span);
                let d = self.error(
                    Code::VersionMissing,
                    Span { len: 0, ..at },
                    "the document has no `berth:` format version",
                );
                d.label = Some("`berth: 1` missing".into());
                d.help = Some("add `berth: 1` as the first line".into());
            }
            Some(v) => match v.scalar() {
                Some(Scalar::Int(n)) if n as u64 == FORMAT_VERSION && n > 0 => {}
                Some(Scalar::Int(n)) => {
                    let d = self.error(
                        Code::VersionUnsupported,
                        v.span,
                        format!("format version {n} is not supported by this berth"),
                    );
                    d.label = Some("unsupported version".into());
                    d.help = Some(format!("this berth reads `berth: {FORMAT_VERSION}`"));
                }
                _ => {
                    self.wrong_type(v, "`berth`", "the format version number");
                    let d = self.diags.last_mut().expect("just pushed");
                    d.help = Some(format!("write `berth: {FORMAT_VERSION}`"));
                }
            },
        }
        let doc = match (root.get("container"), root.get("host")) {
            (Some(_), None) => self.need_spec(root, entries).map(Document::Need),
            (None, Some(_)) => self.host(root, entries).map(Document::Host),
            (c, h) => {
                let (message, help, span) = match (c, h) {
                    (Some(_), Some(_)) => (
                        "the document has both `container:` and `host:`",
                        "a need spec has `container:`, a host manifest has `host:`; put them in separate documents (`---`)",
                        root.span,
                    ),
                    _ => (
                        "the document is neither a need spec nor a host manifest",
                        "add `container: NAME` (a need spec) or `host: NAME` (a host manifest)",
                        Span {
                            len: 0,
                            ..root.span
                        },
                    ),
                };
                let d = self.error(Code::UnknownDocument, span, message);
                d.help = Some(help.into());
                d.label = Some("here".into());
                None
            }
        };
        match doc {
            Some(d) if self.errors() == before => Outcome::Loaded(d),
            _ => Outcome::Failed,
        }
    }

    fn need_spec(&mut self, root: &Node<'_>, entries: &[(Node<'_>, Node<'_>)]) -> Option<NeedSpec> {
        let f = self.fields(
            entries.iter(),
            NEED_SPEC_KEYS,
            Context::Lit("a need spec"),
            &[],
        );
        let name_key = f.key("container")?;
        let name_val = f.get("container")?;
        let container = self.container_name(name_val, "container");
        let image = f.get("image").and_then(|v| self.image(v));
        let placement = match f.get("placement") {
            Some(v) => self.labels(v, "`placement`").unwrap_or_default(),
            None => BTreeMap::new(),
        };
        let mut needs = Vec::new();
        match f.get("needs") {
            None => {}
            Some(v) if v.is_null() => {}
            Some(v) => match v.as_seq() {
                None => self.wrong_type(v, "`needs`", "a list of needs"),
                Some(items) => {
                    needs.reserve(items.len());
                    for item in items {
                        if let Some(n) = self.need(item) {
                            needs.push(n);
                        }
                    }
                }
            },
        }
        self.need_conflicts(&needs);
        let _ = root;
        Some(NeedSpec {
            container: container?,
            image,
            needs,
            placement,
            source: self.src.clone(),
            span: cover(name_key.span, name_val.span),
        })
    }

    fn image(&mut self, v: &Node<'_>) -> Option<String> {
        let s = self.string(v, "`image`")?;
        if s.is_empty() || s.len() > 255 || s.contains(char::is_whitespace) || s.starts_with('-') {
            let d = self.error(
                Code::InvalidValue,
                v.span,
                format!("invalid image {}", tick(s)),
            );
            d.label = Some("invalid image".into());
            d.help = Some(
                "an image reference like `example/web:1.4`: no spaces, not starting with `-`"
                    .into(),
            );
            return None;
        }
        Some(s.to_string())
    }

    fn need_conflicts(&mut self, needs: &[Need]) {
        // The need met last before with the same name (mount path), as a
        // map's insert returns it: a scan back over the handful of needs a
        // container has (no allocation, no hashing), maps beyond that.
        let small = needs.len() <= SEEN_SMALL;
        let mut names: HashMap<(&Kind, &str), Span> = HashMap::new();
        let mut mounts: HashMap<&str, Span> = HashMap::new();
        for (i, n) in needs.iter().enumerate() {
            let before = needs[..i].iter().rev();
            let first = if small {
                before
                    .clone()
                    .find(|p| p.kind == n.kind && p.name == n.name)
                    .map(|p| p.span)
            } else {
                names.insert((&n.kind, &n.name), n.span)
            };
            if let Some(first) = first {
                let d = self.error(
                    Code::NeedDuplicate,
                    n.span,
                    format!("{} `{}` is needed twice", n.kind, n.name),
                );
                d.label = Some("second time".into());
                d.related.push((first, "first time".into()));
                d.help = Some("remove one; a container holds a resource once".into());
            }
            if let Some(m) = n.detail.mount_path() {
                let first = if small {
                    before
                        .clone()
                        .find(|p| p.detail.mount_path() == Some(m))
                        .map(|p| p.span)
                } else {
                    mounts.insert(m, n.span)
                };
                if let Some(first) = first {
                    let d = self.error(
                        Code::NeedMountConflict,
                        n.span,
                        format!("two needs mount at `{m}`"),
                    );
                    d.label = Some("second mount here".into());
                    d.related.push((first, "first mount here".into()));
                    d.help = Some("give each need its own mount path".into());
                }
            }
        }
    }

    /// Splits an entry into its kind key and the rest. Reports zero or two
    /// kind keys and unknown kinds. `options` are all keys that are not kinds.
    fn kind_key<'n, 'a>(
        &mut self,
        node: &'n Node<'a>,
        options: &[&str],
        side: Side,
    ) -> Option<(Kind, &'n Node<'a>, &'n Node<'a>)> {
        let Some(entries) = node.as_map() else {
            self.wrong_type(node, side.entry(), "a map like `- volume: NAME`");
            return None;
        };
        let mut kinds: Vec<&(Node<'a>, Node<'a>)> = entries
            .iter()
            .filter(|(k, _)| k.text().and_then(Kind::from_key).is_some())
            .collect();
        if kinds.len() > 1 {
            // `network` is a kind and also an option of address provides: with
            // `ipv6: x` present, `network: y` is that option.
            let kinds_present: Vec<Kind> = kinds
                .iter()
                .filter_map(|(k, _)| k.text().and_then(Kind::from_key))
                .collect();
            kinds.retain(|(k, _)| {
                let key = k.text().unwrap_or_default();
                !kinds_present
                    .iter()
                    .any(|other| other.as_str() != key && side.options(other).contains(&key))
            });
        }
        let (unknown_kind, count) = side.codes();
        match kinds.as_slice() {
            [] => {
                let strangers: Vec<&Node<'a>> = entries
                    .iter()
                    .map(|(k, _)| k)
                    .filter(|k| k.text().is_some_and(|t| !options.contains(&t)))
                    .collect();
                if strangers.is_empty() {
                    let d = self.error(
                        count,
                        Span {
                            len: 0,
                            ..node.span
                        },
                        format!("{} has no kind key", side.entry()),
                    );
                    d.label = Some("no kind here".into());
                    d.help = Some(format!(
                        "start the entry with its kind and name, e.g. `- volume: NAME`; kinds: {}, or a custom `vendor.tld/class`",
                        KIND_WORDS.join(", ")
                    ));
                }
                for k in strangers {
                    let t = k.text().unwrap_or_default();
                    if t.chars().any(char::is_control) {
                        continue;
                    }
                    let d = self.error(unknown_kind, k.span, format!("unknown kind {}", tick(t)));
                    d.label = Some("not a kind".into());
                    d.help = Some(match suggest(t, &KIND_WORDS) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!(
                            "the kinds are {}, or a custom kind `vendor.tld/class`",
                            KIND_WORDS.join(", ")
                        ),
                    });
                }
                None
            }
            [(k, v)] => {
                let key = k.text().unwrap_or_default();
                if key.contains('/') && !is_custom_kind(key) {
                    let d = self.error(
                        Code::InvalidKind,
                        k.span,
                        format!("invalid custom kind {}", tick(key)),
                    );
                    d.label = Some("not `vendor.tld/class`".into());
                    d.help = Some("a custom kind is a lowercase domain, `/`, and a class, like `example.com/gpu`".into());
                    return None;
                }
                Some((Kind::from_key(key)?, k, v))
            }
            [(first, _), (second, _), ..] => {
                let d = self.error(
                    count,
                    second.span,
                    format!(
                        "{} has two kind keys, `{}` and `{}`",
                        side.entry(),
                        first.text().unwrap_or_default(),
                        second.text().unwrap_or_default()
                    ),
                );
                d.label = Some("second kind key".into());
                d.related.push((first.span, "first kind key".into()));
                d.help = Some("each entry has exactly one kind: split it into two entries".into());
                None
            }
        }
    }

    fn need(&mut self, node: &Node<'_>) -> Option<Need> {
        let (kind, k, v) = self.kind_key(node, &ALL_NEED_OPTIONS, Side::Need)?;
        let entries = node.as_map()?;
        let context = Context::Need(&kind);
        let key_text = k.text().unwrap_or_default();
        let f = self.fields(entries.iter(), need_options(&kind), context, &[key_text]);
        let name = self.resource_name(v, &kind);
        let span = cover(k.span, v.span);
        let detail = self.need_detail(&kind, &f, span, context);
        Some(Need {
            kind,
            name: name?,
            detail: detail?,
            span,
        })
    }

    // --- host ----------------------------------------------------------------

    fn host(&mut self, _root: &Node<'_>, entries: &[(Node<'_>, Node<'_>)]) -> Option<HostManifest> {
        let f = self.fields(
            entries.iter(),
            HOST_KEYS,
            Context::Lit("a host manifest"),
            &[],
        );
        let name_key = f.key("host")?;
        let name_val = f.get("host")?;
        let host = self.container_name(name_val, "host");
        let mut unbuilt = validate::Unbuilt::default();
        let labels = match f.get("labels") {
            Some(v) => self.labels(v, "`labels`").unwrap_or_default(),
            None => BTreeMap::new(),
        };
        let state_dir = f
            .get("state_dir")
            .and_then(|v| self.path(v, "`state_dir`", false))
            .map(PathBuf::from);
        let mut spans = FieldSpans::default();
        let mut provides = Vec::new();
        if let Some(items) = self.entry_list(f.get("provides"), "`provides`") {
            provides.reserve(items.len());
            for item in items {
                let mark = self.diags.len();
                let built = self.provide(item, provides.len(), &mut spans);
                match (built, self.errors_since(mark)) {
                    (Some(p), EntryErrors::None) => provides.push(p),
                    (Some(p), EntryErrors::UnknownKeys) => {
                        unbuilt.incomplete.insert(provides.len());
                        provides.push(p);
                    }
                    _ => {
                        // `ALL_PROVIDE_OPTIONS` includes `allow`.
                        spans.forget(provides.len(), ALL_PROVIDE_OPTIONS.iter().copied());
                        self.note_unbuilt(item, Side::Provide, &mut unbuilt);
                    }
                }
            }
        }
        let mut providers = Vec::new();
        let provider_list = f.get("providers");
        match self.entry_list(provider_list, "`providers`") {
            Some(items) => {
                for item in items {
                    let mark = self.diags.len();
                    match self.provider(item) {
                        Some(p) if self.errors_since(mark) != EntryErrors::Others => {
                            providers.push(p)
                        }
                        _ => self.note_unbuilt(item, Side::Provider, &mut unbuilt),
                    }
                }
            }
            None => unbuilt.any_network |= provider_list.is_some_and(|v| !v.is_null()),
        }
        // The semantic checks run over the entries that built, whatever else
        // failed, so one run reports every problem. An entry with an error
        // in a value is left out and `unbuilt` keeps the checks from blaming
        // a good entry for it; one whose only errors are unknown keys is
        // checked, but not for a key being absent (a misspelt `subnet_4:`
        // beside `gateway4:` is not also "a gateway without a subnet").
        let manifest = HostManifest {
            host: host.clone().unwrap_or_default(),
            labels,
            state_dir,
            provides,
            providers,
            source: self.src.clone(),
            span: cover(name_key.span, name_val.span),
        };
        self.diags
            .extend(validate::validate_partial_host(&manifest, &spans, &unbuilt));
        host.map(|_| manifest)
    }

    /// Records which networks a provide or provider that failed to load might
    /// have declared. Its kind is read again on a scratch context, so the
    /// entry's diagnostics are not repeated.
    fn note_unbuilt(&self, item: &Node<'_>, side: Side, unbuilt: &mut validate::Unbuilt) {
        let options: &[&str] = match side {
            Side::Provider => PROVIDER_KEYS,
            _ => &ALL_PROVIDE_OPTIONS,
        };
        match Cx::new(self.src).kind_key(item, options, side) {
            Some((kind, _, name)) if kind.is_network() => match (side, name.text()) {
                (Side::Provide, Some(n)) => {
                    unbuilt.networks.insert(n.to_string());
                }
                // A provider's pattern may match any name.
                _ => unbuilt.any_network = true,
            },
            Some(_) => {}
            // An entry of unknown kind may be a misspelt network.
            None => unbuilt.any_network = true,
        }
    }

    fn entry_list<'n, 'a>(
        &mut self,
        v: Option<&'n Node<'a>>,
        what: &str,
    ) -> Option<&'n [Node<'a>]> {
        let v = v?;
        if v.is_null() {
            return None;
        }
        let items = v.as_seq();
        if items.is_none() {
            self.wrong_type(v, what, "a list");
        }
        items
    }

    fn provide(
        &mut self,
        node: &Node<'_>,
        index: usize,
        spans: &mut FieldSpans,
    ) -> Option<Provide> {
        let (kind, k, v) = self.kind_key(node, &ALL_PROVIDE_OPTIONS, Side::Provide)?;
        let entries = node.as_map()?;
        let context = Context::Provide(&kind, "");
        let key_text = k.text().unwrap_or_default();
        let f = self.fields(
            entries.iter(),
            provide_options_allow(&kind),
            context,
            &[key_text],
        );
        let name = self.name_pattern(v, &kind);
        let span = cover(k.span, v.span);
        let allow = match f.get("allow") {
            None => Some(None),
            Some(a) => self.allow(a).map(Some),
        };
        let detail = self.provide_detail(
            &kind,
            name.as_ref().map_or("", NamePattern::as_str),
            &f,
            span,
            index,
            spans,
        );
        Some(Provide {
            kind,
            name: name?,
            detail: detail?,
            allow: allow?,
            span,
        })
    }

    fn allow(&mut self, v: &Node<'_>) -> Option<Vec<String>> {
        let items = self.string_list(v, "`allow`")?;
        let mut ok = true;
        for (s, span) in &items {
            let pattern = s.strip_prefix("image:").unwrap_or(s);
            if pattern.is_empty() || glob::Pattern::new(pattern).is_err() {
                ok = false;
                let d = self.error(
                    Code::InvalidName,
                    *span,
                    format!("invalid allow pattern {}", tick(s)),
                );
                d.help = Some(
                    "a container name pattern like `web-*`, or `image:PATTERN` for images".into(),
                );
            }
        }
        ok.then(|| items.into_iter().map(|(s, _)| s.to_string()).collect())
    }

    pub(crate) fn net(&mut self, v: &Node<'_>, what: &str, v6: bool) -> Option<IpNet> {
        let s = self.string(v, what)?;
        let family = if v6 { "IPv6" } else { "IPv4" };
        match s.parse::<IpNet>() {
            Ok(n) if matches!(n, IpNet::V6(_)) != v6 => {
                let d = self.error(
                    Code::HostBadAddress,
                    v.span,
                    format!("{what} `{s}` is not {family}"),
                );
                d.label = Some(format!("expected an {family} CIDR"));
                None
            }
            Ok(n) if n.trunc() != n => {
                let d = self.error(
                    Code::HostBadAddress,
                    v.span,
                    format!("{what} `{s}` has bits set after its prefix length"),
                );
                d.label = Some("host bits set".into());
                d.help = Some(format!("did you mean `{}`?", n.trunc()));
                None
            }
            Ok(n) => Some(n),
            Err(_) => {
                let d = self.error(
                    Code::HostBadAddress,
                    v.span,
                    format!("{what} `{}` is not an {family} CIDR", s.escape_debug()),
                );
                d.label = Some(format!("expected an {family} CIDR"));
                d.help = Some(if v6 {
                    "write it like `2001:db8::/64`".into()
                } else {
                    "write it like `192.0.2.0/24`".into()
                });
                None
            }
        }
    }

    /// Exactly one of two keys (`address` / `pool`): which one (0 or 1) and
    /// its value. Both or neither is reported.
    pub(crate) fn one_of<'n, 'a>(
        &mut self,
        f: &Fields<'n, 'a>,
        at: Span,
        context: Context<'_>,
        keys: [&str; 2],
        none_help: &str,
    ) -> Option<(usize, &'n Node<'a>)> {
        match (f.get(keys[0]), f.get(keys[1])) {
            (Some(a), None) => Some((0, a)),
            (None, Some(b)) => Some((1, b)),
            (Some(a), Some(b)) => {
                let first = f.key(keys[0]).map_or(a.span, |k| k.span);
                let d = self.error(
                    Code::ConflictingKeys,
                    f.key(keys[1]).map_or(b.span, |k| k.span),
                    format!("{context} has both `{}` and `{}`", keys[0], keys[1]),
                );
                d.label = Some("second choice".into());
                d.related.push((first, format!("`{}` here", keys[0])));
                d.help =
                    Some("give one of them; a static value and a pool are separate entries".into());
                None
            }
            (None, None) => {
                let d = self.error(
                    Code::MissingKey,
                    at,
                    format!("{context} requires `{}` or `{}`", keys[0], keys[1]),
                );
                d.label = Some(format!("no `{}` here", keys[0]));
                d.help = Some(none_help.into());
                None
            }
        }
    }

    /// The details of a provide of `kind` from its fields (shared by manifest
    /// entries and provider output). `at` is where to point for missing keys.
    fn provide_detail(
        &mut self,
        kind: &Kind,
        name: &str,
        f: &Fields<'_, '_>,
        at: Span,
        index: usize,
        spans: &mut FieldSpans,
    ) -> Option<ProvideDetail> {
        let context = Context::Provide(kind, name);
        for (key, _, v) in &f.items {
            spans.insert(index, key, v.span);
        }
        self.provide_detail_of(kind, f, at, context)
    }

    fn provider(&mut self, node: &Node<'_>) -> Option<ProviderDecl> {
        let (kind, k, v) = self.kind_key(node, PROVIDER_KEYS, Side::Provider)?;
        let entries = node.as_map()?;
        let key_text = k.text().unwrap_or_default();
        let context = Context::Provider(&kind);
        let f = self.fields(entries.iter(), PROVIDER_KEYS, context, &[key_text]);
        let pattern = self.name_pattern(v, &kind);
        let span = cover(k.span, v.span);
        let run = match f.get("run") {
            None => {
                self.missing(span, context, "run", "[./script, --flag]");
                None
            }
            Some(r) => match self.string_list(r, "`run`") {
                None => None,
                Some(items) if items.first().is_none_or(|(s, _)| s.is_empty()) => {
                    let d = self.error(
                        Code::HostEmptyRun,
                        r.span,
                        format!("{context} has an empty `run`"),
                    );
                    d.label = Some("nothing to run".into());
                    d.help = Some("give the program and its arguments, like `run: [./make-volume, --base, /srv]`".into());
                    None
                }
                Some(items) => Some(items.into_iter().map(|(s, _)| s.to_string()).collect()),
            },
        };
        let timeout = match f.get("timeout") {
            None => Some(DEFAULT_PROVIDER_TIMEOUT),
            Some(t) => {
                let parsed = match t.scalar() {
                    Some(Scalar::Str(s)) => parse_timeout(s),
                    _ => None,
                };
                if parsed.is_none() {
                    let shown = t.text().unwrap_or("(not a scalar)");
                    let d = self.error(
                        Code::HostBadTimeout,
                        t.span,
                        format!("timeout `{}` does not parse", shown.escape_debug()),
                    );
                    d.label = Some("expected a duration".into());
                    d.help = Some(match t.scalar() {
                        Some(Scalar::Int(n)) => format!("add a unit: `{n}s`"),
                        _ => "write a whole number with a unit: `500ms`, `30s`, `2m`, `1h` (at most 24h)".into(),
                    });
                }
                parsed
            }
        };
        let allow = match f.get("allow") {
            None => Some(None),
            Some(a) => self.allow(a).map(Some),
        };
        let env = match f.get("env") {
            None => Some(Vec::new()),
            Some(e) => self.string_list(e, "`env`").and_then(|items| {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (text, at) in items {
                    match ProviderEnv::parse(text) {
                        Ok(entry) => out.push(entry),
                        Err(why) => {
                            ok = false;
                            let d = self.error(Code::InvalidValue, at, format!("`env` entry {why}"));
                            d.label = Some("not NAME or NAME=value".into());
                            d.help = Some("list variables to pass through (`DOCKER_HOST`) or to set (`CONTAINERS_CONF=/etc/berth/containers.conf`)".into());
                        }
                    }
                }
                ok.then_some(out)
            }),
        };
        Some(ProviderDecl {
            kind,
            pattern: pattern?,
            run: run?,
            timeout: timeout?,
            allow: allow?,
            env: env?,
            span,
        })
    }
}

/// The errors of one entry, for deciding what the semantic checks may see.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EntryErrors {
    None,
    /// Only unknown keys: every value that was read is good.
    UnknownKeys,
    Others,
}

#[derive(Clone, Copy)]
enum Side {
    Need,
    Provide,
    Provider,
}

impl Side {
    fn entry(self) -> &'static str {
        match self {
            Side::Need => "a need",
            Side::Provide => "a provide",
            Side::Provider => "a provider",
        }
    }
    fn options(self, kind: &Kind) -> &'static [&'static str] {
        match self {
            Side::Need => need_options(kind),
            Side::Provide => provide_options(kind),
            Side::Provider => PROVIDER_KEYS,
        }
    }
    fn codes(self) -> (Code, Code) {
        match self {
            Side::Need => (Code::NeedUnknownKind, Code::NeedKindCount),
            Side::Provide | Side::Provider => (Code::HostUnknownKind, Code::HostKindCount),
        }
    }
}
