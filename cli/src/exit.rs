//! berth's exit codes, a documented interface (`docs/cli.md`).

/// Done.
pub const OK: u8 = 0;
/// Unsatisfiable, or invalid input.
pub const INVALID: u8 = 1;
/// Usage error (bad flags).
pub const USAGE: u8 = 2;
/// A provider failed or timed out (everything was rolled back).
pub const PROVIDER: u8 = 3;
