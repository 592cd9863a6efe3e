//! `berth plan` (to be written).

use crate::args::PlanArgs;

pub fn run(_args: PlanArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`berth plan` is not implemented yet")
}
