//! How commands report what went wrong around the work itself: invalid input
//! in the requested format, an unusable state file, provider releases, and the
//! notes an emitter made. Shared by every command, so that no command module
//! imports another one for its reporting (`apply` and `plan` once did, both
//! ways).

use berth_engine::apply::ReleaseReport;
use berth_engine::emit::emitter::ContainerNote;
use berth_engine::emit::{Note, NoteKind};
use berth_engine::store;
use berth_providers::ProviderError;
use berth_specs::diag::Capped;
use berth_specs::HostManifest;
use std::path::Path;

use crate::args::Format;
use crate::exit;
use crate::out::outln;
use crate::render;

/// How a command reports invalid input: diagnostics on stderr for people, or
/// one JSON object on stdout (`{"<key>": false, "diagnostics": [...]}`) so that
/// `| jq` always gets a document.
#[derive(Debug, Clone, Copy)]
pub struct Invalid {
    /// The requested report format.
    pub format: Format,
    /// The command's verdict key: `satisfied` for plan, `ok` for the others.
    pub key: &'static str,
}

impl Invalid {
    /// Human reports (commands without `--format`).
    pub const HUMAN: Invalid = Invalid {
        format: Format::Human,
        key: "ok",
    };

    /// Prints loaded files' diagnostics, capped ([`Capped::run`]: what was
    /// left out is counted per file), in this format; JSON adds `omitted`
    /// and `omitted_files` ([`render::omitted_json`]).
    pub fn report_capped(self, list: &Capped) {
        match self.format {
            Format::Json => {
                let mut v = render::capped_json(list);
                v[self.key] = serde_json::Value::Bool(false);
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&v).expect("json values serialize")
                );
            }
            Format::Human => render::print_capped(list),
        }
    }

    /// Prints the loader's diagnostics and the CLI's own problems in this
    /// format.
    pub fn report(self, diags: &[berth_specs::Diagnostic], problems: &[render::Problem]) {
        match self.format {
            Format::Json => {
                let list: Vec<serde_json::Value> = diags
                    .iter()
                    .map(render::diagnostic_json)
                    .chain(problems.iter().map(render::Problem::json))
                    .collect();
                let mut v = serde_json::Map::new();
                v.insert(self.key.to_string(), serde_json::Value::Bool(false));
                v.insert("diagnostics".to_string(), serde_json::Value::Array(list));
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&v).expect("json values serialize")
                );
            }
            Format::Human => {
                render::print_diagnostics(diags);
                for p in problems {
                    p.print();
                }
            }
        }
    }
}

/// Reports a state store error (exit 1: berth cannot work on this host's
/// state until a person looks at it), with its code and help
/// ([`store::StoreError::code`]).
pub fn report_store(e: &store::StoreError, format: Format) -> u8 {
    let code = e.code().as_str();
    let help = store_help(e);
    match format {
        Format::Json => outln!(
            "{}",
            serde_json::json!({"ok": false, "error": {"code": code, "message": e.to_string(), "help": help}})
        ),
        Format::Human => {
            let message = render::escape_lines(&e.to_string()).into_owned();
            eprintln!(
                "{:?}",
                miette::miette!(code = code, help = help, "{message}")
            );
        }
    }
    exit::INVALID
}

/// The help of a state error; for one about the folder itself (it cannot be
/// created, locked, read or written, or anyone may write it), also where the
/// folder came from and how to change it ([`crate::state_origin`]).
fn store_help(e: &store::StoreError) -> String {
    use store::StoreError as E;
    let about_folder = matches!(
        e,
        E::CreateDir { .. }
            | E::Lock { .. }
            | E::Read { .. }
            | E::Write { .. }
            | E::FolderWritable { .. }
            | E::NotRegular { .. }
    );
    match crate::state_origin::help().filter(|_| about_folder) {
        Some(origin) => format!("{origin}; {}", e.help()),
        None => e.help().to_string(),
    }
}

/// A state file that cannot be used, reported like invalid input: for JSON,
/// `{"<key>": false, "diagnostics": [...]}` with one diagnostic whose `file`
/// is the state file, so that `plan` and `status` keep the one failure shape
/// tools already parse. Human output is [`report_store`]'s.
pub fn report_state(e: &store::StoreError, host: &HostManifest, invalid: Invalid) -> u8 {
    if invalid.format == Format::Human {
        return report_store(e, Format::Human);
    }
    let problem = render::Problem {
        code: e.code(),
        message: e.to_string(),
        help: Some(store_help(e)),
        file: Some(
            e.path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| store::state_path(host)),
        ),
    };
    invalid.report(&[], &[problem]);
    exit::INVALID
}

/// One line per release: what was released, or why it failed and that it
/// stays pending.
pub fn release_lines(reports: &[ReleaseReport<ProviderError>]) -> Vec<String> {
    reports
        .iter()
        .map(|r| match &r.result {
            Ok(()) => format!("released {} `{}`", r.kind, r.name),
            Err(e) => format!(
                "release of {} `{}` FAILED, kept pending for the next `berth release`: {}",
                r.kind,
                r.name,
                render::escape(&e.to_string())
            ),
        })
        .collect()
}

/// Prints an emitter's notes as `warning:` lines on stderr.
pub fn print_container_notes(notes: &[ContainerNote]) {
    for n in notes {
        print_notes(&n.container, std::slice::from_ref(&n.note));
    }
}

/// Prints notes about `container` as `warning:` lines on stderr: what a
/// format cannot express is said, never dropped.
pub fn print_notes(container: &str, notes: &[Note]) {
    for n in notes {
        let text = match &n.kind {
            NoteKind::PortNotApplicable {
                host_port,
                container_port,
                protocol,
            } => format!(
                "{} ({host_port}:{container_port}/{protocol}) of `{container}` is not applicable to LXC: \
                 LXC does not publish ports; forward it with a firewall rule or proxy",
                n.need
            ),
            NoteKind::CdiNotApplicable { device } => {
                format!("{} of `{container}`: CDI name `{device}` is not applicable to LXC", n.need)
            }
            NoteKind::CdiPathIgnored { device, path } => format!(
                "{} of `{container}`: container path `{path}` is ignored: CDI name `{device}` \
                 is passed as it is and its CDI spec decides where the device appears",
                n.need
            ),
            NoteKind::DeviceNotFound { path } => format!(
                "{} of `{container}`: `{path}` is not a device node on this host, so no \
                 lxc.cgroup2.devices.allow line was written for it",
                n.need
            ),
        };
        eprintln!("warning: {text}");
    }
}
