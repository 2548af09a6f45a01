//! The crate's layers, read from its own source files: no two files import
//! each other (directly or around a loop), the models never reach a driver
//! of the engine, the engine's data and contract reach neither a driver nor
//! a model, and nothing outside `src/python/` knows Python.
//!
//! An import is any path a file names outside its tests and comments:
//! `use` trees, and paths in code that start with `crate`, `$crate`,
//! `super`, `self` or a child module the file declares. A path leads to the
//! longest module it names (a re-export through `mod.rs` leads to `mod.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`crate::engine::batch`) → its imports, as module paths.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// `source` without comments and string or char literals (so that a `//`
/// or a path inside them is not read as code).
fn code_of(source: &str) -> String {
    let b = source.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            // A char literal ('x', '\n'), not a lifetime ('a).
            b'\'' if b.get(i + 1) == Some(&b'\\') || b.get(i + 2) == Some(&b'\'') => {
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

/// `code` without the items behind `#[cfg(test)]`, and the names of the
/// test modules it declares in files of their own (`#[cfg(test)] mod x;`).
fn without_tests(code: &str) -> (String, BTreeSet<String>) {
    let mut out = String::new();
    let mut test_files = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at + "#[cfg(test)]".len()..];
        let (brace, semi) = (item.find('{'), item.find(';'));
        match (brace, semi) {
            (_, Some(s)) if brace.is_none_or(|b| s < b) => {
                if let Some(name) = item[..s].trim().strip_prefix("mod ") {
                    test_files.insert(name.trim().to_string());
                }
                rest = &item[s + 1..];
            }
            (Some(b), _) => {
                let mut depth = 0usize;
                let mut end = item.len();
                for (k, c) in item[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                rest = &item[end..];
            }
            _ => rest = "",
        }
    }
    out.push_str(rest);
    (out, test_files)
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// The child modules `code` declares (`mod x;`, `pub mod x;`).
fn children(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for statement in code.split(';') {
        let words: Vec<&str> = statement.split_whitespace().collect();
        if let Some(k) = words.iter().position(|w| *w == "mod") {
            if k + 2 == words.len() && words[..k].iter().all(|w| w.starts_with("pub")) {
                out.insert(words[k + 1].to_string());
            }
        }
    }
    out
}

/// Every path of a `use` tree (`a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`).
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        // A leaf, maybe renamed (`a::b as c`).
        return vec![tree.split_whitespace().next().unwrap_or("").to_string()];
    };
    let prefix = tree[..open].trim();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (k, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|p| expand(p).into_iter().map(move |x| format!("{prefix}{x}")))
        .collect()
}

/// The paths `code` names that may lead to another module of the crate.
fn paths(code: &str, own_children: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for statement in code.split(';') {
        let s = statement.trim_start();
        let s = s
            .strip_prefix("pub(crate) ")
            .or(s.strip_prefix("pub "))
            .unwrap_or(s);
        if let Some(tree) = s.strip_prefix("use ") {
            out.extend(expand(tree));
        }
    }
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if is_ident(chars[i]) && (i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':')) {
            let start = i;
            while i < chars.len()
                && (is_ident(chars[i]) || (chars[i] == ':' && chars.get(i + 1) == Some(&':')))
            {
                i += if chars[i] == ':' { 2 } else { 1 };
            }
            let path: String = chars[start..i].iter().collect();
            let head = path.split("::").next().unwrap_or("");
            let known = matches!(head, "crate" | "$crate" | "super" | "self")
                || own_children.contains(head);
            if path.contains("::") && known {
                out.push(path);
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The module path of a file under `src/` (`engine/batch.rs` → `crate::engine::batch`).
fn module_of(relative: &Path) -> String {
    let mut parts = vec!["crate".to_string()];
    for c in relative.with_extension("").components() {
        let c = c.as_os_str().to_string_lossy().to_string();
        if c != "mod" && c != "lib" {
            parts.push(c);
        }
    }
    parts.join("::")
}

/// The import graph of the sources `files` (path under `src/`, text).
fn graph(files: &[(PathBuf, String)]) -> Graph {
    let mut code = BTreeMap::new();
    let mut tests = BTreeSet::new();
    for (path, source) in files {
        let module = module_of(path);
        let (kept, test_children) = without_tests(&code_of(source));
        for child in test_children {
            tests.insert(format!("{module}::{child}"));
        }
        code.insert(module, kept);
    }
    code.retain(|m, _| !tests.contains(m));
    let modules: BTreeSet<String> = code.keys().cloned().collect();
    let mut out = Graph::new();
    for (module, text) in &code {
        let parent = module.rsplit_once("::").map_or("crate", |(p, _)| p);
        let mut edges = BTreeSet::new();
        for path in paths(text, &children(text)) {
            let mut segments: Vec<&str> = path.split("::").collect();
            let mut at = match segments[0] {
                "crate" | "$crate" => "crate".to_string(),
                "super" => parent.to_string(),
                "self" => module.clone(),
                _ => {
                    segments.insert(0, "self");
                    module.clone()
                }
            };
            let mut best = at.clone();
            for s in &segments[1..] {
                at = if *s == "super" {
                    at.rsplit_once("::")
                        .map_or("crate".to_string(), |(p, _)| p.to_string())
                } else {
                    format!("{at}::{s}")
                };
                if modules.contains(&at) {
                    best = at.clone();
                }
            }
            if best != *module && modules.contains(&best) {
                edges.insert(best);
            }
        }
        out.insert(module.clone(), edges);
    }
    out
}

/// The import cycles of `g`, each as its modules (empty: none).
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    // Strongly connected components of more than one module (Tarjan).
    struct State<'g> {
        g: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(st: &mut State<'g>, v: &'g str) {
        let k = st.index.len();
        st.index.insert(v, k);
        st.low.insert(v, k);
        st.stack.push(v);
        st.on.insert(v);
        for w in st.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !st.index.contains_key(w) {
                visit(st, w);
                let lw = st.low[w];
                st.low.insert(v, st.low[v].min(lw));
            } else if st.on.contains(w) {
                let iw = st.index[w];
                st.low.insert(v, st.low[v].min(iw));
            }
        }
        if st.low[v] == st.index[v] {
            let mut component = Vec::new();
            while let Some(w) = st.stack.pop() {
                st.on.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                st.out.push(component);
            }
        }
    }
    let mut st = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !st.index.contains_key(v.as_str()) {
            visit(&mut st, v);
        }
    }
    st.out
}

/// Every module `from` reaches through its imports (itself excluded).
fn reach(g: &Graph, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(m) = todo.pop() {
        for next in g.get(&m).into_iter().flatten() {
            if seen.insert(next.clone()) {
                todo.push(next.clone());
            }
        }
    }
    seen.remove(from);
    seen
}

/// The broken rules of the layout, one line each.
fn violations(g: &Graph, sources: &[(PathBuf, String)]) -> Vec<String> {
    let drivers = [
        "crate::engine::descent",
        "crate::engine::glauber",
        "crate::engine::batch",
        "crate::engine::flow",
        "crate::engine::events",
    ];
    let bottom = [
        "crate::engine::schedule",
        "crate::engine::accept",
        "crate::engine::chain",
        "crate::engine::clamp",
        "crate::engine::energy",
        "crate::engine::leaky",
        "crate::engine::lif",
    ];
    let under = |m: &str, p: &str| m == p || m.starts_with(&format!("{p}::"));
    let mut out = Vec::new();
    for m in g.keys() {
        let reached = reach(g, m);
        if under(m, "crate::model") || under(m, "crate::continuous") {
            for d in drivers.iter().filter(|d| reached.contains(**d)) {
                out.push(format!("{m} reaches the driver {d}"));
            }
        }
        if bottom.contains(&m.as_str()) {
            for r in reached
                .iter()
                .filter(|r| drivers.contains(&r.as_str()) || under(r, "crate::model"))
            {
                out.push(format!("{m} (the engine's data and contract) reaches {r}"));
            }
        }
        if !under(m, "crate::python") {
            for r in reached.iter().filter(|r| under(r, "crate::python")) {
                out.push(format!("{m} reaches the bindings ({r})"));
            }
        }
    }
    for (path, source) in sources {
        let module = module_of(path);
        let code = without_tests(&code_of(source)).0;
        if !under(&module, "crate::python") && (code.contains("pyo3::") || code.contains("numpy::"))
        {
            out.push(format!("{module} names pyo3 or numpy outside src/python"));
        }
    }
    out
}

fn read_tree(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file is readable");
                let relative = path.strip_prefix(root).expect("under src/").to_path_buf();
                out.push((relative, text));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_crate_has_no_import_cycle_and_arrows_point_down() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let sources = read_tree(&root);
    let g = graph(&sources);
    // The graph is read whole: the files and arrows the layout rests on are seen.
    for module in [
        "crate::engine::schedule",
        "crate::engine::descent",
        "crate::model::hebbian",
        "crate::python::options",
    ] {
        assert!(
            g.contains_key(module),
            "{module} missing from {:?}",
            g.keys()
        );
    }
    assert!(g["crate::engine::descent"].contains("crate::engine::energy"));
    assert!(g["crate::model::hebbian::energy"].contains("crate::model::hebbian::glauber"));
    assert!(g["crate::python::spin"].contains("crate::engine::batch"));
    assert_eq!(cycles(&g), Vec::<Vec<String>>::new());
    assert_eq!(violations(&g, &sources), Vec::<String>::new());
}

#[test]
fn the_checks_see_what_they_forbid() {
    let file = |p: &str, s: &str| (PathBuf::from(p), s.to_string());
    let sources = vec![
        file(
            "lib.rs",
            "pub mod engine; pub mod model; #[cfg(test)] mod extra;",
        ),
        file("extra.rs", "use crate::model::a;"),
        file("engine/mod.rs", "pub mod descent; pub mod energy;"),
        file(
            "engine/energy.rs",
            "pub trait E {} // use crate::engine::descent;",
        ),
        file(
            "engine/descent.rs",
            "use super::energy::E; fn f() { crate::model::a::g(); }",
        ),
        file("model/mod.rs", "pub mod a; pub mod b; mod c;"),
        file(
            "model/a.rs",
            "use crate::engine::{energy::E, descent::run}; fn g() { super::b::h(); }",
        ),
        file(
            "model/b.rs",
            "fn h() { let s = \"crate::model::a\"; super::c::x(); }",
        ),
        file(
            "model/c.rs",
            "fn x() { pyo3::f(); } #[cfg(test)] mod tests { use crate::model::a; }",
        ),
    ];
    let g = graph(&sources);
    assert!(!g.contains_key("crate::extra"), "a test module is left out");
    assert_eq!(
        g["crate::engine::energy"],
        BTreeSet::new(),
        "comments are no imports"
    );
    assert_eq!(
        g["crate::model::b"],
        ["crate::model::c".to_string()].into(),
        "strings are no imports"
    );
    assert_eq!(
        g["crate::model::c"],
        BTreeSet::new(),
        "tests are no imports"
    );
    assert_eq!(
        cycles(&g),
        vec![vec![
            "crate::engine::descent".to_string(),
            "crate::model::a".to_string()
        ]]
    );
    let broken = violations(&g, &sources);
    assert!(
        broken.contains(&"crate::model::a reaches the driver crate::engine::descent".to_string()),
        "{broken:?}"
    );
    assert!(
        broken.contains(&"crate::model::c names pyo3 or numpy outside src/python".to_string()),
        "{broken:?}"
    );
}
