//! `berth schema` (to be written).

use crate::args::SchemaArgs;

pub fn run(_args: SchemaArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`berth schema` is not implemented yet")
}
