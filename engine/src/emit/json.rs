//! `--emit json`: the container's plan together with its edits, for tools.

use serde::Serialize;

use crate::edits::Edits;
use crate::plan::ContainerPlan;

/// One container's plan and the edits it resolves to.
#[derive(Debug, Clone, Serialize)]
pub struct PlanWithEdits<'a> {
    /// The container's part of the plan (bindings with values).
    #[serde(flatten)]
    pub plan: &'a ContainerPlan,
    /// The neutral edits every other emitter translates.
    pub edits: &'a Edits,
}

/// The JSON value for one container.
pub fn emit(plan: &ContainerPlan, edits: &Edits) -> serde_json::Value {
    serde_json::to_value(PlanWithEdits { plan, edits }).expect("plans serialize")
}
