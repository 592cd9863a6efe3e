//! Rendering of library diagnostics: `berth_specs::Diagnostic` (plain data) into
//! miette reports for people and into JSON objects for tools.
//!
//! The library never formats; this is the one place that decides how a
//! diagnostic looks. What must stay true: the JSON keys (`code`, `severity`,
//! `file`, `line`, `column`, `message`, `help`) are an interface CI scripts rely
//! on, and output is deterministic (no colour, no terminal links, fixed width)
//! whenever `NO_COLOR` is set or stderr is not a terminal, so tests can snapshot it.

use std::fmt;
use std::io::IsTerminal;
use std::sync::{Arc, Once};

use berth_specs::{Diagnostic, Severity, Source};
use miette::{LabeledSpan, MietteHandlerOpts, NamedSource, SourceSpan};

/// Installs berth's miette hook once: deterministic output when `NO_COLOR` is
/// set or stderr is not a terminal, miette's fancy defaults otherwise.
pub fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let plain = std::env::var_os("NO_COLOR").is_some() || !std::io::stderr().is_terminal();
        // An error here means someone installed a hook first; theirs stays.
        let _ = miette::set_hook(Box::new(move |_| {
            let opts = MietteHandlerOpts::new().context_lines(1);
            let opts = if plain {
                opts.color(false)
                    .unicode(true)
                    .terminal_links(false)
                    .width(100)
                    .force_graphical(true)
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
    source: Option<NamedSource<Arc<str>>>,
    labels: Vec<LabeledSpan>,
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

fn display_path(source: &Source) -> String {
    source.path.display().to_string()
}

/// A miette report for one diagnostic: the file's text as a named source, the
/// labelled span, related places as further labels, help, code and severity.
pub fn report(d: &Diagnostic) -> miette::Report {
    install_hook();
    let mut labels = Vec::new();
    let source = d.source.as_ref().map(|s| {
        if let Some(span) = d.span {
            let label = d.label.clone().unwrap_or_else(|| d.message.clone());
            labels.push(LabeledSpan::new_primary_with_span(
                Some(label),
                source_span(&s.text, span),
            ));
            for (span, label) in &d.related {
                labels.push(LabeledSpan::new_with_span(
                    Some(label.clone()),
                    source_span(&s.text, *span),
                ));
            }
        }
        NamedSource::new(display_path(s), s.text.clone()).with_language("yaml")
    });
    // A snippet of a minified JSON fleet would be one line of megabytes: such
    // lines are named by file:line:column instead of shown.
    let too_long = match (&d.source, d.span) {
        (Some(s), Some(span)) => line_len(&s.text, span.offset) > MAX_SNIPPET_LINE,
        _ => false,
    };
    let (source, labels) = if too_long {
        (None, Vec::new())
    } else {
        (source, labels)
    };
    let message = match (&d.source, d.span) {
        // Without a snippet the file name would be lost: put it in the message.
        (Some(s), None) => format!("{}: {}", display_path(s), d.message),
        (Some(s), Some(span)) if too_long => format!(
            "{}:{}:{}: {}",
            display_path(s),
            span.line,
            span.col,
            d.message
        ),
        _ => d.message.clone(),
    };
    miette::Report::new(Rendered {
        code: d.code.as_str(),
        severity: match d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        },
        message,
        help: d.help.clone(),
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

/// One diagnostic as data for tools: `code`, `severity`, `file`, `line`,
/// `column`, `message`, `help` (null when absent), plus `label` and `related`.
pub fn diagnostic_json(d: &Diagnostic) -> serde_json::Value {
    serde_json::json!({
        "code": d.code.as_str(),
        "severity": d.severity,
        "file": d.source.as_ref().map(|s| display_path(s)),
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
