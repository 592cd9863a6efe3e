//! Nomad files for a placed fleet, in HCL (`docs/engines.md`, "Nomad"):
//! - per host: a `client` block with one `host_volume` per volume the manifest
//!   names exactly (its `path` and `read_only`);
//! - per container: a job pinned to its host (`constraint` on
//!   `${node.unique.name}`), a group with a `volume` of type `host` per volume
//!   need (`source`, `read_only`), static `port`s, and
//!   `network { mode = "cni/<net>" cni { args = { BERTH_NAME = ... } } }` for
//!   its address; a docker task with `volume_mount`s, `env`, device paths, and
//!   read-only bind mounts for the other mount edits (read-only files, custom
//!   kinds).
//!
//! Nomad attaches a group to one network and its docker driver takes no CDI
//! names: both are notes. The HCL is built as a syntax tree and written by
//! `hcl-rs`, which quotes and escapes every string (template markers `${`
//! and `%{` included); the one template berth means, `${node.unique.name}`
//! in the constraint, is a template expression on purpose.

use berth_specs::HostManifest;
use hcl::expr::{Expression, Object, ObjectKey, TemplateExpr};
use hcl::{Block, BlockBuilder, Body, Identifier};

use super::model::{ExportNote, ExportNoteKind, Placed};

/// Renders the client blocks of every host, then one job per placed container.
pub fn render(
    placed: &[Placed<'_>],
    hosts: &[&HostManifest],
    notes: &mut Vec<ExportNote>,
) -> String {
    let mut body = Body::builder();
    for h in hosts {
        let vols: Vec<Block> = h
            .provides
            .iter()
            .filter(|p| p.name.is_exact())
            .filter_map(|p| {
                let path = p.detail.lent_dir()?;
                Some(
                    Block::builder("host_volume")
                        .add_label(p.name.as_str())
                        .add_attribute(("path", path))
                        .add_attribute(("read_only", p.detail.read_only()))
                        .build(),
                )
            })
            .collect();
        if !vols.is_empty() {
            body = body.add_block(Block::builder("client").add_blocks(vols).build());
        }
    }
    for p in placed {
        body = body.add_block(job(p, notes));
    }
    let text = hcl::format::to_string(&body.build()).expect("a syntax tree berth built formats");
    let end = if text.ends_with('\n') { "" } else { "\n" };
    format!("# Nomad configuration written by `berth export nomad`\n{text}{end}")
}

fn job(p: &Placed<'_>, notes: &mut Vec<ExportNote>) -> Block {
    let c = &p.spec.container;
    let mut note = |need: &str, kind: ExportNoteKind| {
        notes.push(ExportNote {
            container: c.clone(),
            need: need.to_string(),
            kind,
        })
    };
    let e = &p.edits;
    // Network: the first attachment; more are notes.
    let mut network = Block::builder("network");
    if let Some(a) = e.networks.first() {
        network = network.add_attribute(("mode", format!("cni/{}", a.network)));
    }
    for pm in &e.ports {
        network = network.add_block(
            Block::builder("port")
                .add_label(pm.name.as_str())
                .add_attribute(("static", pm.host_port))
                .add_attribute(("to", pm.container_port))
                .build(),
        );
        if let Some(b) = pm.bind {
            note(
                &format!("port {}", pm.name),
                ExportNoteKind::PortBindNotExpressible {
                    bind: b.to_string(),
                },
            );
        }
    }
    if let Some(a) = e.networks.first() {
        if let Some((_, name)) = p.addresses.iter().find(|(n, _)| *n == a.network) {
            let mut args = Object::<ObjectKey, Expression>::new();
            args.insert(
                ObjectKey::Identifier(Identifier::unchecked("BERTH_NAME")),
                name.as_str().into(),
            );
            network =
                network.add_block(Block::builder("cni").add_attribute(("args", args)).build());
        }
    }
    for a in e.networks.iter().skip(1) {
        note(
            &format!("network {}", a.network),
            ExportNoteKind::ExtraNetwork {
                network: a.network.clone(),
            },
        );
    }
    let volumes: Vec<_> = e
        .mounts
        .iter()
        .filter_map(|m| Some((m.from.strip_prefix("volume ")?, m)))
        .collect();
    let mut group = Block::builder("group")
        .add_label(c.as_str())
        .add_block(network.build());
    for (name, m) in &volumes {
        group = group.add_block(
            Block::builder("volume")
                .add_label(*name)
                .add_attribute(("type", "host"))
                .add_attribute(("source", *name))
                .add_attribute(("read_only", m.read_only))
                .build(),
        );
    }
    group = group.add_block(task(p, &volumes, &mut note));
    let constraint = Block::builder("constraint")
        .add_attribute((
            "attribute",
            TemplateExpr::QuotedString("${node.unique.name}".into()),
        ))
        .add_attribute(("value", p.host.host.as_str()))
        .build();
    Block::builder("job")
        .add_label(c.as_str())
        .add_attribute(("datacenters", vec!["*"]))
        .add_attribute(("type", "service"))
        .add_block(constraint)
        .add_block(group.build())
        .build()
}

fn task(
    p: &Placed<'_>,
    volumes: &[(&str, &crate::edits::Mount)],
    note: &mut impl FnMut(&str, ExportNoteKind),
) -> Block {
    let e = &p.edits;
    let mut config = Block::builder("config");
    match &p.spec.image {
        Some(i) => config = config.add_attribute(("image", i.as_str())),
        None => {
            config = config.add_attribute(("image", ""));
            note("", ExportNoteKind::NoImage);
        }
    }
    if !e.ports.is_empty() {
        let names: Vec<&str> = e.ports.iter().map(|pm| pm.name.as_str()).collect();
        config = config.add_attribute(("ports", names));
    }
    for m in e.mounts.iter().filter(|m| !m.from.starts_with("volume ")) {
        config = config.add_block(
            Block::builder("mount")
                .add_attribute(("type", "bind"))
                .add_attribute(("source", m.source.as_str()))
                .add_attribute(("target", m.target.as_str()))
                .add_attribute(("readonly", m.read_only))
                .build(),
        );
    }
    for (need, name) in &p.cdi_devices {
        note(
            need,
            ExportNoteKind::DeviceNotExpressible {
                device: name.clone(),
            },
        );
    }
    let mut devices: Vec<Expression> = Vec::new();
    for d in &e.devices {
        if d.is_cdi() {
            note(
                &d.from,
                ExportNoteKind::DeviceNotExpressible {
                    device: d.path.clone(),
                },
            );
        } else {
            let target = d.target.as_deref().unwrap_or(&d.path);
            let mut o = Object::<ObjectKey, Expression>::new();
            o.insert(
                ObjectKey::Identifier(Identifier::unchecked("host_path")),
                d.path.as_str().into(),
            );
            o.insert(
                ObjectKey::Identifier(Identifier::unchecked("container_path")),
                target.into(),
            );
            devices.push(o.into());
        }
    }
    if !devices.is_empty() {
        config = config.add_attribute(("devices", devices));
    }
    let mut task: BlockBuilder = Block::builder("task")
        .add_label(p.spec.container.as_str())
        .add_attribute(("driver", "docker"))
        .add_block(config.build());
    for (name, m) in volumes {
        task = task.add_block(
            Block::builder("volume_mount")
                .add_attribute(("volume", *name))
                .add_attribute(("destination", m.target.as_str()))
                .add_attribute(("read_only", m.read_only))
                .build(),
        );
    }
    if !e.env.is_empty() {
        let mut env = Block::builder("env");
        for (k, v) in &e.env {
            match Identifier::new(k.as_str()) {
                Ok(id) => env = env.add_attribute((id, v.as_str())),
                Err(_) => note(
                    &format!("env {k}"),
                    ExportNoteKind::BadName { name: k.clone() },
                ),
            }
        }
        task = task.add_block(env.build());
    }
    task.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_and_the_constraint_stays_a_template() {
        let body = Body::builder()
            .add_attribute(("a", "x\"${y}%{z}\\"))
            .add_attribute((
                "b",
                TemplateExpr::QuotedString("${node.unique.name}".into()),
            ))
            .build();
        let text = hcl::format::to_string(&body).unwrap();
        assert_eq!(
            text,
            "a = \"x\\\"$${y}%%{z}\\\\\"\nb = \"${node.unique.name}\"\n"
        );
    }
}
