//! The JSON reader: JSON text to the same [`Node`] tree as YAML
//! ([`crate::yaml`]), reading every byte once. berth's loader (`Cx` in
//! [`crate::load`]) holds the validation rules once, over that tree, for both
//! formats; a JSON fleet is 30 MB of 150,000 small documents, so the cost that
//! matters is per byte and per node, not the tree itself.
//!
//! Choice: a small tree per document, built in one forward pass and dropped as
//! soon as `Cx` has converted it (on the rayon pool, while it is in cache),
//! rather than feeding `Cx` from a streaming reader without a tree. `Cx` looks
//! keys up, reports duplicates, counts unknown keys and walks nested needs in
//! its own order; giving it a borrowed view of the same shape would mean a
//! second access path for every rule, where a per-document tree of a few dozen
//! nodes borrowing its strings from the text costs a few allocations. The
//! whole file's tree never exists at once.
//!
//! How (what used to cost, and what replaced it):
//! - [`jiter`] reads each document in one pass and reports byte offsets; every
//!   map and list is read once (they used to be captured raw and deserialized
//!   again at every nesting level).
//! - Line and column come from [`Lines`], a cursor that only moves forward
//!   over the bytes between one node and the next (it used to be a binary
//!   search over all line starts plus a character count, per node).
//! - A fleet (a top-level array) is cut into items by one pass over the
//!   brackets and strings ([`cut`]), which also counts lines, and the items
//!   are read and converted on all cores.
//!
//! What must stay true (each point is a test below or in `tests/`):
//! - Accepted and refused texts, and the refusals' messages and positions,
//!   are serde_json's: the fast path reads only; when it stops on anything
//!   (bad syntax, depth), serde_json, which the loader always used, checks
//!   the whole text on this cold path, and a syntax error anywhere refuses
//!   the whole file with its message, as before.
//! - Strings keep their escapes decoded exactly as serde_json does (it
//!   decodes every string that holds a `\`); numbers, `true`, `false` and
//!   `null` are plain scalars kept as written, so `80` is a number and
//!   `"80"` a string; duplicate keys are kept for the loader to report.
//! - Spans: byte offset and length, 1-based line, and 1-based column in
//!   characters up to [`WIDE_LINE`] bytes into a line (in bytes beyond, so a
//!   minified one-line fleet stays linear).
//! - Nesting deeper than [`MAX_DEPTH`] is `TooDeep`, refused before the
//!   reader's recursion (one frame per level) could go deeper.

use std::borrow::Cow;
use std::ops::Range;

use jiter::{Jiter, JiterError, Peek};
use rayon::prelude::*;
use serde_json::value::RawValue;

use crate::model::Span;
use crate::yaml::{Node, Parsed, Style, Value, YamlError, MAX_DEPTH};

/// Columns count characters up to this many bytes into a line, bytes beyond.
pub const WIDE_LINE: usize = 4096;

/// Parses a JSON text into the same tree as YAML. A top-level array holds one
/// document per item; anything else is one document.
pub fn parse_json(text: &str) -> Parsed<'_> {
    let (documents, error) = parse_json_each(text, |node| node);
    Parsed { documents, error }
}

/// Parses a JSON text and hands each document's tree to `convert` as soon as
/// it is built, on all cores for a top-level array (a fleet): each tree is
/// dropped once converted, so the whole file's tree never exists at once.
/// Returns what `convert` gave for the documents before the first error, and
/// that error (a syntax error anywhere gives no documents).
pub fn parse_json_each<'a, T: Send>(
    text: &'a str,
    convert: impl Fn(Node<'a>) -> T + Sync,
) -> (Vec<T>, Option<YamlError>) {
    let fleet = text.trim_start().starts_with('[');
    let results: Vec<Result<T, Stop>> = if !fleet {
        vec![Reader::document(text, 0..text.len(), Lines::new(text), 0).map(&convert)]
    } else if let Some(items) = cut(text) {
        items
            .par_iter()
            .map(|item| {
                let lines = Lines::at(text, item.range.start, item.line, item.line_start);
                Reader::document(text, item.range.clone(), lines, 1).map(&convert)
            })
            .collect()
    } else {
        // Not shaped like an array of values: read it in order, so that
        // the cold path below sees where it stops.
        fleet_in_order(text, &convert)
    };
    let Some(first_error) = results.iter().position(Result::is_err) else {
        return (results.into_iter().flatten().collect(), None);
    };
    // The cold path: serde_json decides whether the text is JSON, and says
    // where it is not, in its words.
    let refused = if fleet {
        serde_json::from_str::<Vec<&RawValue>>(text).err()
    } else {
        serde_json::from_str::<&RawValue>(text).err()
    };
    if let Some(e) = refused {
        return (Vec::new(), Some(serde_json_error(text, &e)));
    }
    let mut results = results.into_iter();
    let out: Vec<T> = results.by_ref().take(first_error).flatten().collect();
    let stop = match results.next() {
        Some(Err(stop)) => stop,
        _ => unreachable!("position found an error there"),
    };
    (out, Some(stop.into_error(text)))
}

/// Why the reader stopped. Positions are byte offsets into the whole text.
#[derive(Debug)]
enum Stop {
    /// jiter refused the text at this offset.
    Syntax(JiterError, usize),
    /// A map or list at this offset is nested deeper than [`MAX_DEPTH`].
    TooDeep(usize),
    /// A string's escapes could not be decoded.
    Decode(YamlError),
    /// jiter refused a string (a value, or a key of the map at `node`)
    /// where serde_json's check of the whole text does not look (a lone
    /// surrogate escape).
    Escape {
        node: usize,
        map: bool,
        reader: (JiterError, usize),
    },
}

impl Stop {
    fn escape(e: JiterError, base: usize, node: usize, map: bool) -> Stop {
        let at = base + e.index;
        Stop::Escape {
            node,
            map,
            reader: (e, at),
        }
    }

    /// The error the loader reports, for a text that serde_json accepts as a
    /// whole (the cold path checked that first).
    fn into_error(self, text: &str) -> YamlError {
        match self {
            Stop::Syntax(e, at) => YamlError::Syntax {
                message: e.error_type.to_string(),
                span: Lines::new(text).span(floor_char_boundary(text, at.min(text.len())), 0),
            },
            Stop::TooDeep(at) => {
                let mut scan = Scan::new(text.as_bytes(), at);
                let end = scan.value().map_or(text.len(), |()| scan.i);
                YamlError::TooDeep {
                    span: Lines::new(text).span(at, end - at),
                }
            }
            Stop::Decode(e) => e,
            // As the loader always said it: serde_json's error decoding that
            // string, or that map's keys, located at the string or map.
            Stop::Escape { node, map, reader } => {
                let mut scan = Scan::new(text.as_bytes(), node);
                let decoded = match scan.value() {
                    None => None,
                    Some(()) if map => serde_json::from_str::<
                        std::collections::HashMap<Cow<'_, str>, &RawValue>,
                    >(&text[node..scan.i])
                    .err(),
                    Some(()) => serde_json::from_str::<String>(&text[node..scan.i]).err(),
                };
                match decoded {
                    Some(e) => YamlError::Syntax {
                        message: e.to_string(),
                        span: Lines::new(text).span(node, scan.i - node),
                    },
                    None => Stop::Syntax(reader.0, reader.1).into_error(text),
                }
            }
        }
    }
}

/// Reads one document (the whole text, or one item of a fleet) with jiter.
struct Reader<'a> {
    text: &'a str,
    /// Where the slice jiter reads starts in `text`.
    base: usize,
    jiter: Jiter<'a>,
    lines: Lines<'a>,
}

impl<'a> Reader<'a> {
    /// Reads the one value in `text[range]` at nesting `depth`.
    fn document(
        text: &'a str,
        range: Range<usize>,
        lines: Lines<'a>,
        depth: usize,
    ) -> Result<Node<'a>, Stop> {
        let base = range.start;
        let mut r = Reader {
            text,
            base,
            jiter: Jiter::new(&text.as_bytes()[range]),
            lines,
        };
        r.read(depth).map_err(|halt| halt.at(base))
    }

    fn read(&mut self, depth: usize) -> Result<Node<'a>, Halt> {
        let peek = self.jiter.peek()?;
        let node = self.value(peek, depth)?;
        self.jiter.finish()?;
        Ok(node)
    }

    fn here(&self) -> usize {
        self.base + self.jiter.current_index()
    }

    /// Reads the value that `peek` starts.
    fn value(&mut self, peek: Peek, depth: usize) -> Result<Node<'a>, Halt> {
        let start = self.here();
        let value = match peek {
            Peek::Array => {
                if depth >= MAX_DEPTH {
                    return Err(Halt::TooDeep(start));
                }
                let mut span = self.lines.span(start, 0);
                let mut items = Vec::new();
                let mut next = self.jiter.known_array()?;
                while let Some(peek) = next {
                    items.push(self.value(peek, depth + 1)?);
                    next = self.jiter.array_step()?;
                }
                span.len = self.here() - start;
                return Ok(Node {
                    value: Value::Seq(items),
                    span,
                });
            }
            Peek::Object => {
                if depth >= MAX_DEPTH {
                    return Err(Halt::TooDeep(start));
                }
                let mut span = self.lines.span(start, 0);
                let text = self.text;
                let mut entries = Vec::new();
                let in_key = |e| Halt::InKey(e, start);
                let mut next = self
                    .jiter
                    .next_object_bytes()
                    .map_err(in_key)?
                    .map(|k| range_in(text, k));
                while let Some(content) = next {
                    let key = self.string(content)?;
                    let peek = self.jiter.peek()?;
                    let value = self.value(peek, depth + 1)?;
                    entries.push((key, value));
                    next = self
                        .jiter
                        .next_key_bytes()
                        .map_err(in_key)?
                        .map(|k| range_in(text, k));
                }
                span.len = self.here() - start;
                return Ok(Node {
                    value: Value::Map(entries),
                    span,
                });
            }
            Peek::String => {
                let content = match self.jiter.known_bytes() {
                    Ok(content) => range_in(self.text, content),
                    Err(e) => return Err(Halt::InString(e, start)),
                };
                return self.string(content);
            }
            Peek::True | Peek::False => {
                self.jiter.known_bool(peek)?;
                self.here()
            }
            Peek::Null => {
                self.jiter.known_null()?;
                self.here()
            }
            _ => {
                let number = self.jiter.next_number_bytes()?;
                start + number.len()
            }
        };
        Ok(Node {
            value: Value::Scalar(Cow::Borrowed(&self.text[start..value]), Style::Plain),
            span: self.lines.span(start, value - start),
        })
    }

    /// A string (key or value) whose content, between its quotes, is at
    /// `content`: borrowed from the text, or decoded by serde_json when it
    /// holds an escape.
    fn string(&mut self, content: Range<usize>) -> Result<Node<'a>, Halt> {
        let quoted = content.start - 1..content.end + 1;
        let span = self.lines.span(quoted.start, quoted.len());
        let raw = &self.text[content.clone()];
        let value = if memchr::memchr(b'\\', raw.as_bytes()).is_none() {
            Cow::Borrowed(raw)
        } else {
            match serde_json::from_str::<String>(&self.text[quoted]) {
                Ok(s) => Cow::Owned(s),
                Err(e) => {
                    return Err(Halt::Decode(YamlError::Syntax {
                        message: e.to_string(),
                        span,
                    }))
                }
            }
        };
        Ok(Node {
            value: Value::Scalar(value, Style::Quoted),
            span,
        })
    }
}

/// Why a [`Reader`] stopped, jiter's index still relative to the slice read.
enum Halt {
    Syntax(JiterError),
    /// In the string that starts at this offset.
    InString(JiterError, usize),
    /// In a key of the map that starts at this offset.
    InKey(JiterError, usize),
    TooDeep(usize),
    Decode(YamlError),
}

impl From<JiterError> for Halt {
    fn from(e: JiterError) -> Self {
        Halt::Syntax(e)
    }
}

impl Halt {
    fn at(self, base: usize) -> Stop {
        match self {
            Halt::Syntax(e) => {
                let at = base + e.index;
                Stop::Syntax(e, at)
            }
            Halt::InString(e, node) => Stop::escape(e, base, node, false),
            Halt::InKey(e, node) => Stop::escape(e, base, node, true),
            Halt::TooDeep(at) => Stop::TooDeep(at),
            Halt::Decode(e) => Stop::Decode(e),
        }
    }
}

/// Where `bytes`, a slice of `text` that jiter returned (a string's
/// content), is in it.
fn range_in(text: &str, bytes: &[u8]) -> Range<usize> {
    let at = bytes.as_ptr() as usize - text.as_ptr() as usize;
    at..at + bytes.len()
}

/// Reads a text that [`cut`] could not cut (it is not JSON, or not an array
/// of values), item after item, up to the first stop.
fn fleet_in_order<'a, T>(text: &'a str, convert: &impl Fn(Node<'a>) -> T) -> Vec<Result<T, Stop>> {
    let mut r = Reader {
        text,
        base: 0,
        jiter: Jiter::new(text.as_bytes()),
        lines: Lines::new(text),
    };
    let mut out = Vec::new();
    let mut read = || -> Result<(), Halt> {
        let mut next = r.jiter.next_array()?;
        while let Some(peek) = next {
            out.push(Ok(convert(r.value(peek, 1)?)));
            next = r.jiter.array_step()?;
        }
        r.jiter.finish()?;
        Ok(())
    };
    if let Err(e) = read() {
        out.push(Err(e.at(0)));
    }
    out
}

/// serde_json's error as the loader reports it: its message without the
/// " at line L column C" it appends, at that line and column.
fn serde_json_error(text: &str, e: &serde_json::Error) -> YamlError {
    let line = e.line().max(1);
    let line_start = if line == 1 {
        Some(0)
    } else {
        memchr::memchr_iter(b'\n', text.as_bytes())
            .nth(line - 2)
            .map(|i| i + 1)
    };
    let offset = line_start
        .map(|s| (s + e.column().saturating_sub(1)).min(text.len()))
        .unwrap_or(text.len());
    let offset = floor_char_boundary(text, offset);
    let message = e.to_string();
    let message = match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    YamlError::Syntax {
        message,
        span: Lines::new(text).span(offset, 0),
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Line and column of byte offsets met in increasing order: a cursor that
/// moves forward over the bytes between one offset and the next, so a whole
/// document costs one pass whatever its number of nodes.
struct Lines<'a> {
    bytes: &'a [u8],
    /// The last offset asked for.
    at: usize,
    /// 0-based line of `at`.
    line: u32,
    /// Where that line starts.
    line_start: usize,
    /// Characters from `line_start` to `at` (read only while the line is
    /// narrower than [`WIDE_LINE`]).
    chars: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            bytes: text.as_bytes(),
            at: 0,
            line: 0,
            line_start: 0,
            chars: 0,
        }
    }

    /// A cursor at `at`, on the 0-based `line` that starts at
    /// `line_start` (no newline in between). Characters are counted only on
    /// a narrow line, so a fleet's items on one minified line cost nothing.
    fn at(text: &'a str, at: usize, line: u32, line_start: usize) -> Self {
        let bytes = text.as_bytes();
        let chars = if at - line_start <= WIDE_LINE {
            bytes[line_start..at]
                .iter()
                .filter(|&&b| (b as i8) >= -0x40)
                .count()
        } else {
            0 // never read: the line is already wide
        };
        Lines {
            bytes,
            at,
            line,
            line_start,
            chars,
        }
    }

    /// Moves to `offset` (not before the last one) and gives its 0-based
    /// column: one loop over the few bytes since the last node.
    fn column(&mut self, offset: usize) -> usize {
        let mut chars = self.chars;
        for (i, &b) in self.bytes[self.at..offset].iter().enumerate() {
            if b == b'\n' {
                self.line += 1;
                self.line_start = self.at + i + 1;
                chars = 0;
            } else {
                chars += usize::from((b as i8) >= -0x40);
            }
        }
        self.chars = chars;
        self.at = offset;
        let width = offset - self.line_start;
        if width <= WIDE_LINE {
            chars
        } else {
            width
        }
    }

    fn span(&mut self, offset: usize, len: usize) -> Span {
        let column = self.column(offset);
        Span {
            offset,
            len,
            line: self.line + 1,
            col: column as u32 + 1,
        }
    }
}

/// One item of a fleet: its bytes, and the line it starts on.
struct Item {
    range: Range<usize>,
    /// 0-based.
    line: u32,
    line_start: usize,
}

/// Cuts a top-level array into its items in one pass over the brackets and
/// strings, counting lines on the way. `None` when the text is not shaped
/// like an array of values (the reader then finds what is wrong). Each item
/// is then read by jiter, which checks it whole: the cut only has to be
/// right for texts that are JSON.
fn cut(text: &str) -> Option<Vec<Item>> {
    let mut scan = Scan::new(text.as_bytes(), 0);
    scan.blanks();
    if scan.byte()? != b'[' {
        return None;
    }
    scan.i += 1;
    scan.blanks();
    let mut items = Vec::new();
    if scan.byte()? == b']' {
        scan.i += 1;
    } else {
        loop {
            let (start, line, line_start) = (scan.i, scan.line, scan.line_start);
            scan.value()?;
            items.push(Item {
                range: start..scan.i,
                line,
                line_start,
            });
            scan.blanks();
            match scan.byte()? {
                b',' => {
                    scan.i += 1;
                    scan.blanks();
                }
                b']' => {
                    scan.i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    scan.blanks();
    (scan.i == text.len()).then_some(items)
}

/// A forward scan over JSON bytes that knows strings and brackets, nothing
/// more (see [`cut`]).
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    line: u32,
    line_start: usize,
}

impl<'a> Scan<'a> {
    fn new(b: &'a [u8], i: usize) -> Self {
        Scan {
            b,
            i,
            line: 0,
            line_start: 0,
        }
    }

    fn byte(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn newline(&mut self) {
        self.line += 1;
        self.line_start = self.i + 1;
    }

    fn blanks(&mut self) {
        while let Some(c) = self.byte() {
            match c {
                b' ' | b'\t' | b'\r' => {}
                b'\n' => self.newline(),
                _ => return,
            }
            self.i += 1;
        }
    }

    /// Moves past the string whose opening quote is at `i`.
    fn string(&mut self) -> Option<()> {
        let mut i = self.i + 1;
        loop {
            match *self.b.get(i)? {
                b'"' => break,
                b'\\' => i += 2,
                _ => i += 1,
            }
        }
        self.i = i + 1;
        Some(())
    }

    /// Moves past the value that starts at `i`.
    fn value(&mut self) -> Option<()> {
        match self.byte()? {
            b'"' => self.string(),
            b'[' | b'{' => {
                let mut depth = 0usize;
                loop {
                    // Most bytes are neither brackets, quotes nor newlines.
                    while !STRUCTURE[usize::from(*self.b.get(self.i)?)] {
                        self.i += 1;
                    }
                    match self.b[self.i] {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'[' | b'{' => depth += 1,
                        b'\n' => self.newline(),
                        _ => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                    }
                    self.i += 1;
                }
            }
            _ => {
                let start = self.i;
                while let Some(c) = self.byte() {
                    if matches!(c, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    self.i += 1;
                }
                (self.i > start).then_some(())
            }
        }
    }
}

/// The bytes [`Scan::value`] stops at inside a map or list.
static STRUCTURE: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'[' as usize] = true;
    t[b']' as usize] = true;
    t[b'{' as usize] = true;
    t[b'}' as usize] = true;
    t[b'\n' as usize] = true;
    t
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::Scalar;
    use proptest::prelude::*;
    use serde_json::Value as J;

    /// Line and column of `offset` counted the slow, obvious way: the oracle
    /// for [`Lines`].
    fn naive(text: &str, offset: usize) -> (u32, u32) {
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let segment = &text[line_start..offset];
        let col = if segment.len() <= WIDE_LINE {
            segment.chars().count()
        } else {
            segment.len()
        };
        (before.matches('\n').count() as u32 + 1, col as u32 + 1)
    }

    /// Checks a node against serde_json's reading of the same text: its span
    /// holds exactly the value (serde_json reads it back equal), its line and
    /// column are [`naive`]'s, strings are decoded like serde_json's, and
    /// plain scalars are kept as written.
    fn same(text: &str, node: &Node<'_>, v: &J) {
        let s = node.span;
        assert_eq!(
            serde_json::from_str::<J>(&text[s.offset..s.offset + s.len])
                .ok()
                .as_ref(),
            Some(v),
            "span {s:?}"
        );
        assert_eq!((s.line, s.col), naive(text, s.offset), "span {s:?}");
        match (&node.value, v) {
            (Value::Scalar(got, Style::Quoted), J::String(want)) => assert_eq!(got, want),
            (Value::Scalar(got, Style::Plain), _) => {
                assert_eq!(got, &text[s.offset..s.offset + s.len]);
                assert!(!v.is_string() && !v.is_array() && !v.is_object());
            }
            (Value::Seq(items), J::Array(want)) => {
                assert_eq!(items.len(), want.len());
                for (n, w) in items.iter().zip(want) {
                    same(text, n, w);
                }
            }
            (Value::Map(entries), J::Object(want)) => {
                assert_eq!(entries.len(), want.len(), "no duplicate keys here");
                for (k, n) in entries {
                    let key = k.text().unwrap();
                    assert_eq!((k.span.line, k.span.col), naive(text, k.span.offset));
                    assert_eq!(
                        serde_json::from_str::<String>(
                            &text[k.span.offset..k.span.offset + k.span.len]
                        )
                        .unwrap(),
                        key
                    );
                    same(text, n, &want[key]);
                }
            }
            other => panic!("{other:?}"),
        }
    }

    /// The whole text as the documents the reader gives.
    fn documents(text: &str) -> Vec<Node<'_>> {
        let p = parse_json(text);
        assert!(p.error.is_none(), "{:?}", p.error);
        p.documents
    }

    fn syntax(text: &str) -> (String, u32, u32) {
        match parse_json(text) {
            Parsed {
                documents,
                error: Some(YamlError::Syntax { message, span }),
            } => {
                assert!(documents.is_empty());
                (message, span.line, span.col)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn escapes_numbers_and_literals_read_like_serde_json() {
        let text = r#"{"a\"b": "\u00e9\n\ud83d\ude00\/", "n": [0, -0, 1.5e3, 1E-2, 123456789012345678901234567890],
 "t": true, "f": false, "z": null, "e": "", "u": "é€😀"}"#;
        let docs = documents(text);
        assert_eq!(docs.len(), 1);
        same(text, &docs[0], &serde_json::from_str(text).unwrap());
        let n = docs[0].get("n").unwrap().as_seq().unwrap();
        assert_eq!(n[0].scalar(), Some(Scalar::Int(0)));
        assert_eq!(n[2].scalar(), Some(Scalar::Str("1.5e3")));
        assert_eq!(docs[0].get("z").unwrap().scalar(), Some(Scalar::Null));
        assert_eq!(docs[0].get("t").unwrap().scalar(), Some(Scalar::Bool(true)));
        // A top-level scalar, or object, is one document.
        assert_eq!(documents(" 80 ")[0].scalar(), Some(Scalar::Int(80)));
        assert_eq!(documents("\"80\"")[0].scalar(), Some(Scalar::Str("80")));
    }

    #[test]
    fn duplicate_keys_are_kept_in_order() {
        let docs = documents(r#"{"a": 1, "a": 2}"#);
        let keys: Vec<_> = docs[0]
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.text().unwrap(), v.text().unwrap(), k.span.col))
            .collect();
        assert_eq!(keys, vec![("a", "1", 2), ("a", "2", 10)]);
    }

    /// What the loader always refused it still refuses, with serde_json's
    /// words at serde_json's line and column (characters, after unicode).
    #[test]
    fn syntax_errors_are_serde_jsons_at_nested_positions() {
        assert_eq!(
            syntax("[\n {\"a\": {\"b\": [1, 2,]}}\n]"),
            ("expected value".to_string(), 2, 20)
        );
        assert_eq!(
            syntax("{\"é€😀\": \"é\",\n  \"ü\": {\"x\": tru}}"),
            ("expected ident".to_string(), 2, 17)
        );
        assert_eq!(syntax(""), ("EOF while parsing a value".to_string(), 1, 1));
        assert_eq!(syntax("[1] x"), ("trailing characters".to_string(), 1, 5));
        assert_eq!(syntax("{\"a\": 01}"), ("invalid number".to_string(), 1, 8));
        assert_eq!(
            syntax("{\"a\": \"x\ty\"}"),
            (
                "control character (\\u0000-\\u001F) found while parsing a string".to_string(),
                1,
                8
            )
        );
        assert_eq!(
            syntax("[{\"a\": 1}, {1: 2}]"),
            ("key must be a string".to_string(), 1, 13)
        );
        assert_eq!(syntax("[NaN]"), ("expected value".to_string(), 1, 2));
        // A syntax error after a document that is too deep still refuses the
        // whole file as a syntax error (serde_json checks the whole text).
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(syntax(&format!("[{deep},\n {{\"a\" 1}}]")).1, 2);
    }

    /// A string with a lone surrogate escape: serde_json skips over it when
    /// it only checks the text, and refused it when it decoded the string
    /// (a value) or the map (a key). The reader refuses it first; the error
    /// is still serde_json's, located as it always was.
    #[test]
    fn a_lone_surrogate_is_refused_as_before() {
        let (message, line, col) = syntax("[\n {\"a\": \"x\\udc00\"}\n]");
        assert_eq!(
            (message.as_str(), line, col),
            (
                "lone leading surrogate in hex escape at line 1 column 8",
                2,
                8
            )
        );
        let (message, line, col) = syntax("[\n {\"a\": 1,\n  \"x\\udc00\": 2}\n]");
        assert_eq!(
            (message.as_str(), line, col),
            (
                "lone leading surrogate in hex escape at line 2 column 10",
                2,
                2
            )
        );
    }

    #[test]
    fn too_deep_keeps_the_documents_before_it() {
        const DEPTH_OF_FIRST: usize = MAX_DEPTH - 2;
        let deep = format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let text = format!("[{{\"a\": 1}},\n {{\"b\": 2}},\n {{\"c\": {deep}}},\n {{\"d\": 4}}]");
        let (docs, error) = parse_json_each(&text, |n| {
            n.as_map().unwrap()[0].0.text().unwrap().to_string()
        });
        assert_eq!(docs, vec!["a", "b"]);
        // Items are at depth 1, so the map's value is at 2 and the list 62
        // levels into it is the first too deep.
        let first = text.find("[[").unwrap();
        match error {
            Some(YamlError::TooDeep { span }) => {
                assert_eq!(span.offset - first, DEPTH_OF_FIRST);
                let raw = serde_json::Deserializer::from_str(&text[span.offset..])
                    .into_iter::<&RawValue>()
                    .next()
                    .unwrap()
                    .unwrap();
                assert_eq!(span.len, raw.get().len());
                assert_eq!((span.line, span.col), naive(&text, span.offset));
            }
            other => panic!("{other:?}"),
        }
        // A top-level map is at depth 0.
        let one = format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_json(&one).error.is_none());
        let deeper = format!("[{one}]");
        assert!(matches!(
            parse_json(&deeper).error,
            Some(YamlError::TooDeep { .. })
        ));
    }

    /// A minified fleet is one line: columns count characters for the first
    /// [`WIDE_LINE`] bytes, bytes beyond, and every item is where serde_json
    /// sees it.
    #[test]
    fn a_one_line_minified_fleet_keeps_positions() {
        let items: Vec<String> = (0..5_000)
            .map(|i| format!(r#"{{"berth":1,"host":"h-é{i}","labels":{{"z":"€"}}}}"#))
            .collect();
        let text = format!("[{}]", items.join(","));
        let docs = documents(&text);
        let want: Vec<J> = serde_json::from_str(&text).unwrap();
        assert_eq!(docs.len(), 5_000);
        for (d, w) in docs.iter().zip(&want) {
            same(&text, d, w);
        }
        let last = docs[4_999].get("host").unwrap().span;
        assert_eq!((last.line, last.col as usize), (1, last.offset + 1));
        let bad = text.replacen(r#""h-é4000""#, r#""h-é4000"x"#, 1);
        let at = bad.find(r#"x,"labels""#).unwrap();
        assert_eq!(
            syntax(&bad),
            ("expected `,` or `}`".to_string(), 1, at as u32 + 1)
        );
    }

    /// A fleet of 80,000 documents, one per line, broken in item 70,000: no
    /// document, serde_json's error on line 70,001.
    #[test]
    fn a_syntax_error_in_item_70000_refuses_the_fleet() {
        let mut text = String::from("[\n");
        for i in 0..80_000 {
            let sep = if i + 1 < 80_000 { "," } else { "" };
            if i == 69_999 {
                text.push_str(&format!(
                    "{{\"berth\": 1, \"container\": \"c-{i}\" \"needs\": []}}{sep}\n"
                ));
            } else {
                text.push_str(&format!(
                    "{{\"berth\": 1, \"container\": \"c-{i}\", \"needs\": []}}{sep}\n"
                ));
            }
        }
        text.push(']');
        assert_eq!(
            syntax(&text),
            ("expected `,` or `}`".to_string(), 70_001, 37)
        );
        let fixed = text.replace("\"c-69999\" ", "\"c-69999\", ");
        let docs = documents(&fixed);
        assert_eq!(docs.len(), 80_000);
        let c = docs[69_999].get("container").unwrap();
        assert_eq!(
            (c.span.line, c.span.col, c.text()),
            (70_001, 27, Some("c-69999"))
        );
    }

    /// The cut is serde_json's: each item's bytes are the raw value
    /// serde_json finds, and its line is where that value starts.
    #[test]
    fn the_cut_matches_serde_jsons_items() {
        let text =
            "[ \"a,]\\\"\" ,\n{\"x\": [1, {\"y\": \"}\"}]},\r\n\t-1.5e3 ,true,null, [] ,{}\n]\n";
        let items = cut(text).unwrap();
        let raw: Vec<&RawValue> = serde_json::from_str(text).unwrap();
        assert_eq!(items.len(), raw.len());
        for (item, raw) in items.iter().zip(raw) {
            assert_eq!(&text[item.range.clone()], raw.get());
            let (line, _) = naive(text, item.range.start);
            assert_eq!(item.line + 1, line);
            assert_eq!(
                item.line_start,
                text[..item.range.start].rfind('\n').map_or(0, |i| i + 1)
            );
        }
        for bad in ["[1,]", "[1 2]", "[1] 2", "[", "[\"a]", "{}", "[,1]"] {
            assert!(cut(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn json_documents_converted_one_by_one_up_to_the_first_error() {
        let deep = format!(
            "{}1{}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        let text = format!("[\n {{\"a\": 1}},\n {{\"b\": {deep}}},\n {{\"c\": 3}}\n]");
        let (firsts, error) = parse_json_each(&text, |node| {
            let (key, value) = &node.as_map().unwrap()[0];
            (key.text().unwrap().to_string(), value.span.line)
        });
        assert_eq!(firsts, vec![("a".to_string(), 2)]);
        assert!(
            matches!(error, Some(YamlError::TooDeep { .. })),
            "{error:?}"
        );
    }

    #[test]
    fn json_keeps_positions() {
        let text = "[\n {\"berth\": 1,\n  \"host\": \"h\"}\n]";
        let p = parse_json(text);
        assert!(p.error.is_none(), "{:?}", p.error);
        assert_eq!(p.documents.len(), 1);
        let host = p.documents[0].get("host").unwrap();
        assert_eq!(host.scalar(), Some(Scalar::Str("h")));
        assert_eq!((host.span.line, host.span.col), (3, 11));
        let (key, _) = &p.documents[0].as_map().unwrap()[1];
        assert_eq!((key.span.line, key.span.col, key.span.len), (3, 3, 6));
        let tricky = parse_json(r#"{"a\"b": 1, "c\\": 2}"#);
        let keys: Vec<_> = tricky.documents[0]
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| (k.text().unwrap().to_string(), k.span.col, k.span.len))
            .collect();
        assert_eq!(
            keys,
            vec![(r#"a"b"#.to_string(), 2, 6), (r"c\".to_string(), 13, 5)]
        );
        let bad = parse_json("{\n \"a\": ,\n}");
        match bad.error {
            Some(YamlError::Syntax { span, .. }) => assert_eq!(span.line, 2),
            other => panic!("{other:?}"),
        }
    }

    /// 100,000-deep JSON is refused as too deep before anything recurses:
    /// read on a 1 MiB stack, which recursion per level would overflow. (The
    /// reader recurses to [`MAX_DEPTH`]; serde_json's check of the whole
    /// text does not recurse.) Unclosed, it is a syntax error.
    #[test]
    fn deep_nesting_is_refused_before_anything_recurses() {
        let handle = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(|| {
                let closed = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
                let open = "[".repeat(100_000);
                (parse_json(&closed).error, parse_json(&open).error)
            })
            .unwrap();
        let (closed, open) = handle.join().expect("no stack overflow");
        assert!(
            matches!(closed, Some(YamlError::TooDeep { .. })),
            "{closed:?}"
        );
        assert!(matches!(open, Some(YamlError::Syntax { .. })), "{open:?}");
        let json = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(parse_json(&json).error.is_some());
    }

    fn json_value() -> impl Strategy<Value = J> {
        let leaf = prop_oneof![
            Just(J::Null),
            any::<bool>().prop_map(J::Bool),
            any::<i64>().prop_map(J::from),
            (-1e6f64..1e6).prop_map(J::from),
            "[a-z\"\\\\/\n\t\u{e9}\u{20ac}\u{1f600}\u{7f} ]{0,8}".prop_map(J::String),
        ];
        leaf.prop_recursive(5, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(J::Array),
                prop::collection::btree_map("[a-z\u{e9}\"]{0,4}", inner, 0..6)
                    .prop_map(|m| J::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Any JSON, pretty or minified: every node is where serde_json
        /// finds it, with the same content, and a fleet's items come out in
        /// order.
        #[test]
        fn reads_any_json_like_serde_json(items in prop::collection::vec(json_value(), 0..8), pretty in any::<bool>()) {
            let fleet = J::Array(items.clone());
            let text = if pretty {
                serde_json::to_string_pretty(&fleet).unwrap()
            } else {
                serde_json::to_string(&fleet).unwrap()
            };
            let docs = documents(&text);
            prop_assert_eq!(docs.len(), items.len());
            for (d, w) in docs.iter().zip(&items) {
                same(&text, d, w);
            }
            let in_order: Vec<_> = fleet_in_order(&text, &|n| n).into_iter().map(|r| r.unwrap().span).collect();
            prop_assert_eq!(in_order, docs.iter().map(|d| d.span).collect::<Vec<_>>());
        }

        /// One byte changed, added or removed: accepted exactly when
        /// serde_json accepts the text, and refused with serde_json's
        /// message on serde_json's line.
        #[test]
        fn refuses_what_serde_json_refuses(items in prop::collection::vec(json_value(), 1..5), at in any::<prop::sample::Index>(), byte in prop::sample::select(b"[]{},:\"\\ 0-.eatn\n".to_vec()), op in 0..3u8) {
            let mut bytes = serde_json::to_vec_pretty(&J::Array(items)).unwrap();
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => { bytes.remove(i); }
            }
            let Ok(text) = String::from_utf8(bytes) else { return Ok(()) };
            let parsed = parse_json(&text);
            let checked = if text.trim_start().starts_with('[') {
                serde_json::from_str::<Vec<&RawValue>>(&text).err()
            } else {
                serde_json::from_str::<&RawValue>(&text).err()
            };
            match (checked, parsed.error) {
                (Some(e), Some(YamlError::Syntax { message, span })) => {
                    prop_assert!(e.to_string().starts_with(&message), "{} / {}", e, message);
                    prop_assert_eq!(span.line as usize, e.line());
                }
                (Some(e), other) => prop_assert!(false, "{:?} / {}", other, e),
                // serde_json skips over a lone surrogate when it only checks
                // the text; the reader refuses it, as the loader did.
                (None, Some(YamlError::Syntax { message, .. })) => {
                    let e = serde_json::from_str::<J>(&text).unwrap_err().to_string();
                    prop_assert!(e.contains("surrogate") && message.contains("surrogate"), "{} / {}", e, message);
                }
                (None, other) => prop_assert!(other.is_none(), "{:?}", other),
            }
        }
    }
}
