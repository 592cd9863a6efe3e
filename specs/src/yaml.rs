//! The one place that calls a YAML parser (JSON: `crate::json`, same tree).
//! It turns text into a small
//! node tree where every key and value keeps its [`Span`], maps keep their key
//! order (and duplicate keys, so the loader can report them), and scalars keep
//! their style so that `"80"` (a string) and `80` (a number) can be told apart.
//!
//! What must stay true:
//! - Hostile input is bounded: alias expansion has a per-file budget in bytes
//!   ([`alias_budget`]: every node copied costs [`NODE_COST`], every scalar its
//!   length), so a "billion laughs" file, or one big scalar referenced
//!   thousands of times, is refused before the copies are made, and
//!   nesting deeper than [`MAX_DEPTH`] is refused before recursive code (drop,
//!   conversion) could overflow the stack. saphyr's `next_event` is a state
//!   machine with heap stacks (it never recurses), and its scanner refuses
//!   flow nesting past 255 levels by itself; both refusals are `TooDeep`.
//! - Spans are byte offsets into the whole file with 1-based line and column, even
//!   when a chunk of the file is parsed on its own (see [`parse_yaml`]'s `base`).
//! - Nothing here panics on any input: parser errors become [`YamlError`].
//!
//! saphyr-parser is used at the event level; replacing it means rewriting this
//! module only.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::model::Span;

/// Least number of bytes that anchors and alias expansion may copy in one
/// file (see [`alias_budget`]). Legitimate files use anchors to share a few
/// small blocks; a billion-laughs file needs exponentially many copies. 64 MiB
/// is the old limit of 1,000,000 nodes at [`NODE_COST`] each.
pub const ALIAS_BUDGET: usize = 64 << 20;

/// What one copied node costs against the alias budget, scalar text aside: a
/// [`Node`] is about this big with its allocation. Counting nodes alone let
/// one 1 MiB scalar referenced 3,000 times through (3 GB of copies).
pub const NODE_COST: usize = 64;

/// How many bytes anchors and alias expansion may copy in a file of
/// `file_len` bytes: [`ALIAS_BUDGET`], or four times the file when that is
/// more, so a big file with ordinary anchors is not refused for being big
/// while memory stays a small multiple of the file.
pub fn alias_budget(file_len: usize) -> usize {
    ALIAS_BUDGET.max(file_len.saturating_mul(4))
}

/// Deepest nesting of sequences and maps accepted. berth's formats need five.
pub const MAX_DEPTH: usize = 64;

/// saphyr's message when flow collections nest deeper than its scanner's
/// counter allows (a test pins it, so an upgrade that rewords it is noticed).
const SAPHYR_FLOW_LIMIT: &str = "recursion limit exceeded";

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Plain (`80`, `true`, `web`): its type is resolved from the text.
    Plain,
    /// Quoted, a block scalar, or tagged `!!str`: always a string.
    Quoted,
}

/// A node of the tree, borrowing from the text where the parser allows.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    /// The value.
    pub value: Value<'a>,
    /// Where it is.
    pub span: Span,
}

/// A node's value.
#[derive(Debug, Clone)]
pub enum Value<'a> {
    /// A scalar and how it was written.
    Scalar(Cow<'a, str>, Style),
    /// A sequence.
    Seq(Vec<Node<'a>>),
    /// A map, in file order, duplicate keys kept.
    Map(Vec<(Node<'a>, Node<'a>)>),
}

/// A scalar's resolved type (YAML 1.2 core schema, reduced to what berth uses).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'s> {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A decimal integer.
    Int(i64),
    /// Anything else, including floats (kept as written).
    Str(&'s str),
}

impl<'a> Node<'a> {
    /// The scalar's type, or `None` for a sequence or map.
    pub fn scalar(&self) -> Option<Scalar<'_>> {
        match &self.value {
            Value::Scalar(s, Style::Quoted) => Some(Scalar::Str(s)),
            Value::Scalar(s, Style::Plain) => Some(resolve_plain(s)),
            _ => None,
        }
    }

    /// The map entries, if this is a map.
    pub fn as_map(&self) -> Option<&[(Node<'a>, Node<'a>)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items, if this is a sequence.
    pub fn as_seq(&self) -> Option<&[Node<'a>]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The raw text of a scalar (whatever its type), if this is a scalar.
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// True for a null scalar.
    pub fn is_null(&self) -> bool {
        matches!(self.scalar(), Some(Scalar::Null))
    }

    /// A word for the node's type, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self.scalar() {
            None => match self.value {
                Value::Seq(_) => "a list",
                _ => "a map",
            },
            Some(Scalar::Null) => "nothing (null)",
            Some(Scalar::Bool(_)) => "a boolean",
            Some(Scalar::Int(_)) => "a number",
            Some(Scalar::Str(_)) => "a string",
        }
    }

    /// The value of `key` in a map (the first, if duplicated).
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.text() == Some(key))
            .map(|(_, v)| v)
    }

    /// The node as JSON data (scalars resolved like the loader does), for
    /// validating a YAML file against the JSON Schema.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.text().unwrap_or_default().to_string(), v.to_json()))
                    .collect(),
            ),
            Value::Scalar(..) => match self.scalar() {
                Some(Scalar::Null) | None => J::Null,
                Some(Scalar::Bool(b)) => J::Bool(b),
                Some(Scalar::Int(i)) => J::from(i),
                Some(Scalar::Str(s)) => J::String(s.to_string()),
            },
        }
    }

    /// What copying the node costs against the alias budget, in bytes.
    fn cost(&self) -> usize {
        NODE_COST
            + match &self.value {
                Value::Scalar(s, _) => s.len(),
                Value::Seq(s) => s.iter().map(Node::cost).sum(),
                Value::Map(m) => m.iter().map(|(k, v)| k.cost() + v.cost()).sum(),
            }
    }
}

fn resolve_plain(s: &str) -> Scalar<'_> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => Scalar::Null,
        "true" | "True" | "TRUE" => Scalar::Bool(true),
        "false" | "False" | "FALSE" => Scalar::Bool(false),
        _ => {
            let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(i) = s.parse::<i64>() {
                    return Scalar::Int(i);
                }
            }
            Scalar::Str(s)
        }
    }
}

/// Why a text could not be turned into a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YamlError {
    /// Not well-formed YAML (or JSON).
    Syntax {
        /// The parser's message.
        message: String,
        /// Where (zero length).
        span: Span,
    },
    /// Anchors and alias expansion would copy more than the file's
    /// [`alias_budget`].
    AliasLimit {
        /// The alias (or anchor) that went over.
        span: Span,
        /// The budget, in bytes.
        limit: usize,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep {
        /// The collection that went too deep.
        span: Span,
    },
}

/// The documents of a text (or of a chunk of one) and the error that stopped
/// parsing, if any. Documents before the error are complete and kept.
#[derive(Debug, Default)]
pub struct Parsed<'a> {
    /// One root node per document, in order.
    pub documents: Vec<Node<'a>>,
    /// What stopped parsing early.
    pub error: Option<YamlError>,
}

/// Where a chunk starts in its file: byte offset and 0-based line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Base {
    /// Byte offset of the chunk's first byte in the file.
    pub offset: usize,
    /// Number of lines before the chunk.
    pub line: u32,
}

/// Converts saphyr's character indices to byte offsets. Events arrive in text
/// order, so a forward-moving cursor makes this O(n) over a whole parse.
struct Offsets<'a> {
    text: &'a str,
    ascii: bool,
    chars: usize,
    bytes: usize,
}

impl Offsets<'_> {
    fn byte(&mut self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.text.len());
        }
        if char_index < self.chars {
            self.chars = 0;
            self.bytes = 0;
        }
        let mut it = self.text[self.bytes..].char_indices();
        while self.chars < char_index {
            match it.next() {
                Some((_, c)) => {
                    self.chars += 1;
                    self.bytes += c.len_utf8();
                }
                None => break,
            }
        }
        self.bytes
    }
}

struct Builder<'a, 'b> {
    offsets: Offsets<'a>,
    base: Base,
    budget: &'b AtomicUsize,
    limit: usize,
    anchors: HashMap<usize, (Node<'a>, usize)>,
    /// Open collections: the node being filled, its anchor id, and for maps a
    /// pending key.
    stack: Vec<(Node<'a>, usize, Option<Node<'a>>)>,
}

impl<'a> Builder<'a, '_> {
    fn span(&mut self, s: saphyr_parser::Span) -> Span {
        let start = self.offsets.byte(s.start.index());
        let end = self.offsets.byte(s.end.index()).max(start);
        Span {
            offset: self.base.offset + start,
            len: end - start,
            line: self.base.line + s.start.line() as u32,
            col: s.start.col() as u32 + 1,
        }
    }

    /// Attaches a finished node to its parent; returns it when it is a root.
    fn attach(&mut self, node: Node<'a>) -> Option<Node<'a>> {
        let Some((parent, _, pending)) = self.stack.last_mut() else {
            return Some(node);
        };
        if node.span.offset + node.span.len > parent.span.offset + parent.span.len {
            parent.span.len = node.span.offset + node.span.len - parent.span.offset;
        }
        match &mut parent.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => match pending.take() {
                Some(key) => entries.push((key, node)),
                None => *pending = Some(node),
            },
            Value::Scalar(..) => unreachable!("scalars are never open"),
        }
        None
    }

    /// Takes `cost` bytes from the file's budget; false when it is spent.
    fn spend(&self, cost: usize) -> bool {
        let used = self.budget.fetch_add(cost, Ordering::Relaxed);
        used.saturating_add(cost) <= self.limit
    }

    /// Keeps a copy of an anchored node for its aliases. The copy is paid
    /// from the budget too: nested anchors copy their contents once per level.
    fn anchor(&mut self, id: usize, node: &Node<'a>) -> Result<(), YamlError> {
        if id != 0 {
            let cost = node.cost();
            if !self.spend(cost) {
                return Err(YamlError::AliasLimit {
                    span: node.span,
                    limit: self.limit,
                });
            }
            self.anchors.insert(id, (node.clone(), cost));
        }
        Ok(())
    }
}

/// Parses YAML text (a whole file, or a chunk of one starting at `base`) and
/// hands each document's tree to `each` as soon as it is complete, so a caller
/// can convert and drop it while it is still in cache. Returns the error that
/// stopped parsing, if any (documents before it were handed over). `budget`
/// counts the bytes copied by anchors and aliases (see [`alias_budget`]),
/// here against the budget of a file the size of `text`.
pub fn parse_yaml_each<'a>(
    text: &'a str,
    base: Base,
    budget: &AtomicUsize,
    each: impl FnMut(Node<'a>),
) -> Option<YamlError> {
    parse_yaml_each_limited(text, base, budget, alias_budget(text.len()), each)
}

/// Like [`parse_yaml_each`], with the alias budget given: a file parsed in
/// chunks shares one `budget` counter and one `limit`, that of the whole file.
pub fn parse_yaml_each_limited<'a>(
    text: &'a str,
    base: Base,
    budget: &AtomicUsize,
    limit: usize,
    mut each: impl FnMut(Node<'a>),
) -> Option<YamlError> {
    let mut b = Builder {
        offsets: Offsets {
            text,
            ascii: text.is_ascii(),
            chars: 0,
            bytes: 0,
        },
        base,
        budget,
        limit,
        anchors: HashMap::new(),
        stack: Vec::new(),
    };
    let mut error = None;
    let mut parser = Parser::new_from_str(text);
    let mut saw_root = false;
    loop {
        let (event, raw_span) = match parser.next_event() {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                let mark = *e.marker();
                let span = b.span(saphyr_parser::Span::empty(mark));
                // The scanner reads ahead of the events, so `[[[[...` reaches
                // its own flow-level limit (255, a counter, not recursion)
                // before the builder sees depth MAX_DEPTH: same problem,
                // same code.
                error = Some(if e.info() == SAPHYR_FLOW_LIMIT {
                    YamlError::TooDeep { span }
                } else {
                    YamlError::Syntax {
                        message: e.info().to_string(),
                        span,
                    }
                });
                break;
            }
        };
        let finished = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                saw_root = false;
                None
            }
            Event::DocumentEnd => {
                if !saw_root {
                    // An empty document: a null root, like the sequential parse.
                    let span = b.span(raw_span);
                    each(Node {
                        value: Value::Scalar(Cow::Borrowed(""), Style::Plain),
                        span,
                    });
                }
                None
            }
            Event::Scalar(value, style, anchor, tag) => {
                let span = b.span(raw_span);
                let is_str_tag = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let style = match style {
                    ScalarStyle::Plain if !is_str_tag => Style::Plain,
                    _ => Style::Quoted,
                };
                let node = Node {
                    value: Value::Scalar(value, style),
                    span,
                };
                if let Err(e) = b.anchor(anchor, &node) {
                    error = Some(e);
                    break;
                }
                b.attach(node)
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                let span = b.span(raw_span);
                if b.stack.len() >= MAX_DEPTH {
                    error = Some(YamlError::TooDeep { span });
                    break;
                }
                let value = if matches!(event, Event::SequenceStart(..)) {
                    Value::Seq(Vec::new())
                } else {
                    Value::Map(Vec::new())
                };
                b.stack.push((Node { value, span }, anchor, None));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match b.stack.pop() {
                Some((node, anchor, _)) => {
                    if let Err(e) = b.anchor(anchor, &node) {
                        error = Some(e);
                        break;
                    }
                    b.attach(node)
                }
                None => None,
            },
            Event::Alias(id) => {
                let span = b.span(raw_span);
                match b.anchors.get(&id) {
                    None => {
                        error = Some(YamlError::Syntax {
                            message: "alias to an anchor that is not complete".into(),
                            span,
                        });
                        break;
                    }
                    Some((node, cost)) => {
                        // Paid before the copy is made: refusal costs nothing.
                        if !b.spend(*cost) {
                            error = Some(YamlError::AliasLimit {
                                span,
                                limit: b.limit,
                            });
                            break;
                        }
                        let node = node.clone();
                        b.attach(node)
                    }
                }
            }
        };
        if let Some(root) = finished {
            saw_root = true;
            each(root);
        }
    }
    error
}

/// Parses YAML text into one tree per document (see [`parse_yaml_each`]).
pub fn parse_yaml<'a>(text: &'a str, base: Base, budget: &AtomicUsize) -> Parsed<'a> {
    let mut documents = Vec::new();
    let error = parse_yaml_each(text, base, budget, |d| documents.push(d));
    Parsed { documents, error }
}

/// Byte offsets (and 0-based line numbers) where a multi-document YAML text can
/// be cut into chunks of about `target` bytes: only at lines starting with
/// `---` followed by a blank or the end of the line. The first chunk starts
/// at 0. A cut inside something that is not a document boundary (a `---` line
/// within a quoted scalar) makes a chunk fail to parse; the caller then parses
/// the whole text at once, so results never depend on the cutting.
pub fn chunk_starts(text: &str, target: usize) -> Vec<Base> {
    let mut starts = vec![Base::default()];
    let bytes = text.as_bytes();
    let mut line = 0u32;
    let mut counted_to = 0usize;
    let mut from = target;
    while from < text.len() {
        let Some(rel) = text[from..].find("\n---") else {
            break;
        };
        let at = from + rel + 1;
        let after = bytes.get(at + 3).copied();
        if matches!(after, None | Some(b' ' | b'\t' | b'\r' | b'\n')) {
            line += count_lines(&bytes[counted_to..at]);
            counted_to = at;
            starts.push(Base { offset: at, line });
            from = at + target;
        } else {
            from = at;
        }
    }
    starts
}

fn count_lines(bytes: &[u8]) -> u32 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u32
}

/// A hint for a YAML syntax error that is one of the usual pitfalls, in the
/// words of berth's files rather than the parser's: an IPv6 address written
/// without quotes that YAML reads as a key (`address: 2001:db8:42::`), a line
/// indented more or less than its siblings, a tab among the indentation.
/// `text` is the whole file, `message` the parser's message and `line` the
/// 1-based line it points at. `None` when the error is none of these.
pub fn syntax_hint(text: &str, message: &str, line: u32) -> Option<String> {
    let at = |n: u32| -> &str {
        n.checked_sub(1)
            .and_then(|i| text.lines().nth(i as usize))
            .unwrap_or("")
    };
    // The error may point at the line after the culprit (a value that ended
    // a line with `:`): look at both.
    for l in [at(line), at(line.saturating_sub(1))] {
        if let Some((key, value)) = unquoted_address(l) {
            return Some(format!(
                "YAML reads a `:` at the end of a word, or followed by a space, as a key: quote the address, `{key}: \"{value}\"`"
            ));
        }
    }
    let line_text = at(line);
    if message.contains("tabs disallowed") || line_text.starts_with('\t') {
        return Some("YAML indents with spaces only: replace the tab with spaces".into());
    }
    if message.contains("did not find expected key")
        || message.contains("did not find expected '-' indicator")
        || message.contains("mapping values are not allowed")
    {
        return Some(
            "check the indentation: the keys of one map start in the same column, and the keys of a list item line up under the first key after its `- ` (`- volume: data` then `  mount: /data` two spaces in)".into(),
        );
    }
    None
}

/// `key: VALUE` where VALUE is a plain (unquoted) address-like word that YAML
/// cannot read as one scalar: hex digits, `:`, `.` and `/`, with a `::` or a
/// trailing `:` (`2001:db8::`, `fe80::1: `).
fn unquoted_address(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start().trim_start_matches("- ");
    let (key, value) = t.split_once(": ")?;
    let value = value.split(" #").next().unwrap_or("").trim();
    let addressy = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.' | '/'))
        && (value.ends_with(':') || value.contains(": "))
        && value.contains(':');
    let key = key.trim();
    (addressy && !key.is_empty() && !key.contains(' ')).then_some((key, value))
}

#[cfg(test)]
mod tests {

    #[test]
    fn pitfalls_get_hints_in_berth_words() {
        let unquoted = "berth: 1\nprovides:\n  - ipv6: web\n    address: 2001:db8:42::\n";
        let hint = syntax_hint(
            unquoted,
            "mapping values are not allowed in this context",
            4,
        )
        .expect("a hint");
        assert!(hint.contains("`address: \"2001:db8:42::\"`"), "{hint}");
        let indented = "needs:\n  - volume: a\n   mount: /x\n";
        let hint = syntax_hint(
            indented,
            "while parsing a block collection, did not find expected '-' indicator",
            3,
        )
        .expect("a hint");
        assert!(hint.contains("indentation"), "{hint}");
        let tab = "needs:\n\t- volume: a\n";
        let hint = syntax_hint(
            tab,
            "tabs disallowed within this context (block indentation)",
            2,
        )
        .expect("a hint");
        assert!(hint.contains("spaces only"), "{hint}");
        assert!(syntax_hint("a: [1, 2\n", "did not find expected ',' or ']'", 1).is_none());
        assert!(syntax_hint("a: 'x\n", "unclosed quote", 1).is_none());
        // A quoted address, or a plain one YAML reads whole, is not the pitfall.
        assert!(unquoted_address("    address: \"2001:db8::\"").is_none());
        assert!(unquoted_address("    address: 2001:db8::1").is_none());
        assert_eq!(
            unquoted_address("  - address: fe80::"),
            Some(("address", "fe80::"))
        );
    }
    use super::*;

    fn yaml(text: &str) -> Parsed<'_> {
        parse_yaml(text, Base::default(), &AtomicUsize::new(0))
    }

    #[test]
    fn spans_are_bytes_lines_and_columns() {
        let text = "a: é\nbb: [1, \"x\"]\n";
        let p = yaml(text);
        assert!(p.error.is_none());
        let root = &p.documents[0];
        let m = root.as_map().unwrap();
        let (k, v) = &m[1];
        assert_eq!(&text[k.span.offset..k.span.offset + k.span.len], "bb");
        assert_eq!((k.span.line, k.span.col), (2, 1));
        let items = v.as_seq().unwrap();
        assert_eq!(items[0].scalar(), Some(Scalar::Int(1)));
        assert_eq!(items[1].scalar(), Some(Scalar::Str("x")));
        assert_eq!((items[1].span.line, items[1].span.col), (2, 9));
    }

    #[test]
    fn quoted_numbers_stay_strings() {
        let p = yaml("a: \"80\"\nb: 80\nc: !!str 80\n");
        let root = &p.documents[0];
        assert_eq!(root.get("a").unwrap().scalar(), Some(Scalar::Str("80")));
        assert_eq!(root.get("b").unwrap().scalar(), Some(Scalar::Int(80)));
        assert_eq!(root.get("c").unwrap().scalar(), Some(Scalar::Str("80")));
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let p = yaml(&text);
        assert!(matches!(p.error, Some(YamlError::AliasLimit { .. })));
    }

    /// One 1 MiB anchored scalar referenced 3,000 times: counted as nodes it
    /// passed and was copied 3,000 times; counted in bytes it is refused
    /// after at most the budget's worth of copies.
    #[test]
    fn memory_bomb_big_scalar_aliases_are_refused() {
        let text = format!(
            "berth: 1\nx: &a \"{}\"\nneeds: [{}]\n",
            "x".repeat(1 << 20),
            vec!["*a"; 3_000].join(",")
        );
        let budget = AtomicUsize::new(0);
        let p = parse_yaml(&text, Base::default(), &budget);
        assert!(matches!(
            p.error,
            Some(YamlError::AliasLimit {
                limit: ALIAS_BUDGET,
                ..
            })
        ));
        let spent = budget.load(Ordering::Relaxed);
        // Everything charged, including the refused copy, is about the budget.
        assert!(spent <= ALIAS_BUDGET + (1 << 20) + NODE_COST, "{spent}");
        // A big file gets a proportionally bigger budget.
        assert_eq!(alias_budget(100 << 20), 400 << 20);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(100_000);
        // saphyr's scanner refuses first (it reads ahead); same code.
        assert!(matches!(yaml(&text).error, Some(YamlError::TooDeep { .. })));
        let text = format!(
            "{}1{}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert!(matches!(yaml(&text).error, Some(YamlError::TooDeep { .. })));
    }

    /// 100,000-deep flow collections (and deep block ones, and JSON) are
    /// refused as too deep before anything recurses: the parse runs on a
    /// 1 MiB stack, which recursion per level would overflow 100,000 levels
    /// deep. (JSON: `json::tests`.)
    #[test]
    fn deep_nesting_is_refused_before_anything_recurses() {
        let deep = [
            format!("x: {}{}", "[".repeat(100_000), "]".repeat(100_000)),
            format!("x: {}1{}", "{a: ".repeat(100_000), "}".repeat(100_000)),
            format!("x: {}", "[a, ".repeat(100_000)),
            (1..3_000)
                .map(|i| format!("{}-\n", " ".repeat(i)))
                .collect(),
        ];
        let handle = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || deep.iter().map(|t| yaml(t).error).collect::<Vec<_>>())
            .unwrap();
        let yaml_errors = handle.join().expect("no stack overflow");
        for (i, e) in yaml_errors.into_iter().enumerate() {
            assert!(matches!(e, Some(YamlError::TooDeep { .. })), "{i}: {e:?}");
        }
    }

    /// A 1 MiB key on one line: YAML caps implicit keys at 1024 characters
    /// (a syntax error, found in one pass); an explicit `? key` is read.
    #[test]
    fn a_one_mib_single_line_key_is_handled() {
        let key = "k".repeat(1 << 20);
        let text = format!("{key}: 1\n");
        assert!(matches!(yaml(&text).error, Some(YamlError::Syntax { .. })));
        let text = format!("? {key}\n: 1\n");
        let p = yaml(&text);
        assert!(p.error.is_none(), "{:?}", p.error);
        let (k, _) = &p.documents[0].as_map().unwrap()[0];
        assert_eq!(k.text().map(str::len), Some(1 << 20));
    }

    #[test]
    fn chunks_cut_at_document_starts() {
        let text = "a: 1\n---\nb: 2\n--- # c\nc: 3\n---x: 4\n";
        let starts = chunk_starts(text, 1);
        let cuts: Vec<_> = starts.iter().map(|b| (b.offset, b.line)).collect();
        assert_eq!(cuts, vec![(0, 0), (5, 1), (14, 3)]);
    }
}
