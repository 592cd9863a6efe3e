//! `berth apply` (to be written).

use crate::args::ApplyArgs;

pub fn run(_args: ApplyArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`berth apply` is not implemented yet")
}
