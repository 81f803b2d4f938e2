//! Lists the console's files (`console/`) for `src/console.rs`, which embeds each one with
//! `include_bytes!`: the assets are plain files in the repository, compiled into the binary,
//! with no bundler or other step between a clone and `cargo run`. Adding a file (a new game
//! view in `console/views/`) needs no edit anywhere else.

use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Deeper than the console needs; bounds the walk.
const MAX_DEPTH: usize = 4;

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    assert!(depth <= MAX_DEPTH, "console/ nests deeper than {MAX_DEPTH} folders: {}", dir.display());
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, depth + 1, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    // The folder of this build, read when the script runs: `env!` would bake in the folder the
    // script was compiled in, and a target directory copied from another checkout would then
    // embed that checkout's console.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("console");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, 0, &mut files);
    let mut src = String::from("/// Every console file: its path under `console/` and its bytes.\n");
    src.push_str("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for f in &files {
        let rel = f.strip_prefix(&root).expect("under console/").to_str().expect("a UTF-8 path").replace('\\', "/");
        let _ = writeln!(src, "    ({rel:?}, include_bytes!({:?})),", f.to_str().expect("a UTF-8 path"));
    }
    src.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("console_assets.rs");
    std::fs::write(&out, src).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}
