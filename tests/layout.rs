//! The layout of `src/` stays readable (docs/architecture.md): no file imports, directly or
//! through others, a file that imports it back (a folder's `mod.rs` and its own children are
//! one module: the children may use what it declares), and no source file grows past 800
//! lines (test modules kept in their own `tests.rs` aside).
//!
//! Imports are read from the source text: every `crate::`, `super::` and `self::` path
//! (braced lists expanded), every path from a child module, and every path through a name or
//! glob a `use` brought in, outside comments and `#[cfg(test)]` modules, resolved to the
//! longest module path that is a file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 800;

type Module = Vec<String>;

/// The `.rs` files of the crate whose root is `src/{root}` (`lib.rs` or `main.rs`), by module
/// path (`src/scan/journal/mod.rs` is `scan::journal`; the root is the empty path). The
/// binary's modules are those `main.rs` declares; the library's are the others.
fn modules(src: &Path, root: &str) -> BTreeMap<Module, PathBuf> {
    let declared = |file: &str| -> BTreeSet<String> {
        std::fs::read_to_string(src.join(file))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let l = l.trim().trim_start_matches("pub ");
                l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
            })
            .collect()
    };
    let of_bin = declared("main.rs");
    let ours = |top: &str| (root == "main.rs") == of_bin.contains(top);
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut module: Module = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|m| m == "mod") {
                module.pop();
            }
            match module.as_slice() {
                [only] if only == "lib" || only == "main" => {
                    if format!("{only}.rs") != root {
                        continue;
                    }
                    module.clear();
                }
                [top, ..] if !ours(top) => continue,
                _ => {}
            }
            found.insert(module, path);
        }
    }
    found
}

/// The source without `//` comments and without `#[cfg(test)] mod name { ... }` blocks.
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(line.find("//").map_or(line, |at| &line[..at]));
        out.push('\n');
    }
    let marker = "#[cfg(test)]";
    let mut kept = String::new();
    let mut rest = out.as_str();
    while let Some(at) = rest.find(marker) {
        let after = &rest[at + marker.len()..];
        let trimmed = after.trim_start();
        let Some(open) = trimmed
            .strip_prefix("mod ")
            .and_then(|m| m.find(['{', ';']).filter(|&i| m.as_bytes()[i] == b'{'))
        else {
            kept.push_str(&rest[..at + marker.len()]);
            rest = after;
            continue;
        };
        kept.push_str(&rest[..at]);
        let body_start = after.len() - trimmed.len() + 4 + open + 1;
        let mut depth = 1;
        let mut end = body_start;
        for (i, c) in after[body_start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = body_start + i + 1;
                break;
            }
        }
        rest = &after[end..];
    }
    kept.push_str(rest);
    kept
}

/// What `use` declarations brought into scope: names (the last segment, or the name after
/// `as`) for module paths, and the modules whose every item a glob (`::*`) brought in.
#[derive(Default)]
struct Scope {
    names: BTreeMap<String, Module>,
    globs: Vec<Module>,
}

/// Whether the path starting at `start` is the one a `use` declares (`use`, `pub use`,
/// `pub(crate) use` just before it).
fn after_use(code: &str, start: usize) -> bool {
    let before = code[..start].trim_end();
    before.strip_suffix("use").is_some_and(|rest| {
        !rest
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The paths a source names from `crate`, `super` or `self`, braced lists expanded, each as
/// the module path it starts from followed by its segments; and the paths it names from a
/// child module or through what a `use` brought into scope (`use crate::report;` then
/// `report::text::Text`; `use crate::report as r;` then `r::text::Text`; `use crate::a::*;`
/// then `child::f()` for a child of `a`).
fn paths(module: &Module, code: &str) -> Vec<Module> {
    let mut found = Vec::new();
    let mut scope = Scope::default();
    let bytes = code.as_bytes();
    for keyword in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(keyword) {
            let start = from + at;
            from = start + keyword.len();
            // Part of a longer name or path (`a::super::`, `my_crate::`).
            if start > 0
                && matches!(bytes[start - 1], b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b':')
            {
                continue;
            }
            let mut base: Module = match keyword {
                "crate::" => Vec::new(),
                // `super` of `a/b.rs` is `a`; of `a/b/mod.rs` (module `a::b`) also `a`.
                "super::" => module[..module.len().saturating_sub(1)].to_vec(),
                _ => module.clone(),
            };
            let mut at = from;
            // Further `super::` steps.
            while code[at..].starts_with("super::") {
                base.pop();
                at += "super::".len();
            }
            let declared = after_use(code, start).then_some(&mut scope);
            expand(code, at, base, &mut found, declared);
        }
    }
    // A path from a child module named without `self::` (`mod cli;` then `cli::run()`), or
    // from a name a `use` brought in (2018 paths: `use child::x as y;` too).
    let mut at = 0;
    while let Some(i) = code[at..].find("::") {
        let end = at + i;
        let start = code[..end]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |p| p + 1);
        let before = code[..start].chars().next_back();
        let first = &code[start..end];
        if start < end && before != Some(':') && !["crate", "super", "self"].contains(&first) {
            let mut starts: Vec<Module> = scope
                .globs
                .iter()
                .map(|g| [g, &[first.to_owned()][..]].concat())
                .collect();
            starts.push(scope.names.get(first).cloned().unwrap_or_else(|| {
                let mut path = module.clone();
                path.push(first.to_owned());
                path
            }));
            let declares = after_use(code, start);
            for path in starts {
                let mut names = Scope::default();
                expand(
                    code,
                    end + 2,
                    path,
                    &mut found,
                    declares.then_some(&mut names),
                );
                scope.names.extend(names.names);
                scope.globs.extend(names.globs);
            }
        }
        at = end + 2;
    }
    found
}

/// Reads the path at `at` (segments, a braced list of paths, or a glob) after `prefix`. When
/// the path is a `use` declaration's, what it brings into scope is added to `scope`.
fn expand(
    code: &str,
    mut at: usize,
    mut prefix: Module,
    found: &mut Vec<Module>,
    mut scope: Option<&mut Scope>,
) {
    let bytes = code.as_bytes();
    loop {
        if code[at..].starts_with('{') {
            braced(code, at + 1, &prefix, found, scope);
            return;
        }
        if code[at..].starts_with('*') {
            if let Some(scope) = scope {
                scope.globs.push(prefix.clone());
            }
            found.push(prefix);
            return;
        }
        let start = at;
        while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
            at += 1;
        }
        if at == start {
            // A path ending in `::` (not Rust): the prefix itself.
            found.push(prefix);
            return;
        }
        let segment = &code[start..at];
        // `{self, ..}` names the prefix itself.
        if segment != "self" {
            prefix.push(segment.to_owned());
        }
        if !code[at..].starts_with("::") {
            if let Some(scope) = scope.as_deref_mut() {
                let renamed = code[at..]
                    .trim_start()
                    .strip_prefix("as")
                    .filter(|rest| rest.starts_with(char::is_whitespace))
                    .map(|rest| {
                        let rest = rest.trim_start();
                        let end = rest
                            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .unwrap_or(rest.len());
                        rest[..end].to_owned()
                    });
                let name = renamed.or_else(|| prefix.last().cloned());
                if let Some(name) = name.filter(|n| !n.is_empty() && n != "_") {
                    scope.names.insert(name, prefix.clone());
                }
            }
            found.push(prefix);
            return;
        }
        at += 2;
    }
}

/// Each path of the braced list beginning at `at` (after its `{`), after `prefix`.
fn braced(
    code: &str,
    at: usize,
    prefix: &Module,
    found: &mut Vec<Module>,
    mut scope: Option<&mut Scope>,
) {
    let bytes = code.as_bytes();
    let mut depth = 1;
    let mut item_start = at;
    let mut i = at;
    while i < bytes.len() && depth > 0 {
        match bytes[i] {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b',' if depth == 1 => {
                expand_item(code, item_start, prefix, found, scope.as_deref_mut());
                item_start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    expand_item(code, item_start, prefix, found, scope);
}

fn expand_item(
    code: &str,
    at: usize,
    prefix: &Module,
    found: &mut Vec<Module>,
    scope: Option<&mut Scope>,
) {
    let skip = code[at..].len() - code[at..].trim_start().len();
    expand(code, at + skip, prefix.clone(), found, scope);
}

/// The import graph: each module and the other modules (files) it names.
fn graph(
    src: &Path,
    root: &str,
) -> (
    BTreeMap<Module, PathBuf>,
    BTreeMap<Module, BTreeSet<Module>>,
) {
    let files = modules(src, root);
    let mut edges = BTreeMap::new();
    for (module, path) in &files {
        if path.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        let mut deps = BTreeSet::new();
        for named in paths(module, &code(&text)) {
            // The longest prefix that is a module: `crate::a::b::Item` is `a::b` when that is a
            // file, else `a`; the crate root only for items it defines (`crate::f`).
            let target = (0..=named.len())
                .rev()
                .map(|k| named[..k].to_vec())
                .find(|m| files.contains_key(m))
                .filter(|m| !m.is_empty() || named.len() == 1);
            // A folder's `mod.rs` is its front door: its children may use what it declares,
            // and it uses them; a child naming its own folder is not counted as an import
            // back. Between siblings, across folders and to the crate root, every import
            // counts.
            let own_folder = |t: &Module| !t.is_empty() && module.starts_with(t);
            if let Some(t) = target.filter(|t| t != module && !own_folder(t)) {
                deps.insert(t);
            }
        }
        edges.insert(module.clone(), deps);
    }
    (files, edges)
}

/// A cycle through `start`, if there is one: the modules along it.
fn cycle_from(start: &Module, edges: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    let mut stack = vec![(start.clone(), vec![start.clone()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in edges.get(&at).into_iter().flatten() {
            if next == start {
                return Some(path);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let mut cycles = Vec::new();
    for root in ["lib.rs", "main.rs"] {
        let (files, edges) = graph(&src(), root);
        assert!(files.len() > 3, "{root}: the crate's modules are found");
        cycles.extend(edges.keys().filter_map(|m| cycle_from(m, &edges)).map(|c| {
            let mut names: Vec<String> = c.iter().map(name).collect();
            names.push(names[0].clone());
            format!("{root}: {}", names.join(" -> "))
        }));
    }
    assert!(cycles.is_empty(), "import circles:\n{}", cycles.join("\n"));
}

#[test]
fn no_source_file_is_over_800_lines() {
    let long: Vec<String> = ["lib.rs", "main.rs"]
        .iter()
        .flat_map(|root| graph(&src(), root).0.into_values())
        .filter(|p| p.file_name().is_some_and(|n| n != "tests.rs"))
        .filter_map(|p| {
            let lines = std::fs::read_to_string(&p).unwrap().lines().count();
            (lines > MAX_LINES).then(|| format!("{}: {lines} lines", p.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}

/// A crate's `src/` made of `files` (path, text), and its import graph.
fn graph_of(files: &[(&str, &str)]) -> BTreeMap<Module, BTreeSet<Module>> {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    graph(dir.path(), "lib.rs").1
}

fn module(path: &str) -> Module {
    path.split("::").map(str::to_owned).collect()
}

/// The reader finds what it must: a circle made on purpose is reported.
#[test]
fn the_import_reader_sees_braced_and_relative_paths() {
    let edges = graph_of(&[
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        (
            "a/mod.rs",
            "mod c;\nuse crate::{b::{self, Thing}, x};\n// use crate::nothing;\nfn f() { c::g(); }\n",
        ),
        ("a/c.rs", "use super::super::b;\n"),
        (
            "b.rs",
            "#[cfg(test)]\nmod tests {\n    use crate::a::c;\n}\nfn f() { super::a::c::g(); }\n",
        ),
    ]);
    let names = |m: &str| -> Vec<String> { edges[&module(m)].iter().map(name).collect() };
    // `x` is not a module: an item of the crate root.
    assert_eq!(names("a"), ["crate", "a::c", "b"]);
    assert_eq!(names("a::c"), ["b"]);
    assert_eq!(names("b"), ["a::c"]);
    assert!(cycle_from(&module("b"), &edges).is_some(), "b -> a::c -> b");
    assert!(cycle_from(&module("a"), &edges).is_none());
}

/// A module named through a name a `use` brought into scope counts as imported: a circle
/// closed that way (`use crate::b;` then `b::inner::f()`, `use crate::b as other;` then
/// `other::inner::f()`, a glob, a `use` in a function) is found.
#[test]
fn the_import_reader_follows_names_brought_in_by_use() {
    for (how, call) in [
        ("use crate::b;", "b::inner::f()"),
        ("use crate::b as other;", "other::inner::f()"),
        ("use crate::{b::{self}};", "b::inner::f()"),
        ("use super::b as other;", "other::inner::f()"),
        ("use crate::b\n    as other;", "other::inner::f()"),
        ("use crate::*;", "b::inner::f()"),
        ("", "{ use crate::b as other; other::inner::f() }"),
    ] {
        let a_rs = format!("{how}\npub fn g() {{ {call}; }}\n");
        let edges = graph_of(&[
            ("lib.rs", "pub mod a;\npub mod b;\n"),
            ("a.rs", &a_rs),
            ("b/mod.rs", "pub mod inner;\n"),
            (
                "b/inner.rs",
                "pub fn f() {}\npub fn h() { crate::a::g(); }\n",
            ),
        ]);
        let a = module("a");
        assert!(
            edges[&a].contains(&module("b::inner")),
            "{how}: a -> b::inner"
        );
        assert!(
            cycle_from(&a, &edges).is_some(),
            "{how}: a -> b::inner -> a"
        );
    }
}

/// Only a `use` brings a name into scope: a path that merely ends in a child module's name
/// (`crate::b::d`, a value) does not hide the child (`d::x()` is still `a::d`).
#[test]
fn a_path_that_is_not_a_use_brings_no_name_in() {
    let edges = graph_of(&[
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        (
            "a/mod.rs",
            "mod d;\nfn f() -> u64 { let n = crate::b::d; n as u64 }\nfn g() { d::x(); }\n",
        ),
        ("a/d.rs", "pub fn x() {}\n"),
        ("b.rs", "pub const d: u64 = 1;\n"),
    ]);
    let names: Vec<String> = edges[&module("a")].iter().map(name).collect();
    assert_eq!(names, ["a::d", "b"]);
}
