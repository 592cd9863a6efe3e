//! Beyond one host: `berth export kubernetes|nomad|cdi` against the real
//! validators and runtimes of this machine.
//!
//! - Kubernetes output is validated with PyPI `kubernetes-validate --strict`
//!   for Kubernetes [`K8S_VERSION`]; Nomad output is parsed with `python-hcl2`.
//!   Both live in the virtualenv `.ci/setup` makes (`/opt/berth-py`, or
//!   `$BERTH_PY_VENV`).
//! - CDI: podman runs a container with `--device example.com/thing=one` from a
//!   spec `berth export cdi` wrote into /var/run/cdi (podman 4.3 reads only the
//!   default folders), and the container sees the device node, the env var and
//!   the mount.
//!
//! berth-cni's own tests (bridge plugin, namespaces, podman's CNI backend) are
//! in `cni/tests/cni.rs`, where cargo hands them the plugin binary.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::util::{code, in_ci, repo_root, require_tools, run, stderr, stdout, Dir};

/// The Kubernetes version the exported objects are validated against.
const K8S_VERSION: &str = "1.33.0";

/// The virtualenv's python, or `None` after printing why the test skips
/// (a failure under CI=true).
fn venv_python(test: &str) -> Option<PathBuf> {
    let venv = std::env::var_os("BERTH_PY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/berth-py"));
    let py = venv.join("bin/python3");
    if py.is_file() {
        return Some(py);
    }
    let msg = format!(
        "{test}: SKIPPED, missing: {} (kubernetes-validate and python-hcl2; .ci/setup makes it)",
        py.display()
    );
    if in_ci() {
        panic!("{msg}");
    }
    eprintln!("{msg}");
    None
}

fn seed() -> PathBuf {
    repo_root().join("specs/examples/seed")
}

fn export(dir: &Dir, engine: &str, extra: &[&str]) -> std::process::Output {
    let seed = seed();
    run(dir
        .berth()
        .args(["export", engine, "--hosts"])
        .arg(seed.join("host.yaml"))
        .arg(seed.join("webserver/berth.yaml"))
        .args(extra))
}

/// Splits the exported stream into its JSON documents.
fn documents(text: &str) -> Vec<Value> {
    text.split("\n---\n")
        .skip(1)
        .map(|d| serde_json::from_str(d).expect("each document is JSON"))
        .collect()
}

#[test]
fn seed_exports_to_kubernetes_objects_that_validate_strictly() {
    let dir = Dir::new();
    let out = export(&dir, "kubernetes", &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let docs = documents(&text);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "NetworkAttachmentDefinition",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Pod"
        ]
    );
    // The Pod names its volume (through the pre-bound claim of a local PV on
    // its node), its port and its address.
    let (nad, pv, pvc, pod) = (&docs[0], &docs[1], &docs[2], &docs[3]);
    assert_eq!(pv["spec"]["local"]["path"], "/srv/webpages");
    assert_eq!(
        pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
            ["values"][0],
        "web-01"
    );
    assert_eq!(pvc["spec"]["volumeName"], pv["metadata"]["name"]);
    assert_eq!(pvc["spec"]["storageClassName"], "");
    let c = &pod["spec"]["containers"][0];
    assert_eq!(
        pod["spec"]["nodeSelector"]["kubernetes.io/hostname"],
        "web-01"
    );
    assert_eq!(c["image"], "example/webserver:1.4");
    assert_eq!(c["ports"][0]["hostPort"], 80);
    assert_eq!(c["ports"][0]["containerPort"], 80);
    assert_eq!(c["volumeMounts"][0]["mountPath"], "/var/www");
    assert_eq!(c["volumeMounts"][0]["readOnly"], true);
    assert_eq!(
        pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
        pvc["metadata"]["name"]
    );
    let nets: Value = serde_json::from_str(
        pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(nets[0]["name"], "berth6");
    assert_eq!(nets[0]["cni-args"]["BERTH_NAME"], "webserver");
    // The NetworkAttachmentDefinition is a CRD (no schema in
    // kubernetes-validate): its config is checked here, as Multus reads it.
    let config: Value = serde_json::from_str(nad["spec"]["config"].as_str().unwrap()).unwrap();
    assert_eq!(config["ipam"]["type"], "berth-cni");
    assert_eq!(config["ipam"]["network"], "berth6");
    assert_eq!(config["ipam"]["host"], "/etc/berth/host.yaml");
    assert_eq!(config["bridge"], "docker0");

    let Some(py) = venv_python("seed_exports_to_kubernetes") else {
        return;
    };
    let file = dir.write("k8s.yaml", &text);
    let validate = |path: &std::path::Path| {
        run(Command::new(&py)
            .args(["-m", "kubernetes_validate", "--strict", "-k", K8S_VERSION])
            .arg(path))
    };
    let v = validate(&file);
    assert_eq!(code(&v), 0, "{}{}", stdout(&v), stderr(&v));
    let report = stdout(&v) + &stderr(&v);
    for obj in [
        "persistentvolume/",
        "persistentvolumeclaim/",
        "pod/webserver",
    ] {
        assert!(
            report.contains(&format!("passed for resource {obj}")),
            "{report}"
        );
    }
    // The validator can fail: a field Kubernetes does not know.
    let bad = dir.write(
        "bad.yaml",
        &text.replace("\"nodeSelector\"", "\"nodeSelektor\""),
    );
    assert_ne!(code(&validate(&bad)), 0);
}

#[test]
fn the_rich_example_validates_too_and_says_what_it_left_out() {
    let dir = Dir::new();
    let rich = repo_root().join("specs/examples/rich");
    let export = |engine: &str| {
        run(dir
            .berth()
            .args(["export", engine, "--hosts"])
            .arg(rich.join("host.yaml"))
            .arg(rich.join("app/berth.yaml")))
    };
    let k8s = export("kubernetes");
    assert_eq!(code(&k8s), 0, "{}", stderr(&k8s));
    let err = stderr(&k8s);
    assert!(
        err.contains("volume nfs-media: made by a provider"),
        "{err}"
    );
    assert!(
        err.contains("device `/dev/dri/renderD128` cannot be expressed"),
        "{err}"
    );
    let nomad = export("nomad");
    assert_eq!(code(&nomad), 0, "{}", stderr(&nomad));
    let Some(py) = venv_python("the_rich_example_validates_too") else {
        return;
    };
    let file = dir.write("rich.yaml", &stdout(&k8s));
    let v = run(Command::new(&py)
        .args(["-m", "kubernetes_validate", "--strict", "-k", K8S_VERSION])
        .arg(&file));
    assert_eq!(code(&v), 0, "{}{}", stdout(&v), stderr(&v));
    assert!((stdout(&v) + &stderr(&v)).contains("passed for resource pod/app"));
    let file = dir.write("rich.hcl", &stdout(&nomad));
    let script = "import hcl2, sys\nhcl2.load(open(sys.argv[1]))";
    let parsed = run(Command::new(&py).args(["-c", script]).arg(&file));
    assert_eq!(code(&parsed), 0, "{}", stderr(&parsed));
}

#[test]
fn seed_exports_to_nomad_hcl_that_parses() {
    let dir = Dir::new();
    let out = export(&dir, "nomad", &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let Some(py) = venv_python("seed_exports_to_nomad") else {
        return;
    };
    let file = dir.write("seed.nomad.hcl", &stdout(&out));
    let script = "import hcl2, json, sys\nprint(json.dumps(hcl2.load(open(sys.argv[1]))))";
    let parsed = run(Command::new(&py).args(["-c", script]).arg(&file));
    assert_eq!(code(&parsed), 0, "{}", stderr(&parsed));
    // python-hcl2 keeps string quotes and labels as written.
    let v: Value = serde_json::from_str(&stdout(&parsed)).unwrap();
    let client = &v["client"][0]["host_volume"][0]["\"webpages\""];
    assert_eq!(client["path"], "\"/srv/webpages\"");
    let job = &v["job"][0]["\"webserver\""];
    assert_eq!(job["constraint"][0]["value"], "\"web-01\"");
    let group = &job["group"][0]["\"webserver\""];
    let net = &group["network"][0];
    assert_eq!(net["mode"], "\"cni/berth6\"");
    assert_eq!(net["port"][0]["\"http\""]["static"], 80);
    assert_eq!(net["port"][0]["\"http\""]["to"], 80);
    assert_eq!(net["cni"][0]["args"]["BERTH_NAME"], "\"webserver\"");
    let vol = &group["volume"][0]["\"webpages\""];
    assert_eq!(vol["type"], "\"host\"");
    assert_eq!(vol["source"], "\"webpages\"");
    assert_eq!(vol["read_only"], true);
    let task = &group["task"][0]["\"webserver\""];
    assert_eq!(task["volume_mount"][0]["destination"], "\"/var/www\"");
    assert_eq!(task["config"][0]["image"], "\"example/webserver:1.4\"");
    // python-hcl2 rejects what is not HCL.
    let bad = dir.write("bad.hcl", "job \"x\" {\n  a = \n}\n");
    assert_ne!(
        code(&run(Command::new(&py).args(["-c", script]).arg(&bad))),
        0
    );
}

#[test]
fn the_nomad_worked_example_in_engines_md_is_what_export_prints() {
    let doc = std::fs::read_to_string(repo_root().join("docs/engines.md")).unwrap();
    let start = doc.find("```hcl\n").expect("an hcl block") + "```hcl\n".len();
    let block = &doc[start..];
    let block = &block[..block.find("```").unwrap()];
    let dir = Dir::new();
    let out = export(&dir, "nomad", &[]);
    assert_eq!(code(&out), 0);
    assert_eq!(stdout(&out), block);
}

#[test]
fn what_an_engine_cannot_express_is_a_note_on_stderr_and_in_json() {
    let dir = Dir::new();
    let host = dir.write(
        "host.yaml",
        "berth: 1\nhost: h1\nprovides:\n  - device: fuse\n    path: /dev/fuse\n  \
         - example.com/gpu: g0\n    devices: [vendor.com/gpu=0]\n",
    );
    let specs = dir.write(
        "specs.yaml",
        "berth: 1\ncontainer: dev\nimage: x/dev:1\nneeds:\n  - device: fuse\n  - example.com/gpu: g0\n\
         ---\nberth: 1\ncontainer: lost\nneeds:\n  - volume: nowhere\n    mount: /data\n",
    );
    let o = run(dir
        .berth()
        .args(["export", "kubernetes", "--hosts"])
        .arg(&host)
        .arg(&specs));
    assert_eq!(code(&o), 1, "one container is unplaced: {}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("device `/dev/fuse` cannot be expressed"),
        "{err}"
    );
    assert!(
        err.contains("container `lost`: not placed on any host"),
        "{err}"
    );
    assert!(err.contains("exported 1 of 2 containers"), "{err}");
    // The CDI device goes through the cdi.k8s.io annotation.
    let docs = documents(&stdout(&o));
    let pod = docs.iter().find(|d| d["kind"] == "Pod").unwrap();
    assert_eq!(
        pod["metadata"]["annotations"]["cdi.k8s.io/berth-0"],
        "vendor.com/gpu=0"
    );

    let o = run(dir
        .berth()
        .args(["export", "nomad", "--format", "json", "--hosts"])
        .arg(&host)
        .arg(&specs));
    assert_eq!(code(&o), 1);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["placed"], 1);
    assert_eq!(v["unplaced"], 1);
    let notes: Vec<(&str, &str)> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["container"].as_str().unwrap(),
                n["note"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(notes.contains(&("lost", "unplaced")), "{notes:?}");
    // Nomad's docker driver takes device paths but no CDI names.
    assert!(
        notes.contains(&("dev", "device-not-expressible")),
        "{notes:?}"
    );
    assert!(v["text"]
        .as_str()
        .unwrap()
        .contains("host_path = \"/dev/fuse\""));
}

#[test]
fn export_without_specs_is_a_usage_error_and_cdi_needs_one_host() {
    let dir = Dir::new();
    let seed = seed();
    let o = run(dir
        .berth()
        .args(["export", "kubernetes", "--hosts"])
        .arg(seed.join("host.yaml")));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let o = run(dir
        .berth()
        .args(["export", "cdi", "--hosts"])
        .arg(seed.join("host.yaml"))
        .arg("--hosts")
        .arg(repo_root().join("specs/examples/rich/host.yaml")));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

/// Removes a file when dropped.
struct RemoveFile(PathBuf);

impl Drop for RemoveFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn podman_runs_a_container_with_a_cdi_device_berth_wrote() {
    let name = "podman_runs_a_container_with_a_cdi_device_berth_wrote";
    if !require_tools(name, &["podman", "runc", "busybox", "mknod"]) {
        return;
    }
    let dir = Dir::new();
    let base = dir.path().to_str().unwrap().to_string();
    // /dev/null's device node under another path, a folder to mount.
    let node = format!("{base}/null-node");
    let o = run(Command::new("mknod").args([&node, "c", "1", "3"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    dir.write("data/hello.txt", "hello from berth\n");
    let host = dir.write(
        "host.yaml",
        &format!(
            "berth: 1\nhost: cdi-host\nprovides:\n  - example.com/thing: one\n    \
             env: {{THING: berth-one}}\n    devices: [{node}]\n    mounts:\n      \
             - path: {base}/data\n        mount: /thing\n        read_only: true\n"
        ),
    );
    let cdi_dir = PathBuf::from("/var/run/cdi");
    let _cleanup = RemoveFile(cdi_dir.join("berth-example.com-thing.json"));
    let o = run(dir
        .berth()
        .args(["export", "cdi", "--hosts"])
        .arg(&host)
        .arg("--cdi-dir")
        .arg(&cdi_dir));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let conf = std::env::var_os("CONTAINERS_CONF")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("tests/support/containers.conf"));
    let image = "localhost/berth-test-busybox:1";
    let o = run(
        Command::new(repo_root().join("tests/support/busybox-image"))
            .arg(image)
            .env("CONTAINERS_CONF", &conf),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let script = format!(
        "ls -l {node} && echo \"THING=$THING\" && cat /thing/hello.txt && echo ok > {node}"
    );
    let o = run(Command::new("podman")
        .args(["run", "--rm", "--network", "none"])
        .args([
            "--device",
            "example.com/thing=one",
            image,
            "sh",
            "-c",
            &script,
        ])
        .env("CONTAINERS_CONF", &conf));
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{out}{}", stderr(&o));
    assert!(
        out.starts_with('c') && out.contains("1,   3"),
        "a char device 1:3: {out}"
    );
    assert!(out.contains("THING=berth-one"), "{out}");
    assert!(out.contains("hello from berth"), "{out}");

    // `berth run --cdi` passes the same CDI name (not the edits) to podman.
    let spec = dir.write(
        "berth.yaml",
        &format!(
            "berth: 1\ncontainer: cdi-run\nimage: {image}\nneeds:\n  - example.com/thing: one\n"
        ),
    );
    let o = run(dir
        .berth()
        .args([
            "run",
            "--cdi",
            "--engine",
            "podman",
            "--rm",
            "--engine-arg=--network=none",
            "-H",
        ])
        .arg(&host)
        .arg(&spec)
        .args(["--", "sh", "-c", &script])
        .env("CONTAINERS_CONF", &conf));
    let out = stdout(&o);
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{out}{err}");
    assert!(err.contains("--device 'example.com/thing=one'"), "{err}");
    assert!(
        !err.contains("THING=berth-one"),
        "the edits were expanded: {err}"
    );
    assert!(out.contains("THING=berth-one"), "{out}");
    assert!(out.contains("hello from berth"), "{out}");
}

#[test]
fn every_flag_of_berth_export_is_in_cli_md() {
    let dir = Dir::new();
    let help = stdout(&run(dir.berth().args(["export", "--help"])));
    let doc = std::fs::read_to_string(repo_root().join("docs/cli.md")).unwrap();
    let section = &doc[doc.find("## `berth export").expect("an export section")..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let flags: Vec<&str> = help
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .filter(|w| !["--help", "--version"].contains(w))
        .collect();
    assert!(flags.contains(&"--hosts"), "{help}");
    for f in flags {
        assert!(
            section.contains(&format!("`{f}")),
            "{f} is not documented in docs/cli.md"
        );
    }
    for engine in ["kubernetes", "nomad", "cdi"] {
        assert!(help.contains(engine), "{help}");
    }
}

#[test]
fn export_is_quiet_when_the_reader_closes_the_pipe() {
    use std::io::{BufRead, BufReader};
    let dir = Dir::new();
    let (mut hosts, mut specs) = (String::new(), String::new());
    for i in 0..2000 {
        hosts.push_str(&format!(
            "---\nberth: 1\nhost: h{i}\nprovides:\n  - volume: v{i}\n    path: /srv/v{i}\n"
        ));
        specs.push_str(&format!(
            "---\nberth: 1\ncontainer: c{i}\nimage: x/c:1\nneeds:\n  - volume: v{i}\n    mount: /d\n"
        ));
    }
    let h = dir.write("hosts.yaml", &hosts);
    let s = dir.write("specs.yaml", &specs);
    let mut child = dir
        .berth()
        .args(["export", "kubernetes", "--hosts"])
        .arg(&h)
        .arg(&s)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone; the rest of several megabytes hits a closed pipe.
    let out = child.wait_with_output().unwrap();
    assert!(first.starts_with("# Kubernetes objects"), "{first}");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}
