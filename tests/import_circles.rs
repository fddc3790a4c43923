//! No module of any crate in the workspace imports in a circle.
//!
//! The check parses every crate's module tree (from `src/lib.rs` or `src/main.rs`, following
//! `mod` declarations, inline modules included) with `syn`, and collects every path that names
//! a module of the same crate: `use` trees and paths in code that start with `crate::`,
//! `super::`, `self::` or a child module's name. Each such path is resolved to the deepest module
//! it names and lifted to the two modules that are siblings under their lowest common ancestor:
//! `crate::store::files` naming `crate::sandbox::MOUNT_ROOT` is the edge `store → sandbox`, and
//! `check::kinds` naming `super::parse::Rule` is `check::kinds → check::parse`. A module and its
//! own ancestors or descendants are one unit to the outside, so `super::` from a child to its
//! parent is never an edge. A circle is a strongly connected set of two or more sibling modules.
//!
//! Run it with `cargo test --test import_circles`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use syn::visit::Visit;

type ModPath = Vec<String>;

/// One crate's modules and the edges between sibling modules, each with the first place seen.
#[derive(Default)]
struct Graph {
    modules: BTreeSet<ModPath>,
    /// Every path that names a crate module: (from module, file, the path as written, absolute).
    references: Vec<(ModPath, PathBuf, String, ModPath)>,
}

fn display(path: &[String]) -> String {
    if path.is_empty() {
        "crate".to_string()
    } else {
        path.join("::")
    }
}

/// Reads the module tree rooted at `root_file` (a crate's lib.rs or main.rs).
fn load_crate(root_file: &Path) -> Result<Graph, String> {
    let mut graph = Graph::default();
    load_file(&mut graph, root_file, Vec::new(), true)?;
    Ok(graph)
}

/// Whether `file` owns a directory for its child modules (`lib.rs`, `main.rs`, `mod.rs`).
fn owns_dir(file: &Path) -> bool {
    matches!(
        file.file_name().and_then(|n| n.to_str()),
        Some("lib.rs" | "main.rs" | "mod.rs")
    )
}

fn load_file(
    graph: &mut Graph,
    file: &Path,
    module: ModPath,
    root_like: bool,
) -> Result<(), String> {
    let text = fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let parsed = syn::parse_file(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let child_dir = if root_like {
        file.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        file.with_extension("")
    };
    load_items(graph, file, &child_dir, module, &parsed.items)
}

fn path_attribute(attrs: &[syn::Attribute]) -> Option<String> {
    attrs
        .iter()
        .find(|a| a.path().is_ident("path"))
        .and_then(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
}

fn load_items(
    graph: &mut Graph,
    file: &Path,
    child_dir: &Path,
    module: ModPath,
    items: &[syn::Item],
) -> Result<(), String> {
    graph.modules.insert(module.clone());
    let children: BTreeSet<String> = items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Mod(m) => Some(m.ident.to_string()),
            _ => None,
        })
        .collect();
    let mut collector = Collector {
        module: &module,
        children: &children,
        found: Vec::new(),
    };
    for item in items {
        if !matches!(item, syn::Item::Mod(_)) {
            collector.visit_item(item);
        }
    }
    for (written, absolute) in collector.found {
        graph
            .references
            .push((module.clone(), file.to_path_buf(), written, absolute));
    }
    for item in items {
        let syn::Item::Mod(m) = item else { continue };
        let mut child = module.clone();
        child.push(m.ident.to_string());
        match &m.content {
            Some((_, inner)) => {
                load_items(
                    graph,
                    file,
                    &child_dir.join(m.ident.to_string()),
                    child,
                    inner,
                )?;
            }
            None => {
                let name = m.ident.to_string();
                let candidates = match path_attribute(&m.attrs) {
                    Some(p) => vec![file.parent().unwrap_or(Path::new(".")).join(p)],
                    None => vec![
                        child_dir.join(format!("{name}.rs")),
                        child_dir.join(&name).join("mod.rs"),
                    ],
                };
                let found = candidates.iter().find(|c| c.is_file()).ok_or_else(|| {
                    format!(
                        "{}: no file for `mod {name};` (tried {candidates:?})",
                        file.display()
                    )
                })?;
                let root_like = owns_dir(found) || path_attribute(&m.attrs).is_some();
                load_file(graph, found, child, root_like)?;
            }
        }
    }
    Ok(())
}

/// Collects the paths in one module's own items (not its child modules') that name crate modules.
struct Collector<'a> {
    module: &'a ModPath,
    children: &'a BTreeSet<String>,
    found: Vec<(String, ModPath)>,
}

impl Collector<'_> {
    /// The absolute form of a path written in this module, if it names something in this crate.
    fn absolute(&self, segments: &[String]) -> Option<ModPath> {
        let first = segments.first()?;
        let mut base: ModPath;
        let mut rest = segments;
        if first == "crate" {
            base = Vec::new();
            rest = &segments[1..];
        } else if first == "self" {
            base = self.module.clone();
            rest = &segments[1..];
        } else if first == "super" {
            base = self.module.clone();
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
        } else if self.children.contains(first) && segments.len() > 1 {
            base = self.module.clone();
        } else {
            return None;
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    fn record(&mut self, segments: Vec<String>) {
        if let Some(absolute) = self.absolute(&segments) {
            self.found.push((segments.join("::"), absolute));
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                if n.ident != "self" {
                    full.push(n.ident.to_string());
                }
                self.record(full);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                if r.ident != "self" {
                    full.push(r.ident.to_string());
                }
                self.record(full);
            }
            syn::UseTree::Glob(_) => self.record(prefix.clone()),
            syn::UseTree::Group(g) => {
                for item in &g.items {
                    self.use_tree(prefix, item);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {
        // A child module's items are collected as that module's own.
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() {
            self.record(path.segments.iter().map(|s| s.ident.to_string()).collect());
        }
        syn::visit::visit_path(self, path);
    }
}

/// The circles in one crate: each a set of sibling modules, with the references that close it.
fn circles(graph: &Graph) -> Vec<(Vec<ModPath>, Vec<String>)> {
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    let mut witnesses: BTreeMap<(ModPath, ModPath), String> = BTreeMap::new();
    for (from, file, written, absolute) in &graph.references {
        // The deepest module the path names (the rest is an item inside it).
        let target = (0..=absolute.len())
            .rev()
            .map(|n| absolute[..n].to_vec())
            .find(|prefix| graph.modules.contains(prefix))
            .unwrap_or_default();
        let common = from.iter().zip(&target).take_while(|(a, b)| a == b).count();
        if common == from.len() || common == target.len() {
            continue; // an ancestor or a descendant: the same unit seen from outside
        }
        let a = from[..=common].to_vec();
        let b = target[..=common].to_vec();
        witnesses.entry((a.clone(), b.clone())).or_insert_with(|| {
            format!(
                "{} → {}: `{written}` in {}",
                display(&a),
                display(&b),
                file.display()
            )
        });
        edges.entry(a).or_default().insert(b);
    }
    strongly_connected(&edges)
        .into_iter()
        .filter(|scc| scc.len() > 1)
        .map(|scc| {
            let members: BTreeSet<&ModPath> = scc.iter().collect();
            let closing = witnesses
                .iter()
                .filter(|((a, b), _)| members.contains(a) && members.contains(b))
                .map(|(_, w)| w.clone())
                .collect();
            (scc, closing)
        })
        .collect()
}

/// Tarjan's strongly connected components.
fn strongly_connected(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct State<'a> {
        edges: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'a ModPath, (usize, usize)>,
        stack: Vec<&'a ModPath>,
        on_stack: BTreeSet<&'a ModPath>,
        next: usize,
        out: Vec<Vec<ModPath>>,
    }
    fn connect<'a>(s: &mut State<'a>, v: &'a ModPath) {
        s.index.insert(v, (s.next, s.next));
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let edges = s.edges;
        for w in edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                connect(s, w);
                let low_w = s.index[w].1;
                let entry = s.index.get_mut(v).expect("indexed above");
                entry.1 = entry.1.min(low_w);
            } else if s.on_stack.contains(w) {
                let index_w = s.index[w].0;
                let entry = s.index.get_mut(v).expect("indexed above");
                entry.1 = entry.1.min(index_w);
            }
        }
        let (index, low) = s.index[v];
        if index == low {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            component.sort();
            s.out.push(component);
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            connect(&mut s, v);
        }
    }
    s.out
}

/// Every crate root in the workspace: the binary's `src/main.rs` and each `crates/*/src/lib.rs`.
fn crate_roots(workspace: &Path) -> Vec<PathBuf> {
    let mut roots = vec![workspace.join("src/main.rs")];
    let mut crates: Vec<PathBuf> = fs::read_dir(workspace.join("crates"))
        .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    crates.sort();
    for dir in crates {
        for root in ["src/lib.rs", "src/main.rs"] {
            if dir.join(root).is_file() {
                roots.push(dir.join(root));
            }
        }
    }
    roots
}

fn report(root: &Path) -> Result<Vec<String>, String> {
    let graph = load_crate(root)?;
    Ok(circles(&graph)
        .into_iter()
        .map(|(members, closing)| {
            let names: Vec<String> = members.iter().map(|m| display(m)).collect();
            format!(
                "{}: {}\n    {}",
                root.display(),
                names.join(" ↔ "),
                closing.join("\n    ")
            )
        })
        .collect())
}

#[test]
fn no_module_import_circle_in_any_crate() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let roots = crate_roots(workspace);
    assert!(
        roots.len() >= 7,
        "expected the binary and six library crates, found {roots:?}"
    );
    let mut found = Vec::new();
    for root in &roots {
        let graph = load_crate(root).unwrap_or_else(|e| panic!("reading {}: {e}", root.display()));
        assert!(
            graph.modules.len() > 1,
            "{} has no modules: the walk is broken",
            root.display()
        );
        found.extend(report(root).unwrap_or_else(|e| panic!("{e}")));
    }
    assert!(
        found.is_empty(),
        "module import circles ({}):\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn a_planted_circle_is_found_and_a_parent_child_pair_is_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("layer")).expect("mkdir");
    let write = |name: &str, text: &str| fs::write(src.join(name), text).expect("write");
    write("lib.rs", "mod layer;\nmod top;\npub struct Root;\n");
    // `layer::low` reaches `top` through a grouped use tree; `top` uses `layer::high` in code;
    // `layer::high` names its sibling `low` through `super::`; `low` uses its parent and the root.
    write(
        "layer/mod.rs",
        "pub mod high;\npub mod low;\npub use high::High;\n",
    );
    write("layer/high.rs", "pub struct High(pub super::low::Low);\n");
    write(
        "layer/low.rs",
        "use crate::{Root, top::{self, Top}};\nuse super::High as _;\npub struct Low;\nfn f(_: top::Top) {}\n",
    );
    write(
        "top.rs",
        "pub struct Top;\nfn g() -> usize { std::mem::size_of::<crate::layer::high::High>() }\n",
    );
    let graph = load_crate(&src.join("lib.rs")).expect("load");
    let found = circles(&graph);
    let names: Vec<Vec<String>> = found
        .iter()
        .map(|(members, _)| members.iter().map(|m| display(m)).collect())
        .collect();
    assert_eq!(
        names,
        vec![vec!["layer".to_string(), "top".to_string()]],
        "{found:?}"
    );
    // `layer::high` → `layer::low` alone is no circle, and `low` → `layer` (its parent) is no edge.
    let closing = &found[0].1;
    assert!(
        closing
            .iter()
            .any(|w| w.starts_with("layer → top: `crate::top")),
        "{closing:?}"
    );
    assert!(
        closing
            .iter()
            .any(|w| w.starts_with("top → layer: `crate::layer::high::High`")),
        "{closing:?}"
    );

    // Break the circle: `top` no longer names `layer`, and nothing is found.
    write("top.rs", "pub struct Top;\n");
    let graph = load_crate(&src.join("lib.rs")).expect("load");
    assert!(circles(&graph).is_empty());
    // A circle between two siblings deeper down is found too.
    write(
        "layer/low.rs",
        "pub struct Low;\npub fn h() -> super::high::High { todo_free() }\nfn todo_free() -> super::high::High { super::high::High(Low) }\n",
    );
    let graph = load_crate(&src.join("lib.rs")).expect("load");
    let names: Vec<Vec<String>> = circles(&graph)
        .iter()
        .map(|(members, _)| members.iter().map(|m| display(m)).collect())
        .collect();
    assert_eq!(
        names,
        vec![vec!["layer::high".to_string(), "layer::low".to_string()]]
    );
}
