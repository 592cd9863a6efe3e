//! `berth place` (to be written).

use crate::args::PlaceArgs;

pub fn run(_args: PlaceArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`berth place` is not implemented yet")
}
