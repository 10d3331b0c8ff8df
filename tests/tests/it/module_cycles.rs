//! No import cycles between the files of a crate: for every crate of the
//! workspace (each library and binary, and each integration test binary
//! with modules), every path in a file's code that names another file's
//! module (`crate::a::b`, `super::x`, `self::x`, a child module, `use`
//! groups expanded) is an edge from that file to the other; a strongly
//! connected group of two or more files is a cycle, reported with the
//! lines that close it.
//!
//! A path leads to the file that defines the name: `crate::Post` leads
//! through `lib.rs`'s `pub use post::Post` to `post.rs`, and a `use` of an
//! outside crate's item leads out of the crate (no edge). A `mod x;`
//! declaration is not an edge, nor is a re-export (`pub use`: a module
//! showing its children's items is a facade, not a use of them), nor a
//! path inside a `#[cfg(test)]` module (nothing uses tests).
//!
//! It reads the source text (comments, strings and character literals
//! skipped), not the compiler's view: a path that only looks like a module
//! (a local variable named like a child module, followed by `::`) would be
//! an edge too, and glob imports are not followed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path inside a crate; empty for the crate root.
type ModulePath = Vec<String>;

/// One file's module and source.
struct File {
    path: PathBuf,
    source: String,
}

/// A reference from one file to another file's module.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    from: ModulePath,
    to: ModulePath,
    /// Line of the first reference, and the path as written.
    line: usize,
    written: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

/// The tokens that matter for paths, with their lines; comments, string,
/// character and number literals and lifetimes are dropped.
fn tokens(source: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = source.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    // Skips a quoted literal starting at `i` (the opening quote), honouring
    // backslash escapes; counts the lines it spans.
    let skip_quoted = |i: &mut usize, line: &mut usize, quote: char| {
        *i += 1;
        while *i < chars.len() && chars[*i] != quote {
            if chars[*i] == '\\' {
                *i += 1;
            }
            if at(*i) == '\n' {
                *line += 1;
            }
            *i += 1;
        }
        *i += 1;
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '/' if at(i + 1) == '/' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if at(i + 1) == '*' => {
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && at(i + 1) == '*' {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && at(i + 1) == '/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if chars[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
            '"' => skip_quoted(&mut i, &mut line, '"'),
            '\'' => {
                if at(i + 1) == '\\' || at(i + 2) == '\'' {
                    skip_quoted(&mut i, &mut line, '\'');
                } else {
                    // A lifetime or label.
                    i += 1;
                    while at(i).is_alphanumeric() || at(i) == '_' {
                        i += 1;
                    }
                }
            }
            ':' if at(i + 1) == ':' => {
                out.push((Token::PathSep, line));
                i += 2;
            }
            c if c.is_ascii_digit() => {
                while at(i).is_alphanumeric() || at(i) == '_' {
                    i += 1;
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while at(i).is_alphanumeric() || at(i) == '_' {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let raw_prefix = matches!(word.as_str(), "r" | "br" | "cr");
                if raw_prefix && (at(i) == '#' || at(i) == '"') {
                    let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
                    if at(i + hashes) == '"' {
                        // A raw string: ends at a quote followed by as many hashes.
                        i += hashes + 1;
                        while i < chars.len() {
                            let closes = chars[i] == '"' && (1..=hashes).all(|k| at(i + k) == '#');
                            if closes {
                                i += hashes + 1;
                                break;
                            }
                            if chars[i] == '\n' {
                                line += 1;
                            }
                            i += 1;
                        }
                        continue;
                    }
                    if word == "r" && hashes == 1 {
                        // A raw identifier, `r#type`.
                        i += 1;
                        continue;
                    }
                }
                if matches!(word.as_str(), "b" | "c") && at(i) == '"' {
                    skip_quoted(&mut i, &mut line, '"');
                    continue;
                }
                if word == "b" && at(i) == '\'' {
                    skip_quoted(&mut i, &mut line, '\'');
                    continue;
                }
                out.push((Token::Ident(word), line));
            }
            c => {
                out.push((Token::Punct(c), line));
                i += 1;
            }
        }
    }
    out
}

/// A path as written, `use` groups expanded.
#[derive(Debug, Clone)]
struct Written {
    /// The inline module (below the file's) it was written in.
    scope: ModulePath,
    segments: Vec<String>,
    line: usize,
    /// For a `use` at the file's top level: the name it brings in (`None`
    /// for a glob or `_`).
    binds: Option<String>,
    /// Part of a `pub use` (any visibility): a re-export, followed but no edge.
    reexport: bool,
    /// Written inside a `#[cfg(test)]` module: nothing else uses tests, so
    /// their paths close no cycle.
    in_tests: bool,
}

/// Paths written in `tokens`: only paths of two or more segments (a lone
/// name is no module reference).
fn paths(tokens: &[(Token, usize)]) -> Vec<Written> {
    let ident = |i: usize| match tokens.get(i) {
        Some((Token::Ident(name), _)) => Some(name.as_str()),
        _ => None,
    };
    let is = |i: usize, token: &Token| tokens.get(i).map(|(t, _)| t) == Some(token);
    let mut out = Vec::new();
    // Whether the tokens before `end` are `#[cfg(test)]`.
    let cfg_test = |end: usize| {
        end >= 7
            && is(end - 7, &Token::Punct('#'))
            && is(end - 6, &Token::Punct('['))
            && ident(end - 5) == Some("cfg")
            && is(end - 4, &Token::Punct('('))
            && ident(end - 3) == Some("test")
            && is(end - 2, &Token::Punct(')'))
            && is(end - 1, &Token::Punct(']'))
    };
    // Whether the `use` at `at` is `pub use` or `pub(...) use`.
    let pub_use = |at: usize| {
        (at >= 1 && ident(at - 1) == Some("pub"))
            || (at >= 3 && is(at - 1, &Token::Punct(')')) && {
                let open = (0..at).rev().find(|&k| is(k, &Token::Punct('(')));
                open.is_some_and(|k| k >= 1 && ident(k - 1) == Some("pub"))
            })
    };
    // Inline modules open here: (name, brace depth inside it, a tests module).
    let mut inline: Vec<(String, usize, bool)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i].0 {
            Token::Punct('{') => {
                depth += 1;
                i += 1;
            }
            Token::Punct('}') => {
                if inline.last().is_some_and(|(_, d, _)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Token::Ident(word)
                if word == "mod" && ident(i + 1).is_some() && is(i + 2, &Token::Punct('{')) =>
            {
                let tests =
                    cfg_test(i) || (i >= 1 && ident(i - 1) == Some("pub") && cfg_test(i - 1));
                let name = ident(i + 1).unwrap_or_default().to_string();
                inline.push((name, depth + 1, tests));
                i += 2;
            }
            Token::Ident(_) if i == 0 || !is(i - 1, &Token::PathSep) => {
                let scope: ModulePath = inline.iter().map(|(name, _, _)| name.clone()).collect();
                let in_tests = inline.iter().any(|(_, _, tests)| *tests);
                let line = tokens[i].1;
                let is_use = i > 0 && ident(i - 1) == Some("use");
                let reexport = is_use && pub_use(i - 1);
                let mut found = Vec::new();
                i = path_tree(tokens, i, Vec::new(), &mut found);
                for (segments, binds) in found {
                    if segments.len() >= 2 {
                        out.push(Written {
                            binds: binds.filter(|_| is_use && depth == 0),
                            scope: scope.clone(),
                            segments,
                            line,
                            reexport,
                            in_tests,
                        });
                    }
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Reads a path (or `use` tree) starting at `i` below `prefix` into
/// `found`, each with the name a `use` of it would bind; returns the index
/// after it.
fn path_tree(
    tokens: &[(Token, usize)],
    mut i: usize,
    mut prefix: Vec<String>,
    found: &mut Vec<(Vec<String>, Option<String>)>,
) -> usize {
    let is = |i: usize, token: &Token| tokens.get(i).map(|(t, _)| t) == Some(token);
    let mut glob = false;
    loop {
        match tokens.get(i).map(|(t, _)| t) {
            Some(Token::Ident(name)) if name == "self" && !prefix.is_empty() => {
                i += 1;
            }
            Some(Token::Ident(name)) => {
                prefix.push(name.clone());
                i += 1;
            }
            Some(Token::Punct('*')) => {
                glob = true;
                i += 1;
            }
            Some(Token::Punct('{')) => {
                // A `use` group: each member below the prefix.
                i += 1;
                while i < tokens.len() && !is(i, &Token::Punct('}')) {
                    if is(i, &Token::Punct(',')) {
                        i += 1;
                        continue;
                    }
                    let before = i;
                    i = path_tree(tokens, i, prefix.clone(), found);
                    while i < tokens.len()
                        && !is(i, &Token::Punct(','))
                        && !is(i, &Token::Punct('}'))
                    {
                        i += 1;
                    }
                    if i == before {
                        i += 1;
                    }
                }
                return i + 1;
            }
            _ => break,
        }
        if is(i, &Token::PathSep) && !is(i + 1, &Token::Punct('<')) {
            i += 1;
        } else {
            break;
        }
    }
    let mut binds = if glob { None } else { prefix.last().cloned() };
    if let Some((Token::Ident(word), _)) = tokens.get(i)
        && word == "as"
    {
        binds = match tokens.get(i + 1) {
            Some((Token::Ident(name), _)) if name != "_" => Some(name.clone()),
            _ => None,
        };
        i += 2;
    }
    found.push((prefix, binds));
    i
}

/// One crate's files, what each file's top-level `use`s bind, and the
/// resolution of written paths to files.
struct Crate<'a> {
    files: &'a BTreeMap<ModulePath, File>,
    /// Per file module: name -> the path its `use` names (and its scope).
    uses: BTreeMap<ModulePath, BTreeMap<String, Vec<String>>>,
}

impl<'a> Crate<'a> {
    fn new(files: &'a BTreeMap<ModulePath, File>) -> Self {
        let mut uses: BTreeMap<ModulePath, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        for (module, file) in files {
            for written in paths(&tokens(&file.source)) {
                if let Some(name) = written.binds {
                    uses.entry(module.clone())
                        .or_default()
                        .insert(name, written.segments);
                }
            }
        }
        Crate { files, uses }
    }

    /// The absolute module path `written` (in module `scope`) names, `None`
    /// for paths outside the crate.
    fn absolute(&self, scope: &ModulePath, written: &[String]) -> Option<Vec<String>> {
        let (mut absolute, rest) = match written.first().map(String::as_str) {
            Some("crate") => (Vec::new(), &written[1..]),
            Some("self") => (scope.clone(), &written[1..]),
            Some("super") => {
                let supers = written.iter().take_while(|s| *s == "super").count();
                let mut base = scope.clone();
                for _ in 0..supers {
                    base.pop()?;
                }
                (base, &written[supers..])
            }
            Some(first) => {
                let mut child = scope.clone();
                child.push(first.to_string());
                if !self.files.contains_key(&child) {
                    return None;
                }
                (scope.clone(), written)
            }
            None => return None,
        };
        absolute.extend(rest.iter().cloned());
        Some(absolute)
    }

    /// The file that defines what `written` (in module `scope`) names:
    /// the longest file module it starts with, following that file's `use`
    /// when the next name is one of them (a re-export or an import).
    fn target(&self, scope: &ModulePath, written: &[String]) -> Option<ModulePath> {
        let mut absolute = self.absolute(scope, written)?;
        // Bounded: `use` chains are short, and a loop must not hang the test.
        for _ in 0..16 {
            let file = (0..=absolute.len())
                .rev()
                .map(|n| absolute[..n].to_vec())
                .find(|prefix| self.files.contains_key(prefix))?;
            let Some(next) = absolute.get(file.len()) else {
                return Some(file);
            };
            let Some(used) = self.uses.get(&file).and_then(|uses| uses.get(next)) else {
                return Some(file);
            };
            let mut followed = self.absolute(&file, used)?;
            followed.extend(absolute[file.len() + 1..].iter().cloned());
            absolute = followed;
        }
        None
    }

    /// Edges between the files.
    fn edges(&self) -> Vec<Edge> {
        let mut out: BTreeMap<(ModulePath, ModulePath), Edge> = BTreeMap::new();
        for (module, file) in self.files {
            for written in paths(&tokens(&file.source)) {
                if written.reexport || written.in_tests {
                    continue;
                }
                let scope: ModulePath = module.iter().chain(&written.scope).cloned().collect();
                let Some(to) = self.target(&scope, &written.segments) else {
                    continue;
                };
                if &to == module {
                    continue;
                }
                out.entry((module.clone(), to.clone()))
                    .or_insert_with(|| Edge {
                        from: module.clone(),
                        to,
                        line: written.line,
                        written: written.segments.join("::"),
                    });
            }
        }
        out.into_values().collect()
    }
}

/// Edges between the files of one crate, given each file's module.
fn edges(files: &BTreeMap<ModulePath, File>) -> Vec<Edge> {
    Crate::new(files).edges()
}

/// Groups of two or more files that reach each other (Tarjan's strongly
/// connected components).
fn cycles(modules: &BTreeSet<ModulePath>, edges: &[Edge]) -> Vec<Vec<ModulePath>> {
    struct Walk<'a> {
        next: BTreeMap<&'a ModulePath, Vec<&'a ModulePath>>,
        index: BTreeMap<&'a ModulePath, usize>,
        low: BTreeMap<&'a ModulePath, usize>,
        stack: Vec<&'a ModulePath>,
        on_stack: BTreeSet<&'a ModulePath>,
        groups: Vec<Vec<ModulePath>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, module: &'a ModulePath) {
            let n = self.index.len();
            self.index.insert(module, n);
            self.low.insert(module, n);
            self.stack.push(module);
            self.on_stack.insert(module);
            for to in self.next.get(module).cloned().unwrap_or_default() {
                if !self.index.contains_key(to) {
                    self.visit(to);
                    let low = self.low[module].min(self.low[to]);
                    self.low.insert(module, low);
                } else if self.on_stack.contains(to) {
                    let low = self.low[module].min(self.index[to]);
                    self.low.insert(module, low);
                }
            }
            if self.low[module] == self.index[module] {
                let mut group = Vec::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    group.push(member.clone());
                    if member == module {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.groups.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        next: BTreeMap::new(),
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        groups: Vec::new(),
    };
    for edge in edges {
        walk.next.entry(&edge.from).or_default().push(&edge.to);
    }
    for module in modules {
        if !walk.index.contains_key(module) {
            walk.visit(module);
        }
    }
    walk.groups
}

/// A module path as a reader writes it.
fn name(module: &ModulePath) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module.join("::")
    }
}

/// What cycles `files` hold, one line per edge inside a cycle; empty when
/// there are none.
fn report(files: &BTreeMap<ModulePath, File>) -> Vec<String> {
    let edges = edges(files);
    let modules: BTreeSet<ModulePath> = files.keys().cloned().collect();
    let mut lines = Vec::new();
    for group in cycles(&modules, &edges) {
        let members: Vec<String> = group.iter().map(name).collect();
        lines.push(format!("cycle between {}:", members.join(", ")));
        for edge in edges
            .iter()
            .filter(|e| group.contains(&e.from) && group.contains(&e.to))
        {
            lines.push(format!(
                "  {} -> {}  ({}:{}: {})",
                name(&edge.from),
                name(&edge.to),
                files[&edge.from].path.display(),
                edge.line,
                edge.written
            ));
        }
    }
    lines
}

/// The `.rs` files under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The files of the crate whose root is `root`, by module: the root's
/// directory and everything below it, except `bin/` and the other root
/// (`main.rs` beside `lib.rs`: a crate of its own, using the library by name).
fn crate_files(root: &Path) -> BTreeMap<ModulePath, File> {
    let dir = root.parent().expect("a root file has a directory");
    let mut paths = Vec::new();
    rust_files(dir, &mut paths);
    let mut files = BTreeMap::new();
    for path in paths {
        let relative = path.strip_prefix(dir).expect("below the root's directory");
        let mut module: ModulePath = relative
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if module.first().is_some_and(|first| first == "bin") {
            continue;
        }
        if path != root && module.len() == 1 && matches!(module[0].as_str(), "lib" | "main") {
            continue;
        }
        if path == root || module.last().is_some_and(|last| last == "mod") {
            module.pop();
        }
        if path == root {
            module.clear();
        }
        let source = std::fs::read_to_string(&path).expect("a readable source file");
        files.insert(module, File { path, source });
    }
    files
}

/// Every crate root of the workspace that has modules of its own: each
/// member's `src/lib.rs` or `src/main.rs`, and each `tests/<name>/main.rs`.
fn crate_roots(workspace: &Path) -> Vec<PathBuf> {
    let manifest = std::fs::read_to_string(workspace.join("Cargo.toml")).expect("Cargo.toml");
    let manifest: toml::Table = manifest.parse().expect("Cargo.toml is TOML");
    let members = manifest["workspace"]["members"]
        .as_array()
        .expect("workspace.members");
    let mut roots = Vec::new();
    for member in members {
        let dir = workspace.join(member.as_str().expect("a member path"));
        for root in ["src/lib.rs", "src/main.rs"] {
            let root = dir.join(root);
            if root.exists() && !(root.ends_with("main.rs") && dir.join("src/lib.rs").exists()) {
                roots.push(root);
            }
        }
        if let Ok(entries) = std::fs::read_dir(dir.join("tests")) {
            for entry in entries.flatten() {
                let root = entry.path().join("main.rs");
                if root.exists() {
                    roots.push(root);
                }
            }
        }
    }
    roots
}

#[test]
fn no_crate_has_import_cycles_between_its_files() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace");
    let roots = crate_roots(workspace);
    assert!(roots.len() >= 7, "found only {roots:?}");
    let mut problems = Vec::new();
    let mut checked = 0;
    for root in &roots {
        let files = crate_files(root);
        checked += files.len();
        problems.extend(report(&files));
    }
    assert!(checked > 100, "read only {checked} files");
    assert!(
        problems.is_empty(),
        "import cycles between files (move what both use to the lower module):\n{}",
        problems.join("\n")
    );
}

fn files(sources: &[(&str, &str)]) -> BTreeMap<ModulePath, File> {
    sources
        .iter()
        .map(|(module, source)| {
            let module: ModulePath = if module.is_empty() {
                Vec::new()
            } else {
                module.split("::").map(str::to_string).collect()
            };
            let file = File {
                path: PathBuf::from(format!("{}.rs", name(&module))),
                source: source.to_string(),
            };
            (module, file)
        })
        .collect()
}

#[test]
fn a_cycle_through_use_super_and_child_paths_is_found_with_its_lines() {
    let crate_ = files(&[
        ("", "mod sources;\nmod config;"),
        (
            "sources",
            "mod poll;\nuse crate::config::Settings;\nfn f() { poll::run(); }",
        ),
        ("sources::poll", "use super::{Failure, SourceContext};"),
        ("config", "pub struct Settings;"),
    ]);
    let report = report(&crate_);
    assert_eq!(
        report,
        vec![
            "cycle between sources, sources::poll:",
            "  sources -> sources::poll  (sources.rs:3: poll::run)",
            "  sources::poll -> sources  (sources::poll.rs:1: super::Failure)",
        ]
    );
}

#[test]
fn a_cycle_of_three_through_crate_paths_and_use_groups_is_found() {
    let crate_ = files(&[
        ("", "pub mod a; pub mod b; pub mod c;"),
        ("a", "use crate::{b::{self, B}, x};"),
        ("b", "fn f() -> crate::c::C { crate::c::C }"),
        (
            "c",
            "use super::a::A as Renamed;\npub(crate) use super::b::B;",
        ),
    ]);
    let report = report(&crate_);
    assert_eq!(
        report.first().map(String::as_str),
        Some("cycle between a, b, c:")
    );
    assert_eq!(report.len(), 4, "{report:#?}");
}

#[test]
fn comments_strings_tests_modules_and_declarations_make_no_cycle() {
    let crate_ = files(&[
        ("", "mod a;\nmod b;\nuse a::A;"),
        (
            "a",
            "// crate::b::B\n/* crate::b::B /* nested */ */\nconst S: &str = \"crate::b::B\";\nconst R: &str = r#\"crate::b::\"B\"#;\nconst C: char = '\\'';\nfn f<'a>(x: &'a str) {}\npub struct A;\n#[cfg(test)]\nmod tests { use super::A; }",
        ),
        ("b", "use crate::a::A;\nuse std::fmt::{self, Display};"),
    ]);
    assert_eq!(report(&crate_), Vec::<String>::new());
    let edges = edges(&crate_);
    let pairs: Vec<(String, String)> = edges.iter().map(|e| (name(&e.from), name(&e.to))).collect();
    assert_eq!(
        pairs,
        vec![
            ("crate".to_string(), "a".to_string()),
            ("b".to_string(), "a".to_string())
        ]
    );
}

#[test]
fn paths_lead_through_re_exports_to_the_defining_file_and_out_of_the_crate() {
    let crate_ = files(&[
        ("", "mod post;\nmod records;\npub use post::Post;"),
        (
            "post",
            "pub struct Post;\nfn f(_: crate::records::Report) {}",
        ),
        ("records", "use crate::Post;\npub struct Report;"),
        ("sources", "use weibostream_shared::Post;\nmod weibo;"),
        ("sources::weibo", "use super::Post;"),
    ]);
    assert_eq!(
        report(&crate_),
        vec![
            "cycle between post, records:",
            "  post -> records  (post.rs:2: crate::records::Report)",
            "  records -> post  (records.rs:1: crate::Post)",
        ]
    );
    let pairs: Vec<(String, String)> = edges(&crate_)
        .iter()
        .map(|e| (name(&e.from), name(&e.to)))
        .collect();
    assert!(
        !pairs.iter().any(|(from, _)| from == "sources::weibo"),
        "{pairs:?}"
    );
}

#[test]
fn a_facade_re_exporting_its_children_and_tests_using_anything_make_no_cycle() {
    let crate_ = files(&[
        ("", "mod kafka;\nmod config;"),
        (
            "kafka",
            "mod startup;\npub use startup::wait;\npub(crate) use self::startup::{Failed as F};\npub struct Settings;",
        ),
        ("kafka::startup", "use super::Settings;\npub fn wait() {}"),
        (
            "config",
            "pub struct Key;\n#[cfg(test)]\nmod tests {\n    use crate::kafka::Settings;\n}",
        ),
        ("config2", "use crate::kafka::wait;"),
    ]);
    assert_eq!(report(&crate_), Vec::<String>::new());
    let pairs: Vec<(String, String)> = edges(&crate_)
        .iter()
        .map(|e| (name(&e.from), name(&e.to)))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("config2".to_string(), "kafka::startup".to_string()),
            ("kafka::startup".to_string(), "kafka".to_string())
        ]
    );
}
