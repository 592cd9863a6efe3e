//! The result of a solve: for each container its bindings (which provide serves
//! each need, with the resolved value) or its unmet needs, and the provider
//! steps that would fill the gaps, in dependency order.
//!
//! A plan is pure data and serializes to the JSON keys of the design
//! (`satisfied`, `host`, `containers[]`, `steps[]`); `berth plan`, `apply` and the
//! emitters all consume this one structure, so what `plan` shows is what
//! `apply` does.

use std::time::Duration;

use berth_specs::{Kind, ProvideDetail, Span};
use serde::{Serialize, Serializer};

use crate::explain::Unmet;
use crate::state::{BindingSource, HeldBinding};

/// The solver's answer for one host and a set of need specs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// True when every container is satisfied (provider steps allowed) and the
    /// steps have an order.
    pub satisfied: bool,
    /// The host's name.
    pub host: String,
    /// One entry per spec, in the order given.
    pub containers: Vec<ContainerPlan>,
    /// Provider runs that fill the gaps, in dependency order (a network before
    /// the addresses on it).
    pub steps: Vec<Step>,
    /// Set when the steps' dependencies form a cycle: the steps on it, in order,
    /// the first repeated at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cycle: Option<Vec<StepKey>>,
}

impl Plan {
    /// The plan of the container named `name`.
    pub fn container(&self, name: &str) -> Option<&ContainerPlan> {
        self.containers.iter().find(|c| c.container == name)
    }

    /// The part of this plan about one container: its entry and the steps it
    /// uses (`place --out` writes one file per container from a host's plan).
    /// Step indices in its bindings still count in this plan's `steps`.
    pub fn only(&self, name: &str) -> Option<Plan> {
        let c = self.container(name)?;
        Some(Plan {
            satisfied: c.satisfied,
            host: self.host.clone(),
            containers: vec![c.clone()],
            steps: self
                .steps
                .iter()
                .filter(|s| s.users.contains(&c.container))
                .cloned()
                .collect(),
            cycle: None,
        })
    }
}

/// One container's part of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerPlan {
    /// Container name.
    pub container: String,
    /// Image from the spec.
    pub image: Option<String>,
    /// True when every need is bound. An unsatisfied container has no bindings:
    /// it is all or nothing.
    pub satisfied: bool,
    /// One binding per need in spec order, then the implied networks.
    pub bindings: Vec<Binding>,
    /// The needs that cannot be met, with reasons.
    pub unmet: Vec<Unmet>,
}

/// Which provide serves one need, and the value it resolves to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Binding {
    /// Kind.
    pub kind: Kind,
    /// Resource name as needed.
    pub name: String,
    /// Where the value comes from.
    pub source: BindingSource,
    /// The serving provide's name as written (`webserver`, `"*"`), or the
    /// provider's pattern for provider-made resources.
    pub provide: String,
    /// Whether holding it excludes other holders.
    pub exclusive: bool,
    /// The resolved provide, typed; it serializes (and reads as JSON) in
    /// host-manifest form without the kind key (`{"path": "/srv/x"}`), `null`
    /// while a provider step has yet to make it.
    pub value: BindingValue,
    /// For pool bindings: the pool as written (`2001:db8::/120`, `8000-8099`),
    /// what a reservation records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Index of the need in the spec; `None` for a network implied by an address.
    pub need: Option<usize>,
    /// The need's entry in the spec file; `None` for an implied network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub need_span: Option<Span>,
    /// The serving entry in the host manifest (provide or provider), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provide_span: Option<Span>,
    /// Index into [`Plan::steps`] of the step that makes it, when one must run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
}

impl Binding {
    /// True while a provider has yet to make the value.
    pub fn pending(&self) -> bool {
        self.value.detail().is_none()
    }

    /// What the state records for this binding once applied (the same fields,
    /// so re-solving finds the holding again).
    pub fn held(&self) -> HeldBinding {
        HeldBinding {
            kind: self.kind.clone(),
            name: self.name.clone(),
            source: self.source,
            provide: self.provide.clone(),
            exclusive: self.exclusive,
            value: self.value.json().into(),
        }
    }
}

/// A binding's value: the typed provide that serves the need (an address from
/// a pool is a static address), or nothing while a provider step has yet to
/// make it.
///
/// Its JSON form ([`ProvideDetail::to_json`], the host-manifest form without
/// the kind key) is made once, when the value is, and the value reads as that
/// JSON (`value["address"]`, `value.get("path")`) for printers; code that
/// means the resource uses [`BindingValue::detail`].
#[derive(Debug, Clone, PartialEq)]
pub struct BindingValue {
    detail: Option<ProvideDetail>,
    json: serde_json::Value,
}

impl BindingValue {
    /// The value of a binding a provider step has yet to make.
    pub fn pending() -> BindingValue {
        BindingValue {
            detail: None,
            json: serde_json::Value::Null,
        }
    }

    /// The value `detail`.
    pub fn of(detail: ProvideDetail) -> BindingValue {
        BindingValue {
            json: detail.to_json(),
            detail: Some(detail),
        }
    }

    /// The typed provide; `None` while pending.
    pub fn detail(&self) -> Option<&ProvideDetail> {
        self.detail.as_ref()
    }

    /// The JSON form (`null` while pending).
    pub fn json(&self) -> &serde_json::Value {
        &self.json
    }
}

impl std::ops::Deref for BindingValue {
    type Target = serde_json::Value;
    fn deref(&self) -> &serde_json::Value {
        &self.json
    }
}

impl Serialize for BindingValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}

/// A provider run that would make a missing resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The provider's argv as declared (`run[0]` relative to the manifest's folder).
    pub provider: Vec<String>,
    /// Kind to provide.
    pub kind: Kind,
    /// Resource name to provide.
    pub name: String,
    /// The first container (in spec order) that needs it; the one sent to the provider.
    pub container: String,
    /// Every container of the plan that will use it.
    pub users: Vec<String>,
    /// The provider's time limit.
    #[serde(serialize_with = "secs")]
    pub timeout: Duration,
    /// Index of the provider entry in the manifest's `providers`.
    pub decl: usize,
    /// The provider entry in the host manifest.
    pub decl_span: Span,
    /// Index of the need in `container`'s spec; `None` for an implied network.
    pub need: Option<usize>,
}

/// Identifies a step in a reported cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepKey {
    /// Kind.
    pub kind: Kind,
    /// Resource name.
    pub name: String,
}

fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}
