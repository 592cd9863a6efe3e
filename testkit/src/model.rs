//! Models for tests: host manifests and need specs built from inline YAML
//! with the real loader, the seed example, and the state `apply` would record
//! for a plan.

use std::path::Path;

use berth_engine::apply::{ProviderRequest, Provisioner};
use berth_engine::plan::Plan;
use berth_engine::state::{ContainerHolding, Reservation, State};
use berth_specs::load::{load_str, LoadOptions};
use berth_specs::{Document, HostManifest, NeedSpec};

/// Loads `yaml` as the file `name`; panics with every error diagnostic.
pub fn load(name: &str, yaml: &str) -> Vec<Document> {
    let loaded = load_str(Path::new(name), yaml, &LoadOptions::default());
    let errors: Vec<String> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{}: {}", d.code.as_str(), d.message))
        .collect();
    assert!(errors.is_empty(), "{name} does not load: {errors:#?}");
    loaded.documents
}

/// A host manifest from YAML (`berth: 1` is added).
pub fn host(yaml: &str) -> HostManifest {
    match load("host.yaml", &format!("berth: 1\n{yaml}")).pop() {
        Some(Document::Host(h)) => h,
        other => panic!("not a host: {other:?}"),
    }
}

/// Need specs from YAML documents separated by `---` (each gets `berth: 1`).
pub fn specs(yaml: &str) -> Vec<NeedSpec> {
    let text: Vec<String> = yaml
        .split("---\n")
        .map(|d| format!("berth: 1\n{d}"))
        .collect();
    load("berth.yaml", &text.join("---\n"))
        .into_iter()
        .map(|d| match d {
            Document::Need(s) => s,
            other => panic!("not a spec: {other:?}"),
        })
        .collect()
}

/// Loads a file of the repository (the seed example).
pub fn repo_file(rel: &str) -> Vec<Document> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    load(rel, &text)
}

/// The seed example: its host and its one spec.
pub fn seed() -> (HostManifest, NeedSpec) {
    let Some(Document::Host(h)) = repo_file("specs/examples/seed/host.yaml").pop() else {
        panic!("seed host")
    };
    let Some(Document::Need(s)) = repo_file("specs/examples/seed/webserver/berth.yaml").pop()
    else {
        panic!("seed spec")
    };
    (h, s)
}

/// The state apply would record for a satisfied plan.
pub fn applied(plan: &Plan) -> State {
    let mut st = State::new(&plan.host);
    for c in plan.containers.iter().filter(|c| c.satisfied) {
        let mut h = ContainerHolding::default();
        for b in &c.bindings {
            h.bindings.push(b.held());
            if let (Some(pool), Some(v)) = (&b.pool, pool_value(&b.value)) {
                st.reservations.insert(
                    berth_engine::state::resource_key(&b.kind, &b.name),
                    Reservation {
                        kind: b.kind.clone(),
                        name: b.name.clone(),
                        pool: pool.clone(),
                        value: v,
                        holder: Some(c.container.clone()),
                        last_holder: None,
                        last_digest: None,
                    },
                );
            }
        }
        st.holdings.insert(c.container.clone(), h);
    }
    st
}

fn pool_value(v: &serde_json::Value) -> Option<String> {
    v.get("address")
        .and_then(|a| a.as_str().map(str::to_string))
        .or_else(|| v.get("host_port").map(|p| p.to_string()))
}

/// `(container, kind/name, value)` of every binding, for compact assertions.
pub fn bound(plan: &Plan) -> Vec<(String, String, String)> {
    plan.containers
        .iter()
        .flat_map(|c| {
            c.bindings.iter().map(move |b| {
                let v = b
                    .value
                    .get("address")
                    .or_else(|| b.value.get("path"))
                    .or_else(|| b.value.get("host_port"))
                    .map(|v| v.to_string().trim_matches('"').to_string())
                    .unwrap_or_else(|| b.value.to_string());
                (c.container.clone(), format!("{}/{}", b.kind, b.name), v)
            })
        })
        .collect()
}

/// A provisioner that runs no provider: for benchmarks and tests of what a
/// host provides by itself (every request is refused).
#[derive(Debug, Default)]
pub struct NoProviders;

/// Why [`NoProviders`] refused: always.
#[derive(Debug)]
pub struct NoProvider;

impl std::fmt::Display for NoProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no providers here")
    }
}

impl std::error::Error for NoProvider {}

impl Provisioner for NoProviders {
    type Error = NoProvider;
    fn provide(&mut self, _: &ProviderRequest<'_>) -> Result<serde_json::Value, NoProvider> {
        Err(NoProvider)
    }
    fn release(&mut self, _: &ProviderRequest<'_>) -> Result<(), NoProvider> {
        Err(NoProvider)
    }
    fn check(&mut self, _: &ProviderRequest<'_>) -> Result<bool, NoProvider> {
        Err(NoProvider)
    }
}
