//! Documentation stays true to the code: every diagnostic code that berth's
//! source can emit is listed in `docs/diagnostics.md`, and every page the README
//! links to exists.

use std::path::Path;

use crate::util::repo_root;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Code literals (`"berth::area::name"`) in the library and CLI sources.
fn code_literals() -> Vec<String> {
    let root = repo_root();
    let mut files = Vec::new();
    for crate_dir in ["specs/src", "engine/src", "providers/src", "cli/src"] {
        rust_files(&root.join(crate_dir), &mut files);
    }
    let mut codes = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("\"berth::") {
            let lit = &rest[i + 1..];
            let end = lit
                .find(|c: char| {
                    !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '-')
                })
                .unwrap_or(lit.len());
            let code = lit[..end].trim_end_matches(':');
            // Prefixes used to build codes (`"berth::state::"`) end with `::`.
            if !lit[..end].ends_with("::") {
                codes.push(code.to_string());
            }
            rest = &lit[end..];
        }
    }
    codes.sort();
    codes.dedup();
    codes
}

#[test]
fn every_code_in_the_source_is_in_diagnostics_md() {
    let doc = std::fs::read_to_string(repo_root().join("docs/diagnostics.md")).unwrap();
    let codes = code_literals();
    assert!(
        codes.len() > 40,
        "found only {} codes: {codes:?}",
        codes.len()
    );
    let missing: Vec<&String> = codes
        .iter()
        .filter(|c| !doc.contains(&format!("`{c}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in docs/diagnostics.md: {missing:?}"
    );
}

#[test]
fn readme_links_resolve() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut rest = readme.as_str();
    let mut n = 0;
    while let Some(i) = rest.find("](") {
        let link = &rest[i + 2..];
        let end = link.find(')').unwrap();
        let target = &link[..end];
        if !target.starts_with("http") {
            assert!(
                root.join(target).exists(),
                "README links to missing {target}"
            );
            n += 1;
        }
        rest = &link[end..];
    }
    assert!(n >= 10, "only {n} local links found in README.md");
}
