//! The shape of the code, checked: in neither crate does a file import, through any chain of
//! `crate::` and `super::` paths, a file that imports it back (an import circle makes two
//! modules one in all but name). Tests (`#[cfg(test)]`) are left out; a module's own parent
//! and children do not count. That the engine never imports the bot is the compiler's to
//! check, and that it holds no I/O crate is `.ci/run`'s (`cargo tree`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file below `root`, by module path (`agents::root_cause`; the crate root is "").
fn modules(root: &Path) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(root).unwrap().with_extension("");
                let mut parts: Vec<String> = relative
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                found.insert(parts.join("::"), path);
            }
        }
    }
    found
}

/// The longest module path that `path` starts with.
fn resolve(path: &str, modules: &BTreeMap<String, PathBuf>) -> Option<String> {
    let mut parts: Vec<&str> = path.split("::").collect();
    while !parts.is_empty() {
        let candidate = parts.join("::");
        if modules.contains_key(&candidate) {
            return Some(candidate);
        }
        parts.pop();
    }
    None
}

/// The lowercase path segments right after `at` in `text` (`a::b::c`), and the items of a
/// `::{…}` group after them when there is one.
fn path_after(text: &str, at: usize) -> (String, Vec<String>) {
    let rest = &text[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ':'))
        .unwrap_or(rest.len());
    let path = rest[..end].trim_end_matches(':').to_string();
    let group = rest[end..]
        .strip_prefix('{')
        .filter(|_| rest[..end].ends_with("::"))
        .and_then(|g| g.split_once('}'))
        .map(|(items, _)| {
            items
                .split(',')
                .map(|item| {
                    item.trim()
                        .split([' ', '{'])
                        .next()
                        .unwrap_or("")
                        .to_string()
                })
                .filter(|item| item.starts_with(|c: char| c.is_ascii_lowercase()))
                .collect()
        })
        .unwrap_or_default();
    (path, group)
}

/// Which modules each module imports (outside its tests), its own ancestors and descendants
/// left out.
fn imports(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules(root);
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).unwrap();
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
        let mut targets = BTreeSet::new();
        for (marker, base) in [("crate::", ""), ("super::", parent)] {
            for (at, _) in text.match_indices(marker) {
                let (path, group) = path_after(text, at + marker.len());
                let full = |tail: &str| {
                    [base, &path, tail]
                        .iter()
                        .filter(|p| !p.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join("::")
                };
                let paths = if group.is_empty() {
                    vec![full("")]
                } else {
                    group.iter().map(|item| full(item)).collect()
                };
                targets.extend(paths.iter().filter_map(|p| resolve(p, &modules)));
            }
        }
        let related = |other: &String| {
            other == module
                || other.is_empty()
                || module.is_empty()
                || other.starts_with(&format!("{module}::"))
                || module.starts_with(&format!("{other}::"))
        };
        targets.retain(|t| !related(t));
        graph.insert(module.clone(), targets);
    }
    graph
}

/// One import circle, as the modules along it, if there is any.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|m| m == module) {
            let mut circle = path[start..].to_vec();
            circle.push(module.to_string());
            return Some(circle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_string());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(module.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(module, graph, &mut Vec::new(), &mut done))
}

fn crate_source(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(folder)
}

#[test]
fn neither_crate_has_an_import_circle() {
    for folder in ["src", "engine/src"] {
        let graph = imports(&crate_source(folder));
        assert!(graph.len() > 10, "{folder}: {} modules read", graph.len());
        assert_eq!(circle(&graph), None, "an import circle in {folder}");
    }
}

#[test]
fn the_checker_sees_a_circle() {
    let dir = std::env::temp_dir().join(format!("anomaly-hunter-arch-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod a;\npub mod b;\n").unwrap();
    std::fs::write(dir.join("a/mod.rs"), "pub mod x;\n").unwrap();
    std::fs::write(dir.join("a/x.rs"), "use crate::b::{self, c};\n").unwrap();
    std::fs::write(
        dir.join("b.rs"),
        "pub fn c() { crate::a::x::y(); }\n#[cfg(test)]\nmod t { use crate::nothing; }\n",
    )
    .unwrap();
    let graph = imports(&dir);
    assert_eq!(
        circle(&graph),
        Some(vec![
            "a::x".to_string(),
            "b".to_string(),
            "a::x".to_string()
        ])
    );
    std::fs::write(dir.join("b.rs"), "pub fn c() {}\n").unwrap();
    assert_eq!(circle(&imports(&dir)), None);
    std::fs::remove_dir_all(&dir).unwrap();
}
