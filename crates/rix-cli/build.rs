//! Embeds the sample records (`samples/records/<MEMBER>/*.md`) into the binary, so that
//! `rix devnet` works wherever the binary is run from.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/records");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    if let Ok(members) = std::fs::read_dir(&root) {
        for member in members.flatten() {
            println!("cargo:rerun-if-changed={}", member.path().display());
            for file in std::fs::read_dir(member.path()).into_iter().flatten().flatten() {
                let path = file.path();
                if path.extension().is_some_and(|e| e == "md") {
                    files.push((member.file_name().to_string_lossy().into_owned(), path));
                }
            }
        }
    }
    files.sort();
    let mut out = String::from(
        "/// Sample record files: (member, file name, contents).\npub const SAMPLES: &[(&str, &str, &str)] = &[\n",
    );
    for (member, path) in files {
        let name = path.file_name().unwrap().to_string_lossy();
        let abs = std::fs::canonicalize(&path).unwrap();
        writeln!(out, "    ({member:?}, {name:?}, include_str!({:?})),", abs.display().to_string()).unwrap();
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("samples.rs");
    std::fs::write(dest, out).unwrap();
}
