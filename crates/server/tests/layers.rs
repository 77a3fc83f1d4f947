//! The module dependency direction, checked on the source: no module circle
//! in `crates/server` or `crates/cli`, the application layer (`app`) never
//! names the HTTP layer or axum, `auth` names neither layer, and the HTTP
//! layer never holds the store.
//!
//! A module's dependencies are the `crate::…`, `super::…` and child-module
//! paths its file names outside comments and its `#[cfg(test)]` tail,
//! resolved to the longest module (file) they start with.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One source file: its module path (`""` for the crate root) and its code.
struct Module {
    path: String,
    code: String,
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

/// The code that counts: comments and the test tail removed.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            // `//` inside a string literal (a URL) is not a comment.
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn modules(src: &Path) -> Vec<Module> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            Module {
                path: parts.join("::"),
                code: code_of(&std::fs::read_to_string(&file).unwrap()),
            }
        })
        .collect()
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `code` names `name` as a whole path (`Store`, not `StoreError`).
fn names(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(at, _)| {
        let before = code[..at].chars().last();
        let after = code[at + name.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// The paths that follow `prefix` (`crate::`, `super::`, `events::`…),
/// expanding `{a, b::c}` groups, as segment lists.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        let after = &rest[at + prefix.len()..];
        rest = after;
        // `x::crate::` or `foo_events::` are not this prefix.
        if before.is_some_and(|c| is_ident(c) || c == ':') {
            continue;
        }
        collect(after, &mut Vec::new(), &mut found);
    }
    found
}

fn collect(text: &str, base: &mut Vec<String>, found: &mut Vec<Vec<String>>) {
    let text = text.trim_start();
    if let Some(group) = text.strip_prefix('{') {
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    collect(&group[start..i], &mut base.clone(), found);
                    return;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    collect(&group[start..i], &mut base.clone(), found);
                    start = i + 1;
                }
                _ => {}
            }
        }
        return;
    }
    let ident: String = text.chars().take_while(|c| is_ident(*c)).collect();
    if ident.is_empty() {
        found.push(base.clone());
        return;
    }
    base.push(ident.clone());
    match text[ident.len()..].strip_prefix("::") {
        Some(next) => collect(next, base, found),
        None => found.push(base.clone()),
    }
}

/// Module → the modules it depends on.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules(src);
    let known: BTreeSet<&str> = modules.iter().map(|m| m.path.as_str()).collect();
    let resolve = |segments: &[String]| -> Option<String> {
        (0..=segments.len())
            .rev()
            .map(|n| segments[..n].join("::"))
            .find(|candidate| known.contains(candidate.as_str()))
    };
    let join = |base: &str, segments: &[String]| -> Vec<String> {
        base.split("::")
            .filter(|s| !s.is_empty())
            .map(String::from)
            .chain(segments.iter().cloned())
            .collect()
    };
    let mut edges = BTreeMap::new();
    for module in &modules {
        let parent = module.path.rsplit_once("::").map_or("", |(p, _)| p);
        let mut targets = BTreeSet::new();
        let mut add = |segments: Vec<String>| {
            if let Some(target) = resolve(&segments) {
                if target != module.path {
                    targets.insert(target);
                }
            }
        };
        for path in paths_after(&module.code, "crate::") {
            add(path);
        }
        for path in paths_after(&module.code, "super::") {
            add(join(parent, &path));
        }
        // Relative paths to child modules (`events::heartbeat` in http).
        let prefix = if module.path.is_empty() {
            String::new()
        } else {
            format!("{}::", module.path)
        };
        for child in &known {
            let Some(name) = child.strip_prefix(prefix.as_str()) else {
                continue;
            };
            if name.is_empty() || name.contains("::") {
                continue;
            }
            for path in paths_after(&module.code, &format!("{name}::")) {
                add(join(child, &path));
            }
        }
        edges.insert(module.path.clone(), targets);
    }
    edges
}

/// A module circle, if any, as the modules along it.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let from = stack.iter().position(|n| n == next).unwrap();
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(cycle) = visit(next, edges, state, stack) {
                        return Some(cycle);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if !state.contains_key(node) {
            if let Some(cycle) = visit(node, edges, &mut state, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .join("src")
}

fn show(cycle: &[String]) -> String {
    cycle
        .iter()
        .map(|m| if m.is_empty() { "crate" } else { m.as_str() })
        .collect::<Vec<_>>()
        .join(" → ")
}

#[test]
fn the_server_modules_form_no_circle() {
    let edges = graph(&crate_src("server"));
    assert!(edges.contains_key("app::live") && edges["http"].contains("http::events"));
    if let Some(cycle) = find_cycle(&edges) {
        panic!("module circle in evo-server: {}", show(&cycle));
    }
}

#[test]
fn the_cli_modules_form_no_circle() {
    let edges = graph(&crate_src("cli"));
    assert!(
        edges["bench"].contains("cli"),
        "the scanner sees `use crate::cli`"
    );
    if let Some(cycle) = find_cycle(&edges) {
        panic!("module circle in evo-voice (cli): {}", show(&cycle));
    }
}

#[test]
fn the_application_layer_knows_nothing_of_http() {
    let src = crate_src("server");
    let edges = graph(&src);
    let mut broken = Vec::new();
    for (module, targets) in &edges {
        let layer = module.split("::").next().unwrap_or("");
        for target in targets {
            let to = target.split("::").next().unwrap_or("");
            let refused = match layer {
                "app" => matches!(to, "http" | "startup" | ""),
                "auth" => matches!(to, "app" | "http" | "startup" | ""),
                "http" => matches!(to, "startup" | ""),
                _ => false,
            };
            if refused {
                broken.push(format!("{module} → {target}"));
            }
        }
    }
    for module in modules(&src) {
        let frameworks = ["axum", "tower_http", "tower", "hyper"];
        if module.path.starts_with("app") {
            for name in frameworks {
                if names(&module.code, name) {
                    broken.push(format!("{} names {name}", module.path));
                }
            }
        }
        if module.path.starts_with("http") {
            for name in ["evo_store::Store", "Store", "sqlx"] {
                if names(&module.code, name) {
                    broken.push(format!("{} reaches the store ({name})", module.path));
                }
            }
        }
    }
    assert!(broken.is_empty(), "layer rule broken: {broken:#?}");
}

#[test]
fn the_scanner_finds_circles_and_grouped_imports() {
    assert!(names("use evo_store::Store;", "Store"));
    assert!(!names("evo_store::StoreError", "Store"));
    let grouped = paths_after(
        "use crate::{app::{live, state::AppState}, http};",
        "crate::",
    );
    assert_eq!(
        grouped,
        vec![
            vec!["app".to_string(), "live".to_string()],
            vec![
                "app".to_string(),
                "state".to_string(),
                "AppState".to_string()
            ],
            vec!["http".to_string()],
        ]
    );
    let mut edges = BTreeMap::new();
    edges.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    edges.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    edges.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(find_cycle(&edges).map(|c| c.len()), Some(4));
    edges.insert("c".to_string(), BTreeSet::new());
    assert_eq!(find_cycle(&edges), None);
}
