//! `berth-providers`: runs provider executables (to be written: issue 4).
#![warn(missing_docs)]
