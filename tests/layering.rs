//! Layering: no module of berth's crates imports a module that imports it
//! back, directly or through others (`cmd/apply.rs` -> `cmd/plan.rs` ->
//! `cmd/apply.rs` was one such circle). A circle means neither module can be
//! understood, tested or moved without the other; this test keeps them out.
//!
//! The graph is read from the sources, not from rustc: every path that starts
//! with `crate::`, `super::` or `self::` (`use` lines and inline paths alike,
//! `{...}` groups expanded), and every `child::` path of a module declared with
//! `mod child;`, is an edge to the deepest module the path names. The crate
//! root (`lib.rs`, `main.rs`) is a facade of declarations and re-exports: a
//! path to one of its re-exports (`crate::Code`) is followed to the module that
//! defines it, and its own `pub use` lines are not edges. Comments and
//! `#[cfg(test)] mod tests` blocks are not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::util::repo_root;

/// A module of one crate: `""` for the root, `cmd::apply` for `cmd/apply.rs`.
type Module = String;

struct Crate {
    name: &'static str,
    /// Module -> its source text (comments and test modules removed).
    modules: BTreeMap<Module, String>,
    /// Item re-exported by the root -> the module that defines it; `*` for a
    /// glob re-export.
    reexports: BTreeMap<String, Module>,
}

fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [root] if root == "lib" || root == "main" => String::new(),
        [.., last] if last == "mod" => parts[..parts.len() - 1].join("::"),
        _ => parts.join("::"),
    }
}

/// The text without `//` comments (doc comments included) and without the
/// trailing `#[cfg(test)] mod tests` block.
fn code_only(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|n| n.trim_start().starts_with("mod tests"))
        {
            break;
        }
        let code = match line.find("//") {
            // A `//` inside a string ("https://...") cuts the line short; no
            // module path ever follows one on the same line in berth.
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path that starts at `start` in `text` (just after `crate::` or
/// similar), as segment lists, `{a, b::c}` groups expanded.
fn paths_at(text: &str) -> Vec<Vec<String>> {
    fn parse(s: &[char], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        let mut segs = prefix;
        loop {
            while *i < s.len() && s[*i].is_whitespace() {
                *i += 1;
            }
            if *i < s.len() && s[*i] == '{' {
                *i += 1;
                loop {
                    parse(s, i, segs.clone(), out);
                    while *i < s.len() && s[*i].is_whitespace() {
                        *i += 1;
                    }
                    match s.get(*i) {
                        Some(',') => *i += 1,
                        Some('}') => {
                            *i += 1;
                            break;
                        }
                        _ => break,
                    }
                    while *i < s.len() && s[*i].is_whitespace() {
                        *i += 1;
                    }
                    if s.get(*i) == Some(&'}') {
                        *i += 1;
                        break;
                    }
                }
                return;
            }
            let start = *i;
            while *i < s.len() && is_ident(s[*i]) {
                *i += 1;
            }
            if *i > start {
                segs.push(s[start..*i].iter().collect());
            }
            if s.get(*i) == Some(&':') && s.get(*i + 1) == Some(&':') {
                *i += 2;
                continue;
            }
            out.push(segs);
            return;
        }
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    parse(&chars, &mut 0, Vec::new(), &mut out);
    out
}

/// Paths in `text` that start with `head::` where `head` is a whole word
/// (not the tail of `a::head` or `xhead`).
fn paths_after(text: &str, head: &str) -> Vec<Vec<String>> {
    let needle = format!("{head}::");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find(&needle) {
        let at = from + pos;
        let before = text[..at].chars().next_back();
        let whole = !before.is_some_and(|c| is_ident(c) || c == ':');
        if whole {
            out.extend(paths_at(&text[at + needle.len()..]));
        }
        from = at + needle.len();
    }
    out
}

fn load_crate(name: &'static str, dir: &str) -> Crate {
    let src = repo_root().join(dir).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut modules = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        modules.insert(module_of(&src, &f), code_only(&text));
    }
    let mut reexports = BTreeMap::new();
    let root = modules.get("").cloned().unwrap_or_default();
    for line in root.lines() {
        let Some(rest) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        for path in paths_at(rest.trim_end_matches(';')) {
            if let Some((item, module)) = path.split_last() {
                reexports.insert(item.clone(), module.join("::"));
            }
        }
    }
    Crate {
        name,
        modules,
        reexports,
    }
}

impl Crate {
    /// The deepest module named by `segs` (absolute, from the crate root), or
    /// `None` for the root itself.
    fn resolve(&self, segs: &[String]) -> Option<Module> {
        let mut best: Option<Module> = None;
        for n in 1..=segs.len() {
            let m = segs[..n].join("::");
            if self.modules.contains_key(&m) {
                best = Some(m);
            }
        }
        if best.is_some() {
            return best;
        }
        let first = segs.first()?;
        self.reexports
            .get(first)
            .or_else(|| self.reexports.get("*"))
            .filter(|m| !m.is_empty())
            .cloned()
    }

    /// Module -> the modules it refers to (itself and the root left out).
    fn graph(&self) -> BTreeMap<Module, BTreeSet<Module>> {
        let mut g = BTreeMap::new();
        for (m, text) in &self.modules {
            let mut to = BTreeSet::new();
            if m.is_empty() {
                g.insert(m.clone(), to);
                continue;
            }
            let parent: Vec<String> = m.split("::").map(str::to_string).collect();
            let parent = &parent[..parent.len() - 1];
            let own: Vec<String> = m.split("::").map(str::to_string).collect();
            let mut absolute: Vec<Vec<String>> = paths_after(text, "crate");
            for p in paths_after(text, "super") {
                // `super::super::x` climbs twice.
                let mut base = parent.to_vec();
                let mut rest = p.as_slice();
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                absolute.push(base.into_iter().chain(rest.iter().cloned()).collect());
            }
            for p in paths_after(text, "self") {
                absolute.push(own.iter().cloned().chain(p).collect());
            }
            // Children declared here (`mod child;`) named by a relative path.
            let children: Vec<String> = text
                .lines()
                .filter_map(|l| {
                    let l = l.trim();
                    let l = l.strip_prefix("pub ").unwrap_or(l);
                    let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
                    l.strip_prefix("mod ")?
                        .strip_suffix(';')
                        .map(str::to_string)
                })
                .collect();
            for c in &children {
                for p in paths_after(text, c) {
                    let mut full = own.clone();
                    full.push(c.clone());
                    full.extend(p);
                    absolute.push(full);
                }
            }
            for p in absolute {
                if let Some(target) = self.resolve(&p) {
                    if &target != m {
                        to.insert(target);
                    }
                }
            }
            g.insert(m.clone(), to);
        }
        g
    }
}

/// Every circle in `g`, each as the path `a -> b -> ... -> a`, once per
/// group of modules that reach each other.
fn circles(g: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<String> {
    let reach = |from: &Module| -> BTreeSet<Module> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&Module> = g[from].iter().collect();
        while let Some(m) = stack.pop() {
            if seen.insert(m.clone()) {
                stack.extend(g.get(m).into_iter().flatten());
            }
        }
        seen
    };
    let mut done: BTreeSet<Module> = BTreeSet::new();
    let mut out = Vec::new();
    for m in g.keys() {
        if done.contains(m) || !reach(m).contains(m) {
            continue;
        }
        // The shortest way back to m, by breadth-first search.
        let mut prev: BTreeMap<&Module, &Module> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([m]);
        let mut last = None;
        'bfs: while let Some(x) = queue.pop_front() {
            for y in &g[x] {
                if y == m {
                    last = Some(x);
                    break 'bfs;
                }
                if !prev.contains_key(y) {
                    prev.insert(y, x);
                    queue.push_back(y);
                }
            }
        }
        let mut path = vec![m.clone()];
        let mut at = last.unwrap();
        while at != m {
            path.push(at.clone());
            at = prev[at];
        }
        path.push(m.clone());
        let n = path.len();
        path[1..n - 1].reverse();
        for p in &path {
            done.insert(p.clone());
        }
        out.push(path.join(" -> "));
    }
    out
}

fn crates() -> Vec<Crate> {
    vec![
        load_crate("berth-specs", "specs"),
        load_crate("berth-engine", "engine"),
        load_crate("berth-providers", "providers"),
        load_crate("berth", "cli"),
    ]
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let mut found = Vec::new();
    let mut edges = 0;
    for c in crates() {
        let g = c.graph();
        edges += g.values().map(BTreeSet::len).sum::<usize>();
        for circle in circles(&g) {
            found.push(format!("{}: {circle}", c.name));
        }
    }
    // The reader must see the code: far fewer edges would mean it misses paths.
    assert!(edges > 60, "only {edges} import edges found");
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

/// The reader itself: it finds a circle through a `{}` group, `super::` and a
/// root re-export, and none where there is none.
#[test]
fn the_circle_finder_sees_groups_super_and_reexports() {
    let mk = |files: &[(&str, &str)], reexports: &[(&str, &str)]| Crate {
        name: "t",
        modules: files
            .iter()
            .map(|(m, t)| (m.to_string(), code_only(t)))
            .collect(),
        reexports: reexports
            .iter()
            .map(|(i, m)| (i.to_string(), m.to_string()))
            .collect(),
    };
    let c = mk(
        &[
            ("", "mod a;\nmod b;\npub use a::Thing;\n"),
            ("a", "use crate::{x::y, b::{self, Other}};\n"),
            (
                "b",
                "// crate::a::Thing in a comment is not an edge\nfn f() {}\n",
            ),
            ("x", ""),
            ("x::y", ""),
        ],
        &[("Thing", "a")],
    );
    assert!(circles(&c.graph()).is_empty());
    let c = mk(
        &[
            ("", "mod a;\nmod b;\npub use a::Thing;\n"),
            ("a", "use crate::{x::y, b::{self, Other}};\n"),
            ("b", "fn f() -> crate::Thing { todo!() }\n"),
            ("x", ""),
            ("x::y", "use super::super::a;\n"),
        ],
        &[("Thing", "a")],
    );
    assert_eq!(circles(&c.graph()), ["a -> b -> a", "x::y -> a -> x::y"]);
}
