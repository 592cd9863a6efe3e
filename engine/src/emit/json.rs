//! `--emit json`: the plan with each satisfied container's edits, for tools.

use serde_json::Value;

use crate::edits::Edits;
use crate::emit::emitter::{Emitter, Input, Output};
use crate::emit::EmitError;
use crate::plan::Plan;

/// The plan as JSON (the design's keys), each container carrying `edits` when
/// it has any (satisfied and resolved).
pub fn emit(plan: &Plan, edits: &[Edits]) -> Value {
    let mut v = serde_json::to_value(plan).expect("plans serialize");
    if let Some(cs) = v.get_mut("containers").and_then(Value::as_array_mut) {
        for c in cs {
            let name = c
                .get("container")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if let Some(e) = edits.iter().find(|e| e.container == name) {
                c["edits"] = serde_json::to_value(e).expect("edits serialize");
            }
        }
    }
    v
}

/// `--emit json`: [`emit`] pretty-printed, for tools; it expresses every edit,
/// so it has no notes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl Emitter for Json {
    fn name(&self) -> &'static str {
        "json"
    }
    fn about(&self) -> &'static str {
        "The plan with its edits, as JSON"
    }
    fn extension(&self) -> &'static str {
        "json"
    }
    fn render(&self, input: &Input<'_>) -> Result<Output, EmitError> {
        let v = emit(input.plan, input.edits);
        Ok(Output {
            text: serde_json::to_string_pretty(&v).expect("json values serialize") + "\n",
            notes: Vec::new(),
        })
    }
}
