//! `berth schema need|host`: print the JSON Schema of a file format to stdout,
//! for editors (yaml-language-server) and CI.

use crate::args::{SchemaArgs, SchemaWhich};
use crate::exit;
use crate::out::outln;

pub fn run(args: SchemaArgs) -> anyhow::Result<u8> {
    let schema = match args.which {
        SchemaWhich::Need => berth_specs::schema::need_schema(),
        SchemaWhich::Host => berth_specs::schema::host_schema(),
    };
    outln!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(exit::OK)
}
