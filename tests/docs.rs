//! Documentation stays true to the code: every diagnostic code that berth's
//! source can emit is in the code registry (`specs/src/diag.rs`) and listed in
//! `docs/diagnostics.md`, and every page the README links to exists.

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

/// Code literals (`"berth::area::name"`) in one source text.
fn literals_in(text: &str) -> Vec<String> {
    let mut codes = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("\"berth::") {
        let lit = &rest[i + 1..];
        let end = lit
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '-'))
            .unwrap_or(lit.len());
        let code = lit[..end].trim_end_matches(':');
        // Prefixes used to build codes (`"berth::state::"`) end with `::`.
        if !lit[..end].ends_with("::") {
            codes.push(code.to_string());
        }
        rest = &lit[end..];
    }
    codes
}

/// Code literals in the library and CLI sources, each with the file it is in
/// (relative to the repository).
fn code_literals_by_file() -> Vec<(String, String)> {
    let root = repo_root();
    let mut files = Vec::new();
    for crate_dir in ["specs/src", "engine/src", "providers/src", "cli/src"] {
        rust_files(&root.join(crate_dir), &mut files);
    }
    let mut codes = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let rel = file.strip_prefix(&root).unwrap().display().to_string();
        codes.extend(literals_in(&text).into_iter().map(|c| (c, rel.clone())));
    }
    codes
}

/// The distinct code literals of [`code_literals_by_file`].
fn code_literals() -> Vec<String> {
    let mut codes: Vec<String> = code_literals_by_file()
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    codes.sort();
    codes.dedup();
    codes
}

/// `(file, code)` of each literal that the registry does not hold.
fn outside_registry(literals: &[(String, String)]) -> Vec<String> {
    let registry: Vec<&str> = berth_specs::Code::ALL.iter().map(|c| c.as_str()).collect();
    literals
        .iter()
        .filter(|(code, _)| !registry.contains(&code.as_str()))
        .map(|(code, file)| format!("{file}: {code}"))
        .collect()
}

/// The registry is the one definition: a code string written anywhere else
/// in the libraries or the CLI must be one of its codes, so a new code cannot
/// skip the registry (and with it the docs and the uniqueness test).
#[test]
fn every_code_in_the_source_is_in_the_registry() {
    let literals = code_literals_by_file();
    // The registry file is read, so every code is seen at least there.
    let in_registry = literals
        .iter()
        .filter(|(_, f)| f == "specs/src/diag.rs")
        .count();
    assert_eq!(in_registry, berth_specs::Code::ALL.len());
    let outside = outside_registry(&literals);
    assert!(
        outside.is_empty(),
        "codes not in the registry (specs/src/diag.rs): {outside:?}"
    );
}

/// What the registry test catches: a CLI source that writes its own code.
#[test]
fn a_code_written_in_the_cli_outside_the_registry_is_caught() {
    let cli = r#"eprintln!("{:?}", miette::miette!(code = "berth::run::no-engine", "x"));
        let p = Problem { code: "berth::cli::made-up", message };"#;
    let literals: Vec<(String, String)> = literals_in(cli)
        .into_iter()
        .map(|c| (c, "cli/src/cmd/run.rs".to_string()))
        .collect();
    assert_eq!(literals.len(), 2);
    assert_eq!(
        outside_registry(&literals),
        ["cli/src/cmd/run.rs: berth::cli::made-up"]
    );
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
