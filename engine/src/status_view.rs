//! The readable view of a state, `berth status --format json`: the state's
//! keys and `state_file` (the store's path), every object's keys in
//! alphabetical order, printed indented by two spaces.
//!
//! It is the biggest text berth prints for a host (about 11 MB at 5,000
//! holdings), so it is written straight from the state, without a copy of it
//! as a `serde_json::Value` tree (what `status` once built, and what made the
//! view cost as much as the load: docs/performance.md), and the big maps
//! (holdings, reservations, provider records) are rendered in chunks on all
//! cores, each chunk indented at its depth by `Nested`. The output is the
//! bytes that the tree printed (a `Value` object's keys are sorted), which
//! `the_status_view_is_the_whole_state_in_sorted_keys` and
//! `a_big_status_view_is_the_value_tree_view` in `engine/tests/store.rs` hold
//! it to.

use std::collections::BTreeMap;
use std::io::{self, Write};

use rayon::prelude::*;
use serde::Serialize;

use crate::state::State;

/// See the module doc: the whole view as one string.
pub fn status_json(state: &State, state_file: &str) -> String {
    // About 2,200 bytes a holding of three bindings and 290 a reservation
    // (measured at 5,000 holdings): sized once, the megabytes of a full host
    // are not copied as the buffer grows.
    let size = 4096 + 2304 * state.holdings.len() + 320 * state.reservations.len();
    let mut out = Vec::with_capacity(size);
    write_status_json(state, state_file, &mut out).expect("writing into memory cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// See the module doc: the view written to `w` as it is rendered, a batch
/// of chunks at a time, so that printing a big host's view holds a few
/// chunks in memory instead of all of it (`berth status` writes stdout
/// through this). `w` gets many small writes: give it a buffered writer.
pub fn write_status_json(state: &State, state_file: &str, w: &mut dyn Write) -> io::Result<()> {
    let mut view = Fields::open(w)?;
    view.value("berth_state", &state.berth_state)?;
    view.map("holdings", &state.holdings)?;
    view.value("host", &state.host)?;
    view.value("pending_releases", &state.pending_releases)?;
    view.map("provided", &state.provided)?;
    view.map("reservations", &state.reservations)?;
    view.value("state_file", state_file)?;
    view.close()
}

/// The fields of the view's top object, written in the order they are given
/// (alphabetical: a field added to [`State`] must be added here in its
/// place; the tests above fail otherwise). Below the top, the model's own
/// serialization is sorted: its fields are declared in alphabetical order
/// (see [`crate::state::HeldBinding`]).
struct Fields<'a> {
    out: &'a mut dyn Write,
    first: bool,
}

impl<'a> Fields<'a> {
    fn open(out: &'a mut dyn Write) -> io::Result<Fields<'a>> {
        out.write_all(b"{")?;
        Ok(Fields { out, first: true })
    }

    /// `"name": ` on its own line at depth 1.
    fn key(&mut self, name: &str) -> io::Result<()> {
        Nested::at(1).entry_key(&mut self.out, self.first, name)?;
        self.first = false;
        Ok(())
    }

    fn value<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> io::Result<()> {
        self.key(name)?;
        Nested::at(1).write(&mut self.out, value)
    }

    /// A map of the state. Its entries are rendered in chunks of
    /// [`CHUNK`], a batch of chunks at a time on all cores, each batch
    /// written before the next is rendered into the same buffers.
    fn map<V: Serialize + Sync>(
        &mut self,
        name: &str,
        map: &BTreeMap<String, V>,
    ) -> io::Result<()> {
        self.key(name)?;
        if map.is_empty() {
            return self.out.write_all(b"{}");
        }
        self.out.write_all(b"{")?;
        let entries: Vec<(&String, &V)> = map.iter().collect();
        // Each entry is a line `"key": value` at depth 2; the first of the
        // map opens with a bare newline, the others with a comma.
        let render = |out: &mut Vec<u8>, first: bool, chunk: &[(&String, &V)]| {
            out.clear();
            for (i, (k, v)) in chunk.iter().enumerate() {
                let entry = Nested::at(2);
                entry
                    .entry_key(out, first && i == 0, k)
                    .and_then(|()| entry.write(out, v))
                    .expect("writing into memory cannot fail");
            }
        };
        let mut bufs = vec![Vec::new(); 2 * rayon::current_num_threads()];
        if entries.len() <= CHUNK {
            render(&mut bufs[0], true, &entries);
            self.out.write_all(&bufs[0])?;
        } else {
            for (b, batch) in entries.chunks(bufs.len() * CHUNK).enumerate() {
                bufs.par_iter_mut()
                    .zip(batch.par_chunks(CHUNK))
                    .enumerate()
                    .for_each(|(n, (buf, chunk))| render(buf, b == 0 && n == 0, chunk));
                for buf in &bufs[..batch.len().div_ceil(CHUNK)] {
                    self.out.write_all(buf)?;
                }
            }
        }
        Nested::at(1).newline(&mut self.out)?;
        self.out.write_all(b"}")
    }

    fn close(self) -> io::Result<()> {
        self.out.write_all(b"\n}")
    }
}

/// Entries of a map of the view rendered as one chunk (about 560 KB of
/// holdings); a map this small is rendered on the calling thread.
const CHUNK: usize = 256;

/// serde_json's pretty printing (two spaces a level), starting at `depth`
/// instead of 0, so that a part of the view can be written on its own and
/// land at its place.
#[derive(Clone, Copy)]
struct Nested {
    depth: usize,
    has_value: bool,
}

impl Nested {
    fn at(depth: usize) -> Nested {
        Nested {
            depth,
            has_value: false,
        }
    }

    /// `value` at this depth.
    fn write<W: ?Sized + Write, T: Serialize + ?Sized>(
        self,
        out: &mut W,
        value: &T,
    ) -> io::Result<()> {
        let mut ser = serde_json::Serializer::with_formatter(out, self);
        value.serialize(&mut ser).map_err(io::Error::from)
    }

    /// A new line at this depth holding `"key": `, after a comma unless first.
    fn entry_key<W: ?Sized + Write>(
        mut self,
        out: &mut W,
        first: bool,
        key: &str,
    ) -> io::Result<()> {
        use serde_json::ser::Formatter;
        self.begin_object_key(out, first)?;
        serde_json::to_writer(&mut *out, key).map_err(io::Error::from)?;
        self.begin_object_value(out)
    }
}

impl serde_json::ser::Formatter for Nested {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.newline(w)?;
        }
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.newline(w)?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.begin_array_value(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

impl Nested {
    /// A line break and this depth's indentation.
    fn newline<W: ?Sized + Write>(&self, w: &mut W) -> io::Result<()> {
        const SPACES: [u8; 64] = [b' '; 64];
        w.write_all(b"\n")?;
        let mut width = 2 * self.depth;
        while width > 0 {
            let n = width.min(SPACES.len());
            w.write_all(&SPACES[..n])?;
            width -= n;
        }
        Ok(())
    }
}
