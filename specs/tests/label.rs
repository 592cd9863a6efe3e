//! The image label's loader, from outside the crate: a problem in a label
//! names its JSON path and the image it came from.

use std::path::PathBuf;

use berth_specs::label::load_image_label;
use berth_specs::Code;

#[test]
fn a_problem_in_the_label_names_its_json_path() {
    let label = r#"{"berth":1,"container":"web","needs":[{"volume":"pages","mount":"relative"}]}"#;
    let loaded = load_image_label("example/web:1", label);
    let d = loaded
        .diagnostics
        .iter()
        .find(|d| d.code == Code::NeedBadMount)
        .expect("bad mount");
    assert!(
        d.message.ends_with("(JSON path $.needs[0].mount)"),
        "{}",
        d.message
    );
    assert_eq!(
        d.source.as_ref().unwrap().path,
        PathBuf::from("image example/web:1, label io.berth.spec")
    );
}
