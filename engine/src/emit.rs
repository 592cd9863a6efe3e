//! Emitters: each turns [`Edits`](crate::edits::Edits) into one run-configuration
//! format and nothing else (see the table in `docs/emit.md`).
//!
//! What must stay true: an emitter never drops an edit silently. What a format
//! cannot express (a published port under LXC) comes back as a [`Note`] that the
//! caller prints to stderr. No emitter runs a shell or expects one: the docker
//! line is quoted with shlex so that `shlex::split` returns exactly the argv.
//!
//! Every format implements one interface, [`emitter::Emitter`], and is listed
//! once in [`registry::EMITTERS`]; [`emitter::render`] is the one way from a
//! plan to emitted text. This file holds only the data all of them share
//! (notes, errors) and imports none of its children, so that the emitters
//! (and `edits`, which makes notes) can import it without a circle.

pub mod compose;
pub mod docker;
pub mod emitter;
pub mod json;
pub mod lxc;
pub mod registry;

use serde::Serialize;

/// Something a format cannot express, said out loud instead of dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// Kind and name of the need it concerns (`port http`).
    pub need: String,
    /// What was not emitted and why, as data.
    pub kind: NoteKind,
}

/// The kinds of notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "note", rename_all = "kebab-case")]
pub enum NoteKind {
    /// A published port: LXC has no port publishing (use a proxy or firewall rule).
    PortNotApplicable {
        /// Host port.
        host_port: u16,
        /// Container port.
        container_port: u16,
        /// Protocol.
        protocol: berth_specs::Protocol,
    },
    /// A CDI device name: LXC does not resolve CDI names.
    CdiNotApplicable {
        /// The CDI name.
        device: String,
    },
    /// A CDI device whose need names a container `path:`: docker and compose
    /// pass the CDI name as it is, and its CDI spec decides the path.
    CdiPathIgnored {
        /// The CDI name.
        device: String,
        /// The container path the need asked for.
        path: String,
    },
    /// A device whose type and numbers could not be read on this host, so no
    /// `lxc.cgroup2.devices.allow` line was written for it.
    DeviceNotFound {
        /// Host path.
        path: String,
    },
}

/// Why a configuration cannot be emitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// `docker run` needs an image and the spec names none.
    #[error("container `{container}` has no `image:` to run")]
    NoImage {
        /// Container.
        container: String,
    },
    /// `--emit lxc`: a network's link is not a usable host interface name.
    #[error("container `{container}`: network `{network}` has no valid LXC link: {why}")]
    LxcLink {
        /// Container.
        container: String,
        /// Network.
        network: String,
        /// What is wrong with the link.
        why: String,
    },
    /// `--emit lxc`: an environment value ends in a blank, which LXC's config
    /// reader would trim.
    #[error("container `{container}`: environment variable `{key}` ends in a blank, which an LXC config cannot keep")]
    LxcEnv {
        /// Container.
        container: String,
        /// The variable.
        key: String,
    },
}
