//! The module graph of `src/` is one-way, as `src/lib.rs`'s Layout section describes.
//!
//! Reads the sources (no compiler involved) and fails, naming the file and line, when a
//! top-level module imports one that is not below it in [`LAYERS`], or when the files of
//! one module import each other in a cycle. Comments are not imports: a doc link may point
//! anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules of `src/`, from the top of the graph down. A module may import
/// only modules of a later row; modules of one row do not import each other.
const LAYERS: &[&[&str]] = &[
    // The binary's commands.
    &["cli"],
    // The process: tools of the command line, listeners, reload, signals.
    &["healthcheck", "inspect", "preflight"],
    &["server"],
    &["reload", "admin"],
    &["lifecycle"],
    // The request path, one way: HTTP, then the state it serves, who is calling, what the
    // caller may get, whether they may have it now.
    &["http"],
    &["app"],
    &["auth"],
    &["policy"],
    &["limits"],
    // The event relay's core: beside the request path, on the upload tickets' store.
    &["events"],
    // Upload tickets and their store: called by the request path, calling only the leaves'
    // settings and plain data.
    &["uploads"],
    // The VOD API client of the event queue: signs with a named credential.
    &["vodapi"],
    // Leaves the upper layers call, never the other way round.
    &["audit", "credentials", "tls"],
    &["metrics", "telemetry"],
    // Plain data: settings and the proven caller.
    &["config", "principal"],
    // Pure: no I/O, no clock, no randomness.
    &["signature"],
];

/// One `crate::` reference in code.
#[derive(Debug)]
struct Import {
    file: PathBuf,
    line: usize,
    text: String,
    target: String,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src/ is readable")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/auth/jwt.rs` -> `auth`), or `None` for the
/// crate root files.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).expect("under src/");
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

/// The code of a line without its comment (a `//` outside a string literal).
fn code_of(line: &str) -> &str {
    let mut in_string = false;
    let mut escaped = false;
    // A `'"'` character literal is not the start of a string.
    let masked = line.replace("'\"'", "'_'");
    let bytes = masked.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Every `crate::NAME` a line names, also inside `crate::{a, b::c}` groups.
fn crate_targets(code: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `some_crate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            targets.extend(group_items(group).into_iter().map(leading_name));
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                targets.push(name);
            }
        }
    }
    targets.retain(|t| !t.is_empty());
    targets
}

/// The top-level items of a `{a, b::{c, d}, e}` group (its text after the `{`).
fn group_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
}

/// The first path segment of a `use` item (`auth::Principal` -> `auth`).
fn leading_name(item: &str) -> String {
    item.trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The code lines of a file with their numbers, comments removed; a `use` statement whose
/// braces span several lines is joined into one, numbered by its first line.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (number, line) in text.lines().enumerate() {
        let code = code_of(line).trim();
        let (first, statement) = match pending.take() {
            Some((first, so_far)) => (first, format!("{so_far} {code}")),
            None => (number + 1, code.to_owned()),
        };
        let is_use = ["use ", "pub use ", "pub(crate) use "]
            .iter()
            .any(|p| statement.starts_with(p));
        if is_use && statement.matches('{').count() > statement.matches('}').count() {
            pending = Some((first, statement));
        } else {
            lines.push((first, statement));
        }
    }
    lines.extend(pending);
    lines
}

fn imports_of(file: &Path) -> Vec<Import> {
    let text = std::fs::read_to_string(file).expect("source is UTF-8");
    let mut imports = Vec::new();
    for (line, code) in code_lines(&text) {
        for target in crate_targets(&code) {
            imports.push(Import {
                file: file.to_owned(),
                line,
                text: code.clone(),
                target,
            });
        }
    }
    imports
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|row| row.contains(&module))
}

#[test]
fn every_top_level_module_has_a_layer() {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| top_module(&src, f)).collect();
    let unplaced: Vec<_> = modules.iter().filter(|m| layer_of(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "modules without a row in tests/architecture.rs LAYERS (and src/lib.rs's Layout): {unplaced:?}"
    );
    let listed: Vec<_> = LAYERS
        .iter()
        .flat_map(|row| row.iter())
        .filter(|m| !modules.contains(**m))
        .collect();
    assert!(
        listed.is_empty(),
        "LAYERS names modules that are not in src/: {listed:?}"
    );
}

#[test]
fn modules_import_only_the_layers_below_them() {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut offences = Vec::new();
    for file in &files {
        let Some(module) = top_module(&src, file) else {
            continue;
        };
        let Some(own) = layer_of(&module) else {
            continue; // reported by every_top_level_module_has_a_layer
        };
        for import in imports_of(file) {
            if import.target == module {
                continue;
            }
            match layer_of(&import.target) {
                Some(target) if target > own => {}
                Some(_) => offences.push(format!(
                    "{}:{}: `{}` imports `{}`, which is not below it: {}",
                    import.file.display(),
                    import.line,
                    module,
                    import.target,
                    import.text
                )),
                // Not a module of ours (e.g. a macro-generated path): nothing to check.
                None => {}
            }
        }
    }
    assert!(
        offences.is_empty(),
        "upward or sideways imports:\n{}",
        offences.join("\n")
    );
}

#[test]
fn files_of_one_module_import_each_other_without_cycles() {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    // Module directory -> (file stem -> the sibling stems it imports, with the line).
    let mut graphs: BTreeMap<PathBuf, BTreeMap<String, Vec<(String, usize)>>> = BTreeMap::new();
    for file in &files {
        let Some(dir) = file.parent() else { continue };
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if dir == src || stem == "mod" {
            continue; // a module's root declares its children: not a sibling edge
        }
        let module_path = dir
            .strip_prefix(&src)
            .expect("under src/")
            .to_string_lossy()
            .replace('/', "::");
        let text = std::fs::read_to_string(file).expect("source is UTF-8");
        let mut edges = Vec::new();
        for (line, code) in code_lines(&text) {
            for prefix in ["super::".to_owned(), format!("crate::{module_path}::")] {
                let mut rest = code.as_str();
                while let Some(at) = rest.find(&prefix) {
                    rest = &rest[at + prefix.len()..];
                    let mut names = Vec::new();
                    if let Some(group) = rest.strip_prefix('{') {
                        names.extend(group_items(group).into_iter().map(leading_name));
                    } else {
                        names.push(leading_name(rest));
                    }
                    for name in names {
                        if name != stem && dir.join(format!("{name}.rs")).is_file() {
                            edges.push((name, line));
                        }
                    }
                }
            }
        }
        graphs
            .entry(dir.to_owned())
            .or_default()
            .insert(stem.to_owned(), edges);
    }
    let mut cycles = Vec::new();
    for (dir, graph) in &graphs {
        for start in graph.keys() {
            // Depth-first from `start`: a path back to it is a cycle.
            let mut stack = vec![(start.clone(), vec![start.clone()])];
            let mut seen = BTreeSet::new();
            while let Some((node, path)) = stack.pop() {
                for (next, line) in graph.get(&node).into_iter().flatten() {
                    if next == start {
                        cycles.push(format!(
                            "{}: {} -> {} ({node}.rs:{line})",
                            dir.display(),
                            path.join(" -> "),
                            start
                        ));
                    } else if seen.insert(next.clone()) {
                        let mut longer = path.clone();
                        longer.push(next.clone());
                        stack.push((next.clone(), longer));
                    }
                }
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles between the files of one module:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_checker_sees_imports_and_skips_comments() {
    assert_eq!(
        crate_targets("use crate::{auth::Principal, config::{A, B}};"),
        ["auth", "config"]
    );
    assert_eq!(crate_targets("let x = crate::app::unix_now();"), ["app"]);
    assert!(crate_targets("use some_crate::x;").is_empty());
    assert_eq!(code_of("use a; // see crate::http"), "use a; ");
    assert_eq!(
        code_of(r#"let s = "//"; crate::x"#),
        r#"let s = "//"; crate::x"#
    );
    assert_eq!(code_of(r#"b == '"' // x"#), r#"b == '"' "#);
    assert_eq!(
        code_lines("use crate::{\n    a::B, // the b\n    c,\n};\nfn f() {}"),
        [
            (1, "use crate::{ a::B, c, };".to_owned()),
            (5, "fn f() {}".to_owned())
        ]
    );
    assert_eq!(layer_of("cli"), Some(0));
    assert!(layer_of("signature") > layer_of("http"));
}
