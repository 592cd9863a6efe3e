//! `berth run` (to be written).

use crate::args::RunArgs;

pub fn run(_args: RunArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`berth run` is not implemented yet")
}
