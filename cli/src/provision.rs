//! The engine's [`Provisioner`] for real: each call runs a provider executable
//! through `berth-providers`, with one progress line per call on a terminal.
//!
//! Kept in the CLI because it joins two libraries (the engine must not depend
//! on the process runner: solver and orchestration tests need no processes)
//! and because progress is presentation. Progress goes to stderr only, and only
//! when stderr is a terminal and `--quiet` was not given, so piped output and
//! tests stay byte-exact.
//!
//! Each call gets the manifest entry's `env:` and the host's state folder
//! (`BERTH_STATE_DIR`), so a provider works on the engine and under the state
//! folder that `berth` itself uses.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use berth_engine::apply::{ProviderRequest, Provisioner};
use berth_providers::{Call, ProviderError};
use berth_specs::{HostManifest, ProviderDecl};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

/// Runs providers for one host.
pub struct CliProvisioner {
    host: String,
    base_dir: PathBuf,
    /// The manifest's provider entries, for each call's `env:`.
    providers: Vec<ProviderDecl>,
    /// The host's state folder, handed to providers as `BERTH_STATE_DIR`.
    state_dir: PathBuf,
    progress: bool,
}

impl CliProvisioner {
    /// A provisioner for `host`; progress lines unless `quiet` or stderr is not
    /// a terminal.
    pub fn new(host: &HostManifest, quiet: bool) -> CliProvisioner {
        CliProvisioner {
            host: host.host.clone(),
            base_dir: host.base_dir(),
            providers: host.providers.clone(),
            state_dir: berth_engine::store::state_dir(host),
            progress: !quiet && std::io::stderr().is_terminal(),
        }
    }

    fn call<'a>(&'a self, req: &ProviderRequest<'a>) -> Call<'a> {
        Call {
            run: req.run,
            base_dir: &self.base_dir,
            kind: req.kind,
            name: req.name,
            container: req.container,
            host: &self.host,
            need: req
                .need
                .map(berth_providers::need_options)
                .unwrap_or_else(|| Value::Object(Default::default())),
            provided: req.provided,
            timeout: req.timeout,
            // The entry that declares this argv for this kind (a record's
            // provider no longer in the manifest gets no `env:`).
            env: self
                .providers
                .iter()
                .find(|d| d.kind == *req.kind && d.run == req.run)
                .map_or(&[][..], |d| &d.env[..]),
            state_dir: Some(&self.state_dir),
        }
    }

    /// Runs `f` under a spinner line `op kind name (provider)`, replaced by a
    /// final line with the outcome and the elapsed time.
    fn step<T>(
        &self,
        op: &str,
        req: &ProviderRequest<'_>,
        f: impl FnOnce() -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        if !self.progress {
            return f();
        }
        let what = format!(
            "{op} {} `{}` ({})",
            req.kind,
            req.name,
            crate::render::escape(req.run.first().map(String::as_str).unwrap_or(""))
        );
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("static template"),
            )
            .with_message(what.clone());
        bar.enable_steady_tick(Duration::from_millis(100));
        let start = Instant::now();
        let out = f();
        let secs = start.elapsed().as_secs_f64();
        let mark = if out.is_ok() { "done" } else { "FAILED" };
        bar.finish_with_message(format!("{what}: {mark} in {secs:.1}s"));
        out
    }
}

impl Provisioner for CliProvisioner {
    type Error = ProviderError;

    fn provide(&mut self, req: &ProviderRequest<'_>) -> Result<Value, ProviderError> {
        self.step("provide", req, || {
            berth_providers::provide(&self.call(req)).map(|p| p.value)
        })
    }

    fn release(&mut self, req: &ProviderRequest<'_>) -> Result<(), ProviderError> {
        self.step("release", req, || {
            berth_providers::release(&self.call(req)).map(|_| ())
        })
    }

    fn check(&mut self, req: &ProviderRequest<'_>) -> Result<bool, ProviderError> {
        self.step("check", req, || berth_providers::check(&self.call(req)))
    }

    fn never_ran(&self, error: &ProviderError) -> bool {
        error.never_ran()
    }
}
