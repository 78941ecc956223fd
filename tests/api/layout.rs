//! The shape of the source tree, checked so that it stays as docs/ARCHITECTURE.md describes it:
//! `api` imports only downward (routes → commands → access and resources), no route module
//! imports another, and a file longer than about 400 lines says why in its opening comment.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn files_under(dir: &str) -> Vec<(PathBuf, String)> {
    let mut paths = Vec::new();
    rust_files(&root().join(dir), &mut paths);
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

/// The `crate::…` and `super::…` paths a file names (in `use` lines and in code).
fn names(text: &str, prefix: &str) -> bool {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .any(|l| l.contains(prefix))
}

#[test]
fn api_imports_only_downward_and_no_route_module_imports_another() {
    let mut wrong = Vec::new();
    for (path, text) in files_under("api/src/routes") {
        let is_mod = path.ends_with("routes/mod.rs");
        if !is_mod && (names(&text, "crate::routes") || names(&text, "super::")) {
            wrong.push(format!("{} imports another route module", path.display()));
        }
    }
    for layer in ["api/src/commands", "api/src/access", "api/src/resources"] {
        for (path, text) in files_under(layer) {
            if names(&text, "crate::routes") {
                wrong.push(format!("{} imports routes", path.display()));
            }
        }
    }
    for layer in ["api/src/access", "api/src/resources"] {
        for (path, text) in files_under(layer) {
            if names(&text, "crate::commands") {
                wrong.push(format!("{} imports commands", path.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn a_file_over_400_lines_says_why() {
    let mut long = Vec::new();
    for dir in ["aggregates", "api", "projections", "store", "src", "tests", "benches"] {
        for (path, text) in files_under(dir) {
            let opening: String = text.lines().take_while(|l| l.starts_with("//")).collect();
            if text.lines().count() > 420 && !opening.contains("on purpose") {
                long.push(path.display().to_string());
            }
        }
    }
    assert!(
        long.is_empty(),
        "over 400 lines without a reason in the opening comment: {long:#?}"
    );
}
