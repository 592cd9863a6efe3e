//! `berth check` (to be written).

use crate::args::CheckArgs;

pub fn run(_args: CheckArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`berth check` is not implemented yet")
}
