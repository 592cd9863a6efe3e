//! The one size rule: every file (and stdin) berth reads as input goes
//! through [`read_text`] or [`read_stdin`], which refuse anything larger than
//! the limit before reading it whole, and never read more than the limit plus
//! one byte even when the size lies (a growing file, a `/proc` file that says
//! 0, a pipe).
//!
//! Why: the files come from whoever opened the pull request that CI checks,
//! and the memory a command needs grows with the input (the YAML node tree
//! alone is about 17 bytes per byte of a list of empty items). A file over
//! the limit is refused with `berth::file::too-large`, never an allocation
//! abort. The limits are [`MAX_FILE_SIZE`] for one host's files and
//! [`MAX_FLEET_FILE_SIZE`] for the fleet files `place` and `export` read;
//! `--max-file-size` changes them where a command offers it.
//!
//! A file found while walking a folder (not named) that is over the limit is
//! foreign unless it looks like berth's ([`looks_like_berth`]): a 40 MB
//! `package-lock.json` in a repository must not fail `berth check`.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use crate::diag::{Code, Diagnostic};
use crate::model::{Source, Span};

/// The limit for a host's files (manifests, need specs, Dockerfiles, stdin):
/// 16 MiB.
pub const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// The limit for fleet files (`place`, `export`): 256 MiB. A fleet of
/// 150,000 containers is 23 MB of YAML.
pub const MAX_FLEET_FILE_SIZE: u64 = 256 * 1024 * 1024;

/// How much of an oversize found file [`looks_like_berth`] reads.
const HEAD: u64 = 64 * 1024;

/// Why a file could not be read as text.
#[derive(Debug)]
pub enum ReadError {
    /// Opening or reading failed, or it is not a regular file.
    Io(std::io::Error),
    /// Larger than the limit: its size when known, else "more than".
    TooLarge {
        /// The size the file said it has, when it said.
        size: Option<u64>,
        /// The limit.
        limit: u64,
    },
    /// Not UTF-8: the text read (lossily) and the first bad byte.
    NotUtf8 {
        /// The text, invalid bytes replaced, for the snippet.
        text: String,
        /// Offset of the first byte that is not UTF-8.
        at: usize,
    },
}

impl ReadError {
    /// The diagnostic for this error in the file named `name` (`<stdin>` for
    /// stdin).
    pub fn diagnostic(self, name: &Path) -> Diagnostic {
        let empty = || Source::new(name, "");
        match self {
            ReadError::Io(e) => {
                Diagnostic::error(Code::IoRead, format!("cannot read the file: {e}"))
                    .at_file(&empty())
            }
            ReadError::TooLarge { size, limit } => {
                let size = match size {
                    Some(s) => format!("{s} bytes"),
                    None => format!("more than {limit} bytes"),
                };
                Diagnostic::error(
                    Code::FileTooLarge,
                    format!("the file is {size}, more than the limit of {limit} bytes"),
                )
                .help("split it into several files, or raise the limit with --max-file-size")
                .at_file(&empty())
            }
            ReadError::NotUtf8 { text, at } => {
                let source = Source::new(name, text);
                let span = span_at(&source, at);
                Diagnostic::error(Code::NotUtf8, "the file is not UTF-8 text")
                    .at(&source, span)
                    .label("first byte that is not UTF-8")
                    .help("berth files are UTF-8 YAML or JSON")
            }
        }
    }
}

/// A zero-length span at a byte offset, with its line and column.
pub(crate) fn span_at(source: &Arc<Source>, offset: usize) -> Span {
    let text: &str = &source.text;
    let before = &text[..offset.min(text.len())];
    let line = before.bytes().filter(|&b| b == b'\n').count() as u32 + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Span {
        offset,
        len: 0,
        line,
        col: before[line_start..].chars().count() as u32 + 1,
    }
}

/// Reads a regular file as UTF-8 text of at most `limit` bytes. The size
/// and type are asked of the open file (`fstat`), so the file cannot be
/// swapped for a FIFO between the check and the read.
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    let (file, size) = open_regular(path)?;
    if size > limit {
        return Err(ReadError::TooLarge {
            size: Some(size),
            limit,
        });
    }
    read_limited(file, limit, size)
}

/// Reads stdin as UTF-8 text of at most `limit` bytes.
pub fn read_stdin(limit: u64) -> Result<String, ReadError> {
    read_limited(std::io::stdin().lock(), limit, 0)
}

/// Whether the regular file at `path` is larger than `limit` (false when
/// it cannot be opened or is not a regular file: reading it says why).
pub fn is_oversize(path: &Path, limit: u64) -> bool {
    open_regular(path).is_ok_and(|(_, size)| size > limit)
}

/// Reads at most `limit` bytes and one more, to tell "exactly the limit"
/// from "over it" without trusting any size. `size` (what `fstat` said, 0
/// when unknown) only sizes the buffer, so a fleet file is read into one
/// allocation instead of a doubling series of copies; the limit, not the
/// size, bounds what is read.
fn read_limited(reader: impl Read, limit: u64, size: u64) -> Result<String, ReadError> {
    let mut bytes = Vec::with_capacity(size.min(limit).saturating_add(1) as usize);
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { size: None, limit });
    }
    String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8 {
        at: e.utf8_error().valid_up_to(),
        text: String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// Opens a regular file for reading without waiting: opening a FIFO blocks
/// until a writer comes, so it is opened with `O_NONBLOCK` (which changes
/// nothing for reading a regular file) and refused by its type. Returns the
/// file and its size, both from the one `fstat`.
fn open_regular(path: &Path) -> Result<(std::fs::File, u64), ReadError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(ReadError::Io)?;
    let m = file.metadata().map_err(ReadError::Io)?;
    if m.is_dir() {
        return Err(ReadError::Io(std::io::Error::other("it is a directory")));
    }
    if !m.is_file() {
        return Err(ReadError::Io(std::io::Error::other(format!(
            "not a regular file (it is {})",
            file_type_name(&m.file_type())
        ))));
    }
    Ok((file, m.len()))
}

/// A word for a file that is not a regular file, for the diagnostic.
fn file_type_name(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

/// Whether the start of a file (its first 64 KiB) looks like a berth file:
/// a top-level `berth:` key, or the keys of a berth shape (`container:` with
/// `needs:`, `host:` with `provides:`), as YAML lines at column 0 or as JSON
/// keys (`"berth":`). Used for a file too large to parse, found in a folder:
/// one that looks like berth's fails the check, any other is skipped as
/// foreign.
pub fn looks_like_berth(path: &Path) -> bool {
    let mut head = Vec::new();
    let read = open_regular(path)
        .map_err(|_| ())
        .and_then(|(f, _)| f.take(HEAD).read_to_end(&mut head).map_err(|_| ()));
    if read.is_err() {
        return false;
    }
    let head = String::from_utf8_lossy(&head);
    let yaml_key = |k: &str| {
        head.lines()
            .any(|l| l.strip_prefix(k).is_some_and(|r| r.starts_with(':')))
    };
    let json_key = |k: &str| {
        let quoted = format!("\"{k}\"");
        head.match_indices(&quoted)
            .any(|(i, _)| head[i + quoted.len()..].trim_start().starts_with(':'))
    };
    let key = |k: &str| yaml_key(k) || json_key(k);
    key("berth") || (key("container") && key("needs")) || (key("host") && key("provides"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_whatever_the_size_says() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.yaml");
        std::fs::write(&p, "berth: 1\n").unwrap();
        assert_eq!(read_text(&p, 9).unwrap(), "berth: 1\n");
        assert!(matches!(
            read_text(&p, 8),
            Err(ReadError::TooLarge {
                size: Some(9),
                limit: 8
            })
        ));
        // A reader that says nothing of its size is cut at the limit plus one.
        assert!(matches!(
            read_limited(std::io::repeat(b'a'), 1000, 0),
            Err(ReadError::TooLarge {
                size: None,
                limit: 1000
            })
        ));
        // The size only sizes the buffer: a file that grew after `fstat`
        // is still cut at the limit, and one that shrank reads as it is.
        assert!(matches!(
            read_limited(std::io::repeat(b'a'), 1000, 10),
            Err(ReadError::TooLarge { size: None, .. })
        ));
        assert_eq!(read_limited(&b"abc"[..], 1000, u64::MAX).unwrap(), "abc");
        let d = read_text(&p, 8).unwrap_err().diagnostic(&p);
        assert_eq!(d.code, Code::FileTooLarge);
        assert_eq!(d.source.unwrap().path, p);
        assert!(is_oversize(&p, 8) && !is_oversize(&p, 9));
    }

    #[test]
    fn the_start_of_a_berth_file_is_told_from_foreign_json() {
        let dir = tempfile::tempdir().unwrap();
        let looks = |text: &str| {
            let p = dir.path().join("x.json");
            std::fs::write(&p, text).unwrap();
            looks_like_berth(&p)
        };
        assert!(looks("berth: 1\ncontainer: x\n"));
        assert!(looks("# fleet\nhost: a\nprovides:\n"));
        assert!(looks("{\"berth\" : 1, \"container\": \"x\"}"));
        assert!(looks("{\"container\":\"x\",\"needs\":[]}"));
        assert!(!looks(
            "{\"name\": \"pkg\", \"lockfileVersion\": 3, \"host\": \"example.com\"}"
        ));
        assert!(!looks("  berth: 1\nhosts: []\n"));
        assert!(!looks("{\"description\": \"berth: not a key\"}"));
    }
}
