//! Rendering of library diagnostics: `berth_specs::Diagnostic` (plain data) into
//! miette reports for people and into JSON objects for tools.
//!
//! The library never formats; this is the one place that decides how a
//! diagnostic looks. What must stay true: the JSON keys (`code`, `severity`,
//! `file`, `line`, `column`, `message`, `help`) are an interface CI scripts rely
//! on, and output is deterministic (no colour, no terminal links, fixed width)
//! whenever `NO_COLOR` is set or stderr is not a terminal, so tests can snapshot it.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once, OnceLock};

use crate::args::Color;
use berth_specs::diag::{Capped, FileOmitted};
use berth_specs::{Code, Diagnostic, Severity, Source};
use miette::{
    LabeledSpan, MietteError, MietteHandlerOpts, MietteSpanContents, NamedSource, SourceCode,
    SourceSpan, SpanContents,
};

/// `--color`, set once by `main` before the hook is installed.
static COLOR: OnceLock<Color> = OnceLock::new();

/// Records `--color` for [`install_hook`]; call before it.
pub fn set_color(color: Color) {
    let _ = COLOR.set(color);
}

/// Installs berth's miette hook once: deterministic output under
/// `--color never`, or under `auto` when `NO_COLOR` is set or stderr is not
/// a terminal; miette's fancy defaults otherwise (`--color always` forces
/// them, colour included, into a pipe).
pub fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let color = COLOR.get().copied().unwrap_or_default();
        let plain = match color {
            Color::Never => true,
            Color::Always => false,
            Color::Auto => {
                std::env::var_os("NO_COLOR").is_some() || !std::io::stderr().is_terminal()
            }
        };
        // An error here means someone installed a hook first; theirs stays.
        let _ = miette::set_hook(Box::new(move |_| {
            let opts = MietteHandlerOpts::new().context_lines(1);
            let opts = if plain {
                opts.color(false)
                    .unicode(true)
                    .terminal_links(false)
                    .width(100)
                    .force_graphical(true)
            } else if color == Color::Always {
                opts.color(true).force_graphical(true)
            } else {
                opts
            };
            Box::new(opts.build())
        }));
    });
}

/// The miette view of one diagnostic.
struct Rendered {
    code: &'static str,
    severity: miette::Severity,
    message: String,
    help: Option<String>,
    source: Option<NamedSource<Window>>,
    labels: Vec<LabeledSpan>,
}

/// The part of a file a snippet can show: whole lines around the labels.
///
/// miette's `SourceCode` for a plain string counts lines from the start of the
/// file on every render, which costs ~100 ms per diagnostic in a 20 MB fleet file
/// (a file with hundreds of mistakes took most of a minute). berth already knows
/// each span's line, so the window starts at a known line and rendering costs
/// only the window's size, whatever the file's.
struct Window {
    /// Holds the window's text at `data_lo..data_hi`: the file itself, or a
    /// copy of the window with its control characters escaped.
    text: Arc<str>,
    data_lo: usize,
    data_hi: usize,
    /// Offset in the file where the window starts. Spans given to miette are
    /// file offsets moved by [`Window::shift`] when the copy is escaped.
    start: usize,
    /// 0-based line number of `start`.
    first_line: usize,
    /// For an escaped copy: `(file offset of an escaped character, bytes
    /// added by the escapes up to and including it)`, in order.
    shifts: Vec<(usize, usize)>,
}

/// Lines of context kept around the labels (miette shows one).
const WINDOW_LINES: usize = 4;

/// Labels further than this from the primary span are named in the help
/// instead of shown, so a window stays small.
const MAX_WINDOW: usize = 64 * 1024;

impl Window {
    /// Whole lines covering `lo..hi` plus [`WINDOW_LINES`] each side; `lo_line`
    /// is the 1-based line holding `lo`.
    fn around(text: &Arc<str>, lo: usize, hi: usize, lo_line: u32) -> Window {
        let bytes = text.as_bytes();
        let lo = lo.min(bytes.len());
        let hi = hi.clamp(lo, bytes.len());
        // Back to the start of lo's line, then WINDOW_LINES more lines.
        let line_start = |at: usize| {
            bytes[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
        };
        let mut start = line_start(lo);
        let mut back = 0usize;
        while back < WINDOW_LINES && start > 0 {
            start = line_start(start - 1);
            back += 1;
        }
        let mut end = hi;
        for _ in 0..=WINDOW_LINES {
            match bytes[end..].iter().position(|&b| b == b'\n') {
                Some(i) => end += i + 1,
                None => {
                    end = bytes.len();
                    break;
                }
            }
        }
        let first_line = (lo_line as usize).saturating_sub(1).saturating_sub(back);
        let raw = &text[start..end];
        // A snippet shows the file's own bytes: a raw escape in it (the
        // loader reports these) would reach the terminal. Escape them in a
        // copy, and keep the spans pointing at the same characters.
        let bad = |(i, c): (usize, char)| {
            unsafe_for_terminal(c) && c != '\n' && c != '\t' && !raw[i..].starts_with("\r\n")
        };
        if !raw.char_indices().any(bad) {
            return Window {
                text: text.clone(),
                data_lo: start,
                data_hi: end,
                start,
                first_line,
                shifts: Vec::new(),
            };
        }
        let mut copy = String::with_capacity(raw.len() + 16);
        let mut shifts = Vec::new();
        for (i, c) in raw.char_indices() {
            if bad((i, c)) {
                let escaped = escape(&raw[i..i + c.len_utf8()]).into_owned();
                let added = escaped.len() - c.len_utf8();
                let total = shifts.last().map_or(0, |&(_, t)| t) + added;
                shifts.push((start + i, total));
                copy.push_str(&escaped);
            } else {
                copy.push(c);
            }
        }
        let len = copy.len();
        Window {
            text: Arc::from(copy),
            data_lo: 0,
            data_hi: len,
            start,
            first_line,
            shifts,
        }
    }

    /// Where file offset `off` is in the window's (maybe escaped) text, as
    /// the offset miette is given.
    fn shift(&self, off: usize) -> usize {
        let before = self.shifts.partition_point(|&(at, _)| at < off);
        off + before.checked_sub(1).map_or(0, |i| self.shifts[i].1)
    }

    /// `label` with its span moved by [`Window::shift`].
    fn shift_label(&self, label: &LabeledSpan) -> LabeledSpan {
        let lo = self.shift(label.offset());
        let hi = self.shift(label.offset() + label.len());
        let span = SourceSpan::new(lo.into(), hi - lo);
        let text = label.label().map(str::to_string);
        if label.primary() {
            LabeledSpan::new_primary_with_span(text, span)
        } else {
            LabeledSpan::new_with_span(text, span)
        }
    }
}

impl SourceCode for Window {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let end = self.start + (self.data_hi - self.data_lo);
        if span.offset() < self.start || span.offset() + span.len() > end {
            return Err(MietteError::OutOfBounds);
        }
        let local = SourceSpan::new((span.offset() - self.start).into(), span.len());
        let window: &'a str = &self.text[self.data_lo..self.data_hi];
        let inner = window.read_span(&local, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new(
            inner.data(),
            SourceSpan::new(
                (inner.span().offset() + self.start).into(),
                inner.span().len(),
            ),
            inner.line() + self.first_line,
            inner.column(),
            inner.line_count(),
        )))
    }
}

impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rendered {}

impl miette::Diagnostic for Rendered {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
}

/// Clamps a span to the text so that a slightly-off span never makes miette
/// fail to render the snippet.
fn source_span(text: &str, span: berth_specs::Span) -> SourceSpan {
    let offset = span.offset.min(text.len());
    let len = span.len.min(text.len() - offset);
    SourceSpan::new(offset.into(), len)
}

/// Longest source line shown as a snippet, in bytes.
const MAX_SNIPPET_LINE: usize = 1000;

/// Length of the line holding byte `offset`.
fn line_len(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    let bytes = text.as_bytes();
    let start = bytes[..offset]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let end = bytes[offset..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |i| offset + i);
    end - start
}

/// Whether `c` must not reach a terminal raw: C0 and C1 controls and DEL
/// (colour, cursor and title escapes, carriage returns that overwrite a line)
/// and the bidirectional overrides that reorder what is shown.
fn unsafe_for_terminal(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape_with(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let bad = |c: char| unsafe_for_terminal(c) && !(keep_newlines && c == '\n');
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if !bad(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// `s` as people may see it on a terminal: every control character (newline
/// included) and bidi override as a visible escape (`\x1b`, `\n`, `\u{202e}`),
/// so a file or name cannot colour, move or rewrite berth's output. For names
/// and paths; JSON output keeps the raw text (JSON escapes it itself).
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_with(s, false)
}

/// As [`escape`], but newlines stay: for messages and help made of lines.
pub fn escape_lines(s: &str) -> Cow<'_, str> {
    escape_with(s, true)
}

/// A path for people: [`escape`]d.
pub fn path(p: &Path) -> String {
    escape(&p.to_string_lossy()).into_owned()
}

/// The source's path for people (escaped).
fn display_path(source: &Source) -> String {
    path(&source.path)
}

/// A miette report for one diagnostic: the file's text as a named source, the
/// labelled span, related places as further labels, help, code and severity.
pub fn report(d: &Diagnostic) -> miette::Report {
    install_hook();
    // A snippet of a minified JSON fleet would be one line of megabytes: such
    // lines are named by file:line:column instead of shown (and no window is
    // cut from them).
    let too_long = match (&d.source, d.span) {
        (Some(s), Some(span)) => line_len(&s.text, span.offset) > MAX_SNIPPET_LINE,
        _ => false,
    };
    let mut labels = Vec::new();
    let mut far = Vec::new();
    let source = match (&d.source, d.span) {
        (Some(s), Some(span)) => {
            let label = escape_lines(d.label.as_deref().unwrap_or(&d.message)).into_owned();
            let primary = source_span(&s.text, span);
            labels.push(LabeledSpan::new_primary_with_span(Some(label), primary));
            let (mut lo, mut hi, mut lo_line) = (
                primary.offset(),
                primary.offset() + primary.len(),
                span.line,
            );
            for (rel, label) in &d.related {
                let r = source_span(&s.text, *rel);
                if r.offset().abs_diff(primary.offset()) > MAX_WINDOW {
                    far.push(format!("line {}: {}", rel.line, escape_lines(label)));
                    continue;
                }
                labels.push(LabeledSpan::new_with_span(
                    Some(escape_lines(label).into_owned()),
                    r,
                ));
                if r.offset() < lo {
                    lo = r.offset();
                    lo_line = rel.line;
                }
                hi = hi.max(r.offset() + r.len());
            }
            if too_long {
                labels.clear();
                None
            } else {
                let window = Window::around(&s.text, lo, hi, lo_line);
                labels = labels.iter().map(|l| window.shift_label(l)).collect();
                Some(NamedSource::new(display_path(s), window).with_language("yaml"))
            }
        }
        _ => None,
    };
    let own_help = d.help.as_deref().map(|h| escape_lines(h).into_owned());
    let help = match (&own_help, far.is_empty()) {
        (help, true) => help.clone(),
        (Some(h), false) => Some(format!("{h}\n{}", far.join("\n"))),
        (None, false) => Some(far.join("\n")),
    };
    let own = escape_lines(&d.message);
    let message = match (&d.source, d.span) {
        // Without a snippet the file name would be lost: put it in the message.
        (Some(s), None) => format!("{}: {own}", display_path(s)),
        (Some(s), Some(span)) if too_long => {
            format!("{}:{}:{}: {own}", display_path(s), span.line, span.col)
        }
        _ => own.into_owned(),
    };
    miette::Report::new(Rendered {
        code: d.code.as_str(),
        severity: match d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        },
        message,
        help,
        source,
        labels,
    })
}

/// Renders one diagnostic as text (what [`print_diagnostics`] writes).
pub fn render_text(d: &Diagnostic) -> String {
    format!("{:?}", report(d))
}

/// Prints every diagnostic to stderr, in order.
pub fn print_diagnostics(diags: &[Diagnostic]) {
    use std::io::Write;
    let stderr = std::io::stderr();
    let mut out = stderr.lock();
    for d in diags {
        let _ = writeln!(out, "{}", render_text(d));
    }
}

/// Prints a capped list to stderr: the diagnostics kept, then one line per
/// file saying how many more were found there and left out.
pub fn print_capped(list: &Capped) {
    print_diagnostics(list.kept());
    for line in omitted_lines(list.omitted()) {
        eprintln!("{line}");
    }
}

/// `... and 399,900 more diagnostics in FILE (399,900 errors)`, one line
/// per file with diagnostics left out by a cap.
pub fn omitted_lines(omitted: &[FileOmitted]) -> Vec<String> {
    omitted
        .iter()
        .filter(|f| f.omitted.total() > 0)
        .map(|f| {
            let n = f.omitted;
            let mut kinds = Vec::new();
            if n.errors > 0 {
                kinds.push(count(n.errors, "error"));
            }
            if n.warnings > 0 {
                kinds.push(count(n.warnings, "warning"));
            }
            let place = match &f.file {
                Some(file) => format!(" in {}", path(file)),
                None => String::new(),
            };
            format!(
                "... and {} more diagnostic{}{place} ({}), not shown",
                thousands(n.total()),
                if n.total() == 1 { "" } else { "s" },
                kinds.join(", ")
            )
        })
        .collect()
}

/// `n word(s)` with thousands separators.
fn count(n: usize, word: &str) -> String {
    format!("{} {word}{}", thousands(n), if n == 1 { "" } else { "s" })
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The JSON fields a capped list adds to a report: `omitted` (how many
/// diagnostics were found but left out of `diagnostics`) and
/// `omitted_files` (per file: `file`, `omitted`, `errors`, `warnings`).
pub fn omitted_json(list: &Capped) -> [(&'static str, serde_json::Value); 2] {
    let files: Vec<serde_json::Value> = list
        .omitted()
        .iter()
        .map(|f| {
            serde_json::json!({
                "file": f.file.as_ref().map(|p| p.display().to_string()),
                "omitted": f.omitted.total(),
                "errors": f.omitted.errors,
                "warnings": f.omitted.warnings,
            })
        })
        .collect();
    [
        ("omitted", list.omitted_total().total().into()),
        ("omitted_files", serde_json::Value::Array(files)),
    ]
}

/// `{"diagnostics": [...], "omitted": N, "omitted_files": [...]}`: a capped
/// list as the one JSON document of a failed run.
pub fn capped_json(list: &Capped) -> serde_json::Value {
    let mut v = serde_json::Map::new();
    let diags = list.kept().iter().map(diagnostic_json).collect();
    v.insert("diagnostics".to_string(), serde_json::Value::Array(diags));
    for (key, value) in omitted_json(list) {
        v.insert(key.to_string(), value);
    }
    serde_json::Value::Object(v)
}

/// A problem the CLI finds itself (not the loader): a stable code, a message,
/// maybe help and the file it is about; no span, so no snippet.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Stable code, from the registry (`berth_specs::Code`).
    pub code: Code,
    /// What is wrong (without the file name).
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// The file it is about.
    pub file: Option<PathBuf>,
}

impl Problem {
    /// As a miette report on stderr: `file: message`.
    pub fn print(&self) {
        install_hook();
        let own = escape_lines(&self.message);
        let message = match &self.file {
            Some(f) => format!("{}: {own}", path(f)),
            None => own.into_owned(),
        };
        let report = match &self.help {
            Some(h) => miette::miette!(
                code = self.code.as_str(),
                help = escape_lines(h).into_owned(),
                "{message}"
            ),
            None => miette::miette!(code = self.code.as_str(), "{message}"),
        };
        eprintln!("{report:?}");
    }

    /// With the keys of [`diagnostic_json`] (`line`, `column` null).
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code.as_str(),
            "severity": "error",
            "file": self.file.as_ref().map(|f| f.display().to_string()),
            "line": null,
            "column": null,
            "message": self.message,
            "help": self.help,
            "label": null,
            "related": [],
        })
    }
}

/// One diagnostic as data for tools: `code`, `severity`, `file`, `line`,
/// `column`, `message`, `help` (null when absent), plus `label` and `related`.
pub fn diagnostic_json(d: &Diagnostic) -> serde_json::Value {
    serde_json::json!({
        "code": d.code.as_str(),
        "severity": d.severity,
        "file": d.source.as_ref().map(|s| s.path.display().to_string()),
        "line": d.span.map(|s| s.line),
        "column": d.span.map(|s| s.col),
        "message": d.message,
        "help": d.help,
        "label": d.label,
        "related": d.related.iter().map(|(s, l)| serde_json::json!({
            "line": s.line,
            "column": s.col,
            "label": l,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::{escape, escape_lines, thousands};

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(399_900), "399,900");
        assert_eq!(thousands(12_345_678), "12,345,678");
    }

    #[test]
    fn control_characters_reach_the_terminal_raw() {
        assert_eq!(escape("plain/path.yaml"), "plain/path.yaml");
        assert_eq!(
            escape("evil\u{1b}[31mRED\nline\r\t\u{7f}.yaml"),
            "evil\\x1b[31mRED\\nline\\r\\t\\x7f.yaml"
        );
        assert_eq!(escape("a\u{9b}b\u{202e}c"), "a\\u{9b}b\\u{202e}c");
        assert_eq!(escape_lines("one\ntwo\u{1b}"), "one\ntwo\\x1b");
        // Non-ASCII text that is not a control stays readable.
        assert_eq!(escape("données/日本.yaml"), "données/日本.yaml");
    }
}
