//! `berth status` (to be written).

use crate::args::StatusArgs;

pub fn run(_args: StatusArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`berth status` is not implemented yet")
}
