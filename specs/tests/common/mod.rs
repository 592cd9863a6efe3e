//! Helpers shared by the specs tests: a small deterministic text renderer for
//! diagnostics (the CLI renders with miette; snapshots here must not depend on
//! terminal width or colour).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use berth_specs::{Diagnostic, Severity};

/// Every bundled example file (`specs/examples/**/*.yaml`), sorted.
pub fn examples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Renders a diagnostic as compiler-style text: header, location, the source
/// line with carets under the span, related places and help.
pub fn render(d: &Diagnostic) -> String {
    let sev = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut out = format!("{sev}[{}]: {}\n", d.code.as_str(), d.message);
    let Some(src) = &d.source else {
        return out;
    };
    let file = src.path.display();
    let Some(span) = d.span else {
        out.push_str(&format!("  --> {file}\n"));
        return out;
    };
    out.push_str(&format!("  --> {file}:{}:{}\n", span.line, span.col));
    let mut marks = vec![(span, d.label.clone().unwrap_or_else(|| d.message.clone()))];
    marks.extend(d.related.iter().cloned());
    for (s, label) in marks {
        let line_text = src.text.lines().nth(s.line as usize - 1).unwrap_or("");
        let from = s.col as usize - 1;
        let rest = line_text.chars().count().saturating_sub(from);
        let width = src
            .text
            .get(s.offset..s.offset + s.len)
            .map_or(1, |t| t.chars().take_while(|c| *c != '\n').count())
            .clamp(1, rest.max(1));
        out.push_str(&format!("{:>4} | {line_text}\n", s.line));
        out.push_str(&format!(
            "     | {}{} {label}\n",
            " ".repeat(from),
            "^".repeat(width)
        ));
    }
    if let Some(h) = &d.help {
        out.push_str(&format!("     = help: {h}\n"));
    }
    out
}

/// All diagnostics of a load, rendered, in order.
pub fn render_all(diags: &[Diagnostic]) -> String {
    diags.iter().map(render).collect::<Vec<_>>().join("\n")
}
