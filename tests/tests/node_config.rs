//! Every file in `node-config/` parses as what it claims to be.

use std::path::Path;

use rix_node::NodeConfig;
use rix_record::Charter;

#[test]
fn every_example_file_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../node-config");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("charter") && name.ends_with(".toml") {
            let charter = Charter::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(charter.members.len(), 9, "{name}");
            checked += 1;
        } else if name.ends_with(".toml") {
            let loaded = NodeConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
            // The example points at the example charter, which must exist and parse.
            Charter::load(&loaded.config.charter).unwrap_or_else(|e| panic!("{e}"));
            checked += 1;
        }
    }
    assert_eq!(checked, 2, "expected an example config and an example charter");
}
