//! The provider operation (`BERTH_OP`): a leaf module of plain data, so that
//! the request builder ([`crate::protocol`]) and the typed failure
//! ([`crate::error`]) can both name it without importing each other.

use std::fmt;

/// A provider operation (`BERTH_OP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Make the resource exist.
    Provide,
    /// Take it away.
    Release,
    /// Say whether it is still there.
    Check,
}

impl Op {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Provide => "provide",
            Op::Release => "release",
            Op::Check => "check",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
