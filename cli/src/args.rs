//! What the user typed, as clap structs; no I/O here. Each command's module
//! resolves these into loaded files and engine objects.

use std::path::PathBuf;

use berth_engine::emit::emitter::Emitter;
use berth_engine::emit::registry;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// berth matches what a container needs (named resources) to what a host
/// provides, runs provider scripts for the gaps, and emits the run
/// configuration, or explains precisely why the container cannot run here.
#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// When to colour diagnostics: `auto` colours a terminal unless `NO_COLOR` is set.
    #[arg(long, global = true, value_enum, default_value_t, value_name = "WHEN")]
    pub color: Color,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// berth's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate need specs and host manifests (files or folders), for CI.
    Check(CheckArgs),
    /// Solve needs against a host and show bindings, provider steps and unmet needs; no side effects.
    Plan(PlanArgs),
    /// Provision gaps, record allocations, print the run configuration.
    Apply(ApplyArgs),
    /// Apply, then start the container with docker or podman.
    Run(RunArgs),
    /// Free what containers hold; run provider `release` for what providers made.
    Release(ReleaseArgs),
    /// Show what this host has handed out.
    Status(StatusArgs),
    /// Show what a host offers: its provides, pools with free counts and reservations, providers.
    Hosts(HostsArgs),
    /// Place containers across a fleet of hosts, and explain the ones that fit nowhere.
    Place(PlaceArgs),
    /// Print the JSON Schema of a file format.
    Schema(SchemaArgs),
    /// Print a need spec as a Dockerfile `LABEL io.berth.spec=...` line (or `--label` flags).
    Label(LabelArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print berth's man page (roff) to stdout.
    Man(ManArgs),
    /// Write a placed fleet as Kubernetes objects or Nomad HCL.
    Export(ExportArgs),
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Color {
    /// Colour when stderr is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    /// Always colour (and draw) diagnostics, even into a pipe.
    Always,
    /// Never colour: plain, deterministic diagnostics.
    Never,
}

/// `berth completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `berth man`.
#[derive(Debug, Args)]
pub struct ManArgs {}

/// Output format of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Text for people, diagnostics with snippets.
    #[default]
    Human,
    /// JSON on stdout, for tools.
    Json,
}

/// A run-configuration format, as the engine's registry names it.
pub type Emit = &'static dyn Emitter;

/// `--emit` and the options that tune one format: `apply` prints the run
/// configuration in it, `place --out` writes it.
#[derive(Debug, Args)]
pub struct EmitArgs {
    /// Run-configuration format (`apply`: printed on success; `place`: the files written by --out).
    #[arg(long, value_parser = emit_parser(), default_value = "json")]
    pub emit: Emit,
    /// With `--emit lxc`: number berth's NICs from `lxc.net.N` (after the config's own NICs).
    #[arg(long, value_name = "N")]
    pub lxc_net_index: Option<usize>,
    /// With `--emit docker`: pass a custom kind or device the host provides by exact name as its CDI name (`--device vendor.tld/class=name`, written by `berth export cdi`) instead of its edits.
    #[arg(long)]
    pub cdi: bool,
    /// With `--emit compose`: the base compose file the override goes onto; each service keeps the networks it gives it.
    #[arg(long, value_name = "PATH")]
    pub compose_file: Option<PathBuf>,
}

impl EmitArgs {
    /// The emitter these options ask for: each option means something to
    /// one format only, so with another format it is a usage error (exit 2)
    /// rather than silently ignored. A base compose file that cannot be read
    /// is an error.
    pub fn emitter(&self) -> anyhow::Result<Emit> {
        use berth_engine::emit::{compose, docker, lxc};
        let emit = self.emit;
        let refuse = |what: &str| -> ! {
            use clap::CommandFactory;
            Cli::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("{what}, not --emit {}", emit.name()),
                )
                .exit()
        };
        if self.cdi && emit.name() != docker::DOCKER.name() {
            refuse("--cdi passes CDI names on a docker line; it needs --emit docker");
        }
        if self.lxc_net_index.is_some() && emit.name() != lxc::LXC.name() {
            refuse("--lxc-net-index numbers LXC NICs; it needs --emit lxc");
        }
        if self.compose_file.is_some() && emit.name() != compose::COMPOSE.name() {
            refuse(
                "--compose-file is the base file of a compose override; it needs --emit compose",
            );
        }
        if self.cdi {
            return Ok(&docker::DOCKER_CDI);
        }
        if let Some(path) = &self.compose_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("cannot read --compose-file {}: {e}", path.display())
            })?;
            let base = compose::base_networks(&text)
                .map_err(|e| anyhow::anyhow!("--compose-file {}: {e}", path.display()))?;
            // One per run: leaked, as the registry's emitters are 'static.
            return Ok(Box::leak(Box::new(compose::Compose { base: Some(base) })));
        }
        Ok(match self.lxc_net_index {
            None => emit,
            Some(n) => Box::leak(Box::new(lxc::Lxc {
                net_index: n,
                ..lxc::LXC
            })),
        })
    }
}

/// `--emit`: one possible value per registered emitter (its name and help
/// line), parsed into the emitter itself. The CLI keeps no list of formats.
fn emit_parser() -> impl TypedValueParser<Value = Emit> {
    PossibleValuesParser::new(
        registry::EMITTERS
            .iter()
            .map(|e| PossibleValue::new(e.name()).help(e.about())),
    )
    .map(|name| registry::by_name(&name).expect("every possible value is a registered emitter"))
}

/// Container engines `berth run` can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Engine {
    /// docker.
    #[default]
    Docker,
    /// podman (takes docker's flags).
    Podman,
}

/// The host manifest option shared by host-bound commands.
#[derive(Debug, Args)]
pub struct HostArg {
    /// Host manifest (default: $BERTH_HOST_FILE, then /etc/berth/host.yaml).
    #[arg(
        short = 'H',
        long = "host",
        env = "BERTH_HOST_FILE",
        default_value = "/etc/berth/host.yaml"
    )]
    pub host: PathBuf,
    /// State folder (before $BERTH_STATE_DIR and the manifest's `state_dir`).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// `berth check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files or folders, `-` for stdin (folders are walked; YAML without a top-level `berth:`
    /// key is skipped unless the file is named `berth.y*ml` or a document has a berth shape).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// List every skipped file (and why) on stderr.
    #[arg(short, long)]
    pub verbose: bool,
    /// Also check on this host that the host paths, devices and files that provides name, and provider executables, exist.
    #[arg(long)]
    pub live: bool,
    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Largest file accepted, in bytes (a larger file found in a folder is skipped unless it looks like berth's).
    #[arg(long, default_value_t = berth_specs::read::MAX_FILE_SIZE)]
    pub max_file_size: u64,
    /// Diagnostics shown per run (the first 100 of each file at most); the rest are counted.
    #[arg(long, value_name = "N", default_value_t = berth_specs::diag::MAX_PER_RUN)]
    pub max_diagnostics: usize,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `berth plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Host manifest.
    #[command(flatten)]
    pub host: HostArg,
    /// Need specs: files (several documents per file allowed) or folders (walked as `check` does).
    #[arg(required_unless_present = "from_image")]
    pub specs: Vec<PathBuf>,
    /// Image whose need spec (and image) to use as well.
    #[command(flatten)]
    pub image: FromImage,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `--from-image IMAGE` and the engine that reads its label.
#[derive(Debug, Args)]
pub struct FromImage {
    /// Read a need spec from this image's `io.berth.spec` label (`ENGINE image inspect`).
    #[arg(long, value_name = "IMAGE")]
    pub from_image: Option<String>,
    /// Engine whose `image inspect` reads --from-image.
    #[arg(long, value_enum, default_value_t)]
    pub engine: Engine,
}

/// `berth apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Host manifest.
    #[command(flatten)]
    pub host: HostArg,
    /// Need specs.
    #[arg(required_unless_present = "from_image")]
    pub specs: Vec<PathBuf>,
    /// Image whose need spec (and image) to use as well.
    #[command(flatten)]
    pub image: FromImage,
    /// Run-configuration format printed on success, and its options.
    #[command(flatten)]
    pub emit: EmitArgs,
    /// Report format for failures.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// No progress lines.
    #[arg(short, long)]
    pub quiet: bool,
    /// Apply even if a container's recorded spec differs, and take released reservations of its names.
    #[arg(long)]
    pub replace: bool,
}

/// `berth run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Host manifest.
    #[command(flatten)]
    pub host: HostArg,
    /// Need spec of the container to run (or --from-image).
    #[arg(required_unless_present = "from_image", conflicts_with = "from_image")]
    pub spec: Option<PathBuf>,
    /// Run this image, with the need spec its `io.berth.spec` label carries.
    #[arg(long, value_name = "IMAGE", conflicts_with = "image")]
    pub from_image: Option<String>,
    /// Container engine.
    #[arg(long, value_enum, default_value_t)]
    pub engine: Engine,
    /// Image to run (default: the spec's `image:`).
    #[arg(long)]
    pub image: Option<String>,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Run in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// An engine option, put before berth's own (repeat; e.g. `--engine-arg=--restart=unless-stopped`).
    #[arg(long = "engine-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub engine_args: Vec<String>,
    /// Show what would be recorded, the provider steps and the engine argv; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Pass a custom kind or device the host provides by exact name as its CDI name (`--device vendor.tld/class=name`, written by `berth export cdi`) instead of its edits.
    #[arg(long)]
    pub cdi: bool,
    /// Apply even if the container's recorded spec differs, and take released reservations of its names.
    #[arg(long)]
    pub replace: bool,
    /// No progress lines.
    #[arg(short, long)]
    pub quiet: bool,
    /// Extra arguments after `--`, passed to the container (command and args).
    #[arg(last = true)]
    pub extra: Vec<String>,
}

/// `berth label`.
#[derive(Debug, Args)]
pub struct LabelArgs {
    /// Need spec (one container).
    pub spec: PathBuf,
    /// What to print.
    #[arg(long, value_enum, default_value_t)]
    pub format: LabelFormat,
}

/// Output of `berth label`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LabelFormat {
    /// A Dockerfile line: `LABEL io.berth.spec='...'`.
    #[default]
    Dockerfile,
    /// `--label 'io.berth.spec=...'` for `docker build` / `podman build`.
    Args,
}

/// `berth release`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// Host manifest.
    #[command(flatten)]
    pub host: HostArg,
    /// Containers to release.
    #[arg(required_unless_present = "forget")]
    pub containers: Vec<String>,
    /// Drop a pending release without running its provider (repeat for several): for a
    /// resource that is already gone, or a provider that can never succeed.
    #[arg(long, value_name = "KIND/NAME")]
    pub forget: Vec<String>,
    /// Also drop their pool reservations (their addresses may go to others).
    #[arg(long)]
    pub purge: bool,
    /// No progress lines.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `berth status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Host manifest.
    #[command(flatten)]
    pub host: HostArg,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `berth hosts`.
#[derive(Debug, Args)]
pub struct HostsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: HostsCommand,
}

/// `berth hosts` subcommands.
#[derive(Debug, Subcommand)]
pub enum HostsCommand {
    /// What the host provides, each pool and port range with its free count and
    /// reservations, and its providers.
    Show(HostShowArgs),
}

/// `berth hosts show`.
#[derive(Debug, Args)]
pub struct HostShowArgs {
    /// Host manifest.
    #[command(flatten)]
    pub host: HostArg,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `berth place`.
#[derive(Debug, Args)]
pub struct PlaceArgs {
    /// Host manifests (files or folders; several documents per file; `.json` accepted).
    /// Repeat the flag for several: `--hosts a.yaml --hosts fleet/`.
    #[arg(long, required = true, num_args = 1)]
    pub hosts: Vec<PathBuf>,
    /// Need specs (files or folders).
    #[arg(required = true)]
    pub specs: Vec<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Write each placed container's run configuration to DIR/<host>/<container>.<ext>.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Format of the files written by --out, and its options.
    #[command(flatten)]
    pub emit: EmitArgs,
    /// Show the full per-need explanation for this host.
    #[arg(long, value_name = "HOST")]
    pub explain: Option<String>,
    /// Folder holding the hosts' state files (`<host>.json`): what runs there
    /// counts. Default: $BERTH_STATE_DIR, the manifest's `state_dir`,
    /// /var/lib/berth for root, else $XDG_STATE_HOME/berth or ~/.local/state/berth.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Largest file accepted, in bytes (fleets are big: default 256 MiB).
    #[arg(long, default_value_t = berth_specs::read::MAX_FLEET_FILE_SIZE)]
    pub max_file_size: u64,
}

/// `berth export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Which engine's files.
    #[arg(value_enum)]
    pub engine: ExportEngine,
    /// Host manifests (files or folders). Repeat the flag for several.
    #[arg(long, required = true, num_args = 1)]
    pub hosts: Vec<PathBuf>,
    /// Need specs (files or folders); required for kubernetes and nomad.
    pub specs: Vec<PathBuf>,
    /// `human`: the files on stdout, notes on stderr; `json`: one object with both.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Where each node keeps its host manifest (berth-cni's IPAM `host`).
    #[arg(long, value_name = "PATH", default_value = "/etc/berth/host.yaml")]
    pub node_host_file: PathBuf,
    /// kubernetes: pass devices and custom kinds the host provides by exact name
    /// as CDI devices (each node runs `berth export cdi`) instead of expanding them.
    #[arg(long)]
    pub cdi: bool,
    /// cdi: write the specs into DIR (runtimes read /var/run/cdi) instead of
    /// printing them.
    #[arg(long, value_name = "DIR")]
    pub cdi_dir: Option<PathBuf>,
}

/// An engine `berth export` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportEngine {
    /// PersistentVolumes, claims, Pods and NetworkAttachmentDefinitions.
    Kubernetes,
    /// Client host_volume blocks and jobs, in HCL.
    Nomad,
    /// CDI specs for one host's devices and custom kinds.
    Cdi,
}

/// `berth schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which format.
    #[arg(value_enum)]
    pub which: SchemaWhich,
}

/// Schema selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaWhich {
    /// The need spec (`berth.yaml`).
    Need,
    /// The host manifest (`host.yaml`).
    Host,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn arguments_are_consistent() {
        Cli::command().debug_assert();
    }

    /// Every subcommand and every long flag appears in docs/cli.md, under the
    /// subcommand's own heading.
    #[test]
    fn every_flag_is_documented() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cli.md"))
            .expect("docs/cli.md");
        let cmd = Cli::command();
        let mut missing = Vec::new();
        for sub in cmd.get_subcommands() {
            let heading = format!("## `berth {}", sub.get_name());
            let Some(start) = doc.find(&heading) else {
                missing.push(format!("section {heading}"));
                continue;
            };
            let section = &doc[start..];
            let end = section[3..].find("\n## ").map_or(section.len(), |e| e + 3);
            let section = &section[..end];
            for arg in sub.get_arguments() {
                if let Some(long) = arg.get_long() {
                    if !section.contains(&format!("`--{long}"))
                        && !section
                            .contains(&format!("`-{}`, `--{long}", arg.get_short().unwrap_or('?')))
                    {
                        missing.push(format!("berth {} --{long}", sub.get_name()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "undocumented in docs/cli.md: {missing:?}"
        );
    }
}
