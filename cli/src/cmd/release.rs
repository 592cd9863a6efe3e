//! `berth release` (to be written).

use crate::args::ReleaseArgs;

pub fn run(_args: ReleaseArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`berth release` is not implemented yet")
}
