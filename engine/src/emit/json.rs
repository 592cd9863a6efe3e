//! `--emit json`: the plan with each satisfied container's edits, for tools.

use serde_json::Value;

use crate::edits::Edits;
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
