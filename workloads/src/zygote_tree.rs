//! Zygote trees: which pre-initialized interpreters, with which packages imported, a worker keeps
//! to fork sandboxes from.
//!
//! SOCK (Oakes et al., USENIX ATC 2018) starts Python sandboxes by forking a zygote, an
//! interpreter that has already imported some packages, instead of starting a fresh interpreter.
//! Zygotes form a tree: a child is forked from its parent and imports more packages, so it holds
//! its parent's packages and its own. A function's sandbox is forked from the deepest zygote whose
//! packages the function needs, and imports only what that zygote lacks. This module describes
//! the shape of such a tree; it knows nothing about workers, memory or eviction.
//!
//! # Format
//!
//! A [`ZygoteTree`] is read from and written as OpenLambda's import cache tree (the JSON file its
//! `import_cache_tree` setting names):
//!
//! ```json
//! {"packages": [], "children": [
//!   {"packages": ["pandas"], "children": [
//!     {"packages": ["scipy==1.11.2"]}
//!   ]},
//!   {"packages": ["requests", "flask==3.0.0"], "split_generation": 2}
//! ]}
//! ```
//!
//! A node is an object with two optional keys, `packages` and `children` (both empty when
//! missing). `packages` lists what a node imports in addition to its ancestors, as OpenLambda's
//! `ImportCacheNode` does (its full set is its ancestors' packages plus its own). OpenLambda's own
//! `split_generation` key, an integer, is accepted and ignored; any other key is an error. The
//! root imports no packages, as in OpenLambda.
//!
//! A package is written `name==version`, or as a bare `name` when the catalogue holds exactly one
//! version of it. A node's full set is closed over dependencies: a node listing `pandas` under the
//! root holds `numpy` and `pandas`. Listing a package again below a node that holds it is allowed
//! and changes nothing.
//!
//! Syntax and type errors, unknown keys and duplicate keys are reported with the origin (file name
//! or another label), line and column (from serde_json). Unknown, ambiguous and misplaced packages
//! are reported with the origin, the JSON path of the node's entry (such as
//! `root.children[2].children[0].packages[1]`) and the value. A tree may be at most
//! [`MAX_DEPTH`] levels deep, so that every tree this module reads or builds can be written and
//! read back by serde_json, whose parser stops at 127 levels of nested arrays and objects.
//!
//! # Building a tree for a workload
//!
//! [`ZygoteTree::generate`] builds a tree greedily from the functions' package sets and weights
//! (for instance their invocation counts): every round it adds the zygote that the most weight
//! could fork from; see the method for the rules.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::fmt;
use std::path::Path;

use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::WorkloadError;
use crate::csv_util::{io_error, show};
use crate::packages::{PackageCatalog, PackageId};

/// The most levels a tree may have below its root. A node at depth `d` opens its `packages`
/// array at JSON nesting level `2d + 2`, and serde_json reads at most 127 levels.
pub const MAX_DEPTH: u32 = 62;

/// One node: its parent (`None` for the root, index 0), every package a zygote of it has imported
/// (its ancestors' and its own, closed over dependencies, sorted, no duplicates), and the ones it
/// imports itself (those minus the parent's, sorted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeNode {
    /// Index of the parent node; `None` only for the root.
    pub parent: Option<u32>,
    /// Every package a zygote of this node holds, closed over dependencies, sorted.
    pub packages: Vec<PackageId>,
    /// The packages this node imports on top of its parent's, sorted.
    pub own: Vec<PackageId>,
    /// Levels below the root: 0 for the root.
    pub depth: u32,
}

/// A zygote tree: `nodes[0]` is the root (no packages); a parent always comes before its children
/// (pre-order, children in file order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZygoteTree {
    nodes: Vec<TreeNode>,
    /// One past the last node of each node's subtree: node `i`'s subtree is `i..end[i]`.
    end: Vec<u32>,
}

impl ZygoteTree {
    /// A tree of just the root, which imports nothing.
    pub fn root_only() -> Self {
        ZygoteTree::assemble(vec![None], vec![Vec::new()])
    }

    /// All nodes in pre-order; the root first.
    pub fn nodes(&self) -> &[TreeNode] {
        &self.nodes
    }

    /// Node `i`. Panics if `i` is not a node of the tree.
    pub fn node(&self, i: u32) -> &TreeNode {
        &self.nodes[i as usize]
    }

    /// Number of nodes, the root included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: a tree has at least its root.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Reads OpenLambda's JSON tree format (see the module documentation) from a file, naming
    /// packages of `catalog`.
    pub fn read_json(path: &Path, catalog: &PackageCatalog) -> Result<Self, WorkloadError> {
        let text = crate::limits::read_to_string(path).map_err(|e| io_error(path, e))?;
        ZygoteTree::from_json_str(&text, &show(path), catalog)
    }

    /// Reads OpenLambda's JSON tree format from text; `origin` names the source in errors (a path,
    /// or a label such as "scenario").
    pub fn from_json_str(
        text: &str,
        origin: &str,
        catalog: &PackageCatalog,
    ) -> Result<Self, WorkloadError> {
        let root: RawNode = serde_json::from_str(text).map_err(|e| json_error(origin, e))?;
        if !root.packages.is_empty() {
            return Err(file_error(
                origin,
                format!(
                    "root.packages: the root zygote imports no packages (as in OpenLambda), but it \
                     lists {:?}; put them in a child",
                    root.packages
                ),
            ));
        }
        let names = Names::new(catalog);
        let mut build = Build {
            origin,
            catalog,
            names: &names,
            parents: vec![None],
            packages: vec![Vec::new()],
        };
        build.children(&root, 0, 0, "root")?;
        Ok(ZygoteTree::assemble(build.parents, build.packages))
    }

    /// The tree in OpenLambda's format, pretty-printed with a final newline. Packages are written
    /// `name==version`, and each node lists the top-level packages it adds: its `own` packages
    /// less those that another of its `own` packages depends on directly (plus, for a dependency
    /// cycle within `own`, its lowest id), so that reading the text back with the same catalogue
    /// gives an equal tree. Panics if the tree holds a package that `catalog` lacks (a tree built
    /// with another catalogue).
    pub fn to_json(&self, catalog: &PackageCatalog) -> String {
        let root = self.out_node(0, catalog);
        let mut text =
            serde_json::to_string_pretty(&root).expect("strings and arrays always serialize");
        text.push('\n');
        text
    }

    /// The deepest node whose `packages` are all in `needed` (sorted, no duplicates); ties
    /// between equally deep nodes go to the one first in pre-order. The root always qualifies.
    /// Only nodes whose parent qualifies are tested, each by its `own` packages.
    pub fn deepest(&self, needed: &[PackageId]) -> u32 {
        let (mut best, mut best_depth) = (0u32, 0u32);
        // Walk in pre-order, skipping the subtree of every node that does not qualify: the node
        // reached next is then always a child of a qualifying node.
        let mut i = 1usize;
        while i < self.nodes.len() {
            let node = &self.nodes[i];
            if is_subset(&node.own, needed) {
                if node.depth > best_depth {
                    (best, best_depth) = (i as u32, node.depth);
                }
                i += 1;
            } else {
                i = self.end[i] as usize;
            }
        }
        best
    }

    /// The path from the root to node `i`, root first. Panics if `i` is not a node of the tree.
    pub fn path(&self, i: u32) -> Vec<u32> {
        let mut path = vec![i];
        let mut at = self.node(i);
        while let Some(p) = at.parent {
            path.push(p);
            at = self.node(p);
        }
        path.reverse();
        path
    }

    /// Builds a tree of at most `nodes` zygotes below the root for functions given as (package
    /// set, weight) pairs, greedily.
    ///
    /// Each function's set is closed over dependencies first; functions whose weight is not a
    /// positive finite number are left out. A candidate is an existing node `N` and a package `p`
    /// of some function that holds all of `N`'s packages, with `p` not in `N`; it would add the
    /// zygote `closure(N ∪ {p})`, and its weight is the total weight of the functions that hold
    /// that whole set (exactly those that hold `N` and `p`). Only candidates of weight above 0 and
    /// at least `min_weight_share` of the total weight qualify. Every round adds the qualifying
    /// candidate of most weight, ties going to the smaller package id, then to the node added
    /// first; a candidate whose set is already a node is skipped. The new node's parent is the
    /// node whose packages are a subset of the new set with the most packages (ties to the node
    /// added first; never one [`MAX_DEPTH`] deep), so that the new zygote imports as little as
    /// possible. The tree stops growing at `nodes` nodes or when no candidate qualifies. Children
    /// are ordered by when they were added.
    ///
    /// Panics on a package id that is not in `catalog`.
    pub fn generate(
        functions: &[(&[PackageId], f64)],
        catalog: &PackageCatalog,
        nodes: usize,
        min_weight_share: f64,
    ) -> Self {
        let sets: Vec<(Vec<PackageId>, f64)> = functions
            .iter()
            .filter(|(_, w)| w.is_finite() && *w > 0.0)
            .map(|&(s, w)| (catalog.closure(s), w))
            .collect();
        let total: f64 = sets.iter().map(|(_, w)| w).sum();
        let threshold = min_weight_share * total;
        // A NaN share admits nothing.
        let qualifies = |w: f64| w > 0.0 && w >= threshold;
        let limit = nodes.min(u32::MAX as usize - 1);

        // Nodes in the order they are added; reordered into pre-order at the end.
        let mut packages: Vec<Vec<PackageId>> = vec![Vec::new()];
        let mut parents: Vec<Option<u32>> = vec![None];
        let mut depths: Vec<u32> = vec![0];
        let mut children: Vec<Vec<u32>> = vec![Vec::new()];
        let mut existing: BTreeSet<Vec<PackageId>> = BTreeSet::from([Vec::new()]);
        let mut heap = BinaryHeap::new();
        push_candidates(0, &packages[0], &sets, &qualifies, &mut heap);

        while packages.len() <= limit {
            let Some(best) = heap.pop() else { break };
            let from = &packages[best.node as usize];
            let mut roots = Vec::with_capacity(from.len() + 1);
            roots.extend_from_slice(from);
            roots.push(best.package);
            let set = catalog.closure(&roots);
            if existing.contains(&set) {
                continue;
            }
            let parent = (0..packages.len())
                .filter(|&k| depths[k] < MAX_DEPTH && is_subset(&packages[k], &set))
                .max_by(|&a, &b| packages[a].len().cmp(&packages[b].len()).then(b.cmp(&a)))
                .unwrap_or(0);
            let index = packages.len() as u32;
            push_candidates(index, &set, &sets, &qualifies, &mut heap);
            existing.insert(set.clone());
            packages.push(set);
            parents.push(Some(parent as u32));
            depths.push(depths[parent] + 1);
            children.push(Vec::new());
            children[parent].push(index);
        }

        // Pre-order, children in the order they were added.
        let mut order = Vec::with_capacity(packages.len());
        let mut stack = vec![0u32];
        while let Some(i) = stack.pop() {
            order.push(i as usize);
            stack.extend(children[i as usize].iter().rev());
        }
        let mut position = vec![0u32; packages.len()];
        for (new, &old) in order.iter().enumerate() {
            position[old] = new as u32;
        }
        let pre_parents = order
            .iter()
            .map(|&old| parents[old].map(|p| position[p as usize]))
            .collect();
        let mut pre_packages: Vec<Option<Vec<PackageId>>> =
            packages.into_iter().map(Some).collect();
        let pre_packages = order
            .iter()
            .map(|&old| pre_packages[old].take().unwrap_or_default())
            .collect();
        ZygoteTree::assemble(pre_parents, pre_packages)
    }

    /// The tree of nodes given in pre-order by parent and full package set.
    fn assemble(parents: Vec<Option<u32>>, packages: Vec<Vec<PackageId>>) -> Self {
        let n = parents.len();
        let mut nodes: Vec<TreeNode> = Vec::with_capacity(n);
        for (parent, set) in parents.into_iter().zip(packages) {
            let (own, depth) = match parent {
                Some(p) => {
                    let up = &nodes[p as usize];
                    (difference(&set, &up.packages), up.depth + 1)
                }
                None => (set.clone(), 0),
            };
            nodes.push(TreeNode {
                parent,
                packages: set,
                own,
                depth,
            });
        }
        let mut end: Vec<u32> = (1..=n as u32).collect();
        for i in (1..n).rev() {
            if let Some(p) = nodes[i].parent {
                end[p as usize] = end[p as usize].max(end[i]);
            }
        }
        ZygoteTree { nodes, end }
    }

    /// Node `i` and its subtree in the output format.
    fn out_node(&self, i: usize, catalog: &PackageCatalog) -> OutNode {
        let node = &self.nodes[i];
        let parent: &[PackageId] = match node.parent {
            Some(p) => &self.nodes[p as usize].packages,
            None => &[],
        };
        let packages = top_level(&node.own, parent, catalog)
            .into_iter()
            .map(|id| catalog.package(id).key())
            .collect();
        let mut children = Vec::new();
        let mut c = i + 1;
        while c < self.end[i] as usize {
            children.push(self.out_node(c, catalog));
            c = self.end[c] as usize;
        }
        OutNode { packages, children }
    }
}

/// A node as the file holds it: a JSON object (a derived struct would also take an array).
struct RawNode {
    packages: Vec<String>,
    children: Vec<RawNode>,
}

/// The keys of a node.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFields {
    #[serde(default)]
    packages: Vec<String>,
    #[serde(default)]
    children: Vec<RawNode>,
    /// OpenLambda's hint for splitting the tree; accepted and ignored.
    #[serde(default, rename = "split_generation")]
    _split_generation: Option<i64>,
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = RawNode;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a zygote tree node (a JSON object)")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawNode, A::Error> {
                let fields = RawFields::deserialize(MapAccessDeserializer::new(map))?;
                Ok(RawNode {
                    packages: fields.packages,
                    children: fields.children,
                })
            }
        }
        deserializer.deserialize_map(Object)
    }
}

/// A node as [`ZygoteTree::to_json`] writes it.
#[derive(Serialize)]
struct OutNode {
    packages: Vec<String>,
    children: Vec<OutNode>,
}

/// The state of reading a file's nodes into pre-order.
struct Build<'a> {
    origin: &'a str,
    catalog: &'a PackageCatalog,
    names: &'a Names<'a>,
    parents: Vec<Option<u32>>,
    packages: Vec<Vec<PackageId>>,
}

impl Build<'_> {
    /// Adds the children of `raw`, which is node `index` at `depth` and JSON path `path`, and
    /// their subtrees.
    fn children(
        &mut self,
        raw: &RawNode,
        index: u32,
        depth: u32,
        path: &str,
    ) -> Result<(), WorkloadError> {
        for (k, child) in raw.children.iter().enumerate() {
            let at = format!("{path}.children[{k}]");
            if depth >= MAX_DEPTH {
                return Err(file_error(
                    self.origin,
                    format!("{at}: a zygote tree may be at most {MAX_DEPTH} levels deep"),
                ));
            }
            if self.parents.len() >= u32::MAX as usize {
                return Err(file_error(
                    self.origin,
                    format!("{at}: a zygote tree holds at most {} nodes", u32::MAX),
                ));
            }
            let mut roots = self.packages[index as usize].clone();
            for (j, name) in child.packages.iter().enumerate() {
                let id = self
                    .names
                    .resolve(name)
                    .map_err(|m| file_error(self.origin, format!("{at}.packages[{j}]: {m}")))?;
                roots.push(id);
            }
            let set = self.catalog.closure(&roots);
            let me = self.parents.len() as u32;
            self.parents.push(Some(index));
            self.packages.push(set);
            self.children(child, me, depth + 1, &at)?;
        }
        Ok(())
    }
}

/// Package lookup by `name==version` or by a bare name.
struct Names<'a> {
    catalog: &'a PackageCatalog,
    keys: HashMap<String, PackageId>,
    /// Every version of each name, by id.
    by_name: HashMap<&'a str, Vec<PackageId>>,
}

impl<'a> Names<'a> {
    fn new(catalog: &'a PackageCatalog) -> Self {
        let mut by_name: HashMap<&str, Vec<PackageId>> = HashMap::new();
        for (i, p) in catalog.packages.iter().enumerate() {
            by_name
                .entry(p.name.as_str())
                .or_default()
                .push(PackageId(i as u32));
        }
        Names {
            catalog,
            keys: catalog.key_index(),
            by_name,
        }
    }

    /// The package `text` names, or why it names none.
    fn resolve(&self, text: &str) -> Result<PackageId, String> {
        let versions = |name: &str| {
            self.by_name.get(name).map(|ids| {
                ids.iter()
                    .map(|&id| self.catalog.package(id).key())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        };
        if let Some((name, _)) = text.split_once("==") {
            if let Some(&id) = self.keys.get(text) {
                return Ok(id);
            }
            return Err(match versions(name) {
                Some(list) => {
                    format!("{text:?} is not a package of the catalogue, which has {list}")
                }
                None => format!("{text:?} is not a package of the catalogue"),
            });
        }
        match self.by_name.get(text).map(Vec::as_slice) {
            Some(&[id]) => Ok(id),
            Some(ids) => Err(format!(
                "{text:?} names {} versions ({}); write name==version",
                ids.len(),
                versions(text).unwrap_or_default()
            )),
            None => Err(format!(
                "{text:?} is not a package of the catalogue (expected name==version or the name \
                 of a package with one version)"
            )),
        }
    }
}

/// A candidate child of [`ZygoteTree::generate`]: node `node` (in order of addition) plus
/// `package`. Greater is better: more weight, then a smaller package id, then a smaller node.
struct Candidate {
    weight: f64,
    package: PackageId,
    node: u32,
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.weight
            .total_cmp(&other.weight)
            .then(other.package.cmp(&self.package))
            .then(other.node.cmp(&self.node))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

/// Pushes the qualifying candidates from node `node`, whose package set is `set`: each package of
/// a function that holds `set`, not in `set`, weighted by the functions holding both.
fn push_candidates(
    node: u32,
    set: &[PackageId],
    functions: &[(Vec<PackageId>, f64)],
    qualifies: &dyn Fn(f64) -> bool,
    heap: &mut BinaryHeap<Candidate>,
) {
    let mut weights: BTreeMap<PackageId, f64> = BTreeMap::new();
    for (f, w) in functions {
        if !is_subset(set, f) {
            continue;
        }
        // `set` is a subset of `f`: walk both, skipping `f`'s members that are in `set`.
        let mut j = 0;
        for &p in f {
            if set.get(j) == Some(&p) {
                j += 1;
            } else {
                *weights.entry(p).or_insert(0.0) += w;
            }
        }
    }
    heap.extend(
        weights
            .into_iter()
            .filter(|&(_, w)| qualifies(w))
            .map(|(package, weight)| Candidate {
                weight,
                package,
                node,
            }),
    );
}

/// The packages of `own` to write for a node whose parent holds `parent`: those no other member
/// of `own` depends on directly, plus the lowest id of any dependency cycle they leave out, so
/// that their closure with `parent` holds all of `own`.
fn top_level(own: &[PackageId], parent: &[PackageId], catalog: &PackageCatalog) -> Vec<PackageId> {
    let mut needed_by_other = vec![false; own.len()];
    for &q in own {
        for d in &catalog.package(q).deps {
            if *d != q
                && let Ok(k) = own.binary_search(d)
            {
                needed_by_other[k] = true;
            }
        }
    }
    let mut written: Vec<PackageId> = own
        .iter()
        .zip(&needed_by_other)
        .filter(|&(_, &dep)| !dep)
        .map(|(&p, _)| p)
        .collect();
    let mut covered: BTreeSet<PackageId> = parent.iter().copied().collect();
    covered.extend(catalog.closure(&written));
    for &p in own {
        if !covered.contains(&p) {
            written.push(p);
            covered.extend(catalog.closure(&[p]));
        }
    }
    written.sort_unstable();
    written
}

/// Whether every member of `small` is in `big`; both sorted.
fn is_subset(small: &[PackageId], big: &[PackageId]) -> bool {
    if small.len() > big.len() {
        return false;
    }
    let mut rest = big.iter();
    'next: for s in small {
        for b in rest.by_ref() {
            match b.cmp(s) {
                Ordering::Less => {}
                Ordering::Equal => continue 'next,
                Ordering::Greater => return false,
            }
        }
        return false;
    }
    true
}

/// The members of `a` that are not in `b`; both sorted.
fn difference(a: &[PackageId], b: &[PackageId]) -> Vec<PackageId> {
    let mut out = Vec::with_capacity(a.len().saturating_sub(b.len()));
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if b.get(j) != Some(&x) {
            out.push(x);
        }
    }
    out
}

fn file_error(origin: &str, message: String) -> WorkloadError {
    WorkloadError::File {
        path: origin.to_string(),
        message,
    }
}

/// serde_json's error with the origin, and the line and column where it knows them; a tree
/// too deep for serde_json says how deep one may be.
fn json_error(origin: &str, e: serde_json::Error) -> WorkloadError {
    let too_deep = e.to_string().starts_with("recursion limit exceeded");
    let mut error = crate::csv_util::json_error(origin, e);
    if too_deep {
        let hint = format!(" (a zygote tree may be at most {MAX_DEPTH} levels deep)");
        match &mut error {
            WorkloadError::File { message, .. } | WorkloadError::Row { message, .. } => {
                message.push_str(&hint)
            }
            _ => {}
        }
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::{AssignSpec, CatalogSpec, Package, assign};
    use crate::scratch::Scratch;

    fn pkg(name: &str, version: &str, deps: &[u32]) -> Package {
        Package {
            name: name.to_string(),
            version: version.to_string(),
            deps: deps.iter().map(|&d| PackageId(d)).collect(),
            install_ms: 500.0,
            disk_bytes: 1000,
            import_ms: 4.0,
            import_mb: 0.25,
            popularity: 1.0,
        }
    }

    const NUMPY: PackageId = PackageId(0);
    const PANDAS: PackageId = PackageId(1);
    const SCIPY: PackageId = PackageId(2);
    const REQUESTS: PackageId = PackageId(3);
    const FLASK2: PackageId = PackageId(4);
    const FLASK3: PackageId = PackageId(5);
    const SPHINX: PackageId = PackageId(6);
    const SPHINX_A: PackageId = PackageId(7);

    /// numpy; pandas and scipy depend on numpy; requests; two versions of flask; sphinx and
    /// sphinxcontrib-a depend on each other.
    fn catalog() -> PackageCatalog {
        let c = PackageCatalog {
            packages: vec![
                pkg("numpy", "1.26.0", &[]),
                pkg("pandas", "2.1.0", &[0]),
                pkg("scipy", "1.11.2", &[0]),
                pkg("requests", "2.31.0", &[]),
                pkg("flask", "2.3.3", &[]),
                pkg("flask", "3.0.0", &[]),
                pkg("sphinx", "7.2.6", &[7]),
                pkg("sphinxcontrib-a", "1.0", &[6]),
            ],
        };
        c.validate().unwrap();
        c
    }

    /// Three levels: root; pandas, numpy, requests + flask 3; scipy under pandas.
    const THREE_LEVELS: &str = r#"{"packages": [], "split_generation": 0, "children": [
        {"packages": ["pandas"], "children": [
            {"packages": ["scipy==1.11.2"]}
        ]},
        {"packages": ["numpy"], "children": []},
        {"children": [], "packages": ["requests", "flask==3.0.0"], "split_generation": 3}
    ]}"#;

    fn three_levels() -> ZygoteTree {
        ZygoteTree::from_json_str(THREE_LEVELS, "tree.json", &catalog()).unwrap()
    }

    fn error(text: &str) -> String {
        ZygoteTree::from_json_str(text, "tree.json", &catalog())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn root_only_is_one_empty_node() {
        let t = ZygoteTree::root_only();
        assert_eq!(t.len(), 1);
        assert!(!t.is_empty());
        assert_eq!(
            t.node(0),
            &TreeNode {
                parent: None,
                packages: vec![],
                own: vec![],
                depth: 0
            }
        );
        assert_eq!(t.deepest(&[NUMPY]), 0);
        assert_eq!(t.path(0), vec![0]);
        let c = catalog();
        assert_eq!(ZygoteTree::from_json_str("{}", "x", &c).unwrap(), t);
        assert_eq!(
            ZygoteTree::from_json_str(&t.to_json(&c), "x", &c).unwrap(),
            t
        );
    }

    #[test]
    fn reads_nested_tree_in_pre_order() {
        let t = three_levels();
        let node =
            |parent: Option<u32>, packages: &[PackageId], own: &[PackageId], depth| TreeNode {
                parent,
                packages: packages.to_vec(),
                own: own.to_vec(),
                depth,
            };
        assert_eq!(
            t.nodes(),
            &[
                node(None, &[], &[], 0),
                // pandas closes over numpy.
                node(Some(0), &[NUMPY, PANDAS], &[NUMPY, PANDAS], 1),
                node(Some(1), &[NUMPY, PANDAS, SCIPY], &[SCIPY], 2),
                node(Some(0), &[NUMPY], &[NUMPY], 1),
                node(Some(0), &[REQUESTS, FLASK3], &[REQUESTS, FLASK3], 1),
            ]
        );
        assert_eq!(t.path(2), vec![0, 1, 2]);
        assert_eq!(t.path(4), vec![0, 4]);
    }

    #[test]
    fn repeated_and_inherited_packages_change_nothing() {
        let c = catalog();
        let t = ZygoteTree::from_json_str(
            r#"{"children": [{"packages": ["numpy", "numpy==1.26.0"], "children": [
                {"packages": ["numpy", "pandas"]}]}]}"#,
            "x",
            &c,
        )
        .unwrap();
        assert_eq!(t.node(1).packages, vec![NUMPY]);
        assert_eq!(t.node(2).packages, vec![NUMPY, PANDAS]);
        assert_eq!(t.node(2).own, vec![PANDAS]);
        // A node that adds nothing is kept, with no packages of its own.
        let t = ZygoteTree::from_json_str(
            r#"{"children": [{"packages": ["pandas"], "children": [{}]}]}"#,
            "x",
            &c,
        )
        .unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.node(2).packages, vec![NUMPY, PANDAS]);
        assert!(t.node(2).own.is_empty());
    }

    #[test]
    fn deepest_picks_deepest_usable_node() {
        let t = three_levels();
        assert_eq!(t.deepest(&[NUMPY, PANDAS, SCIPY, REQUESTS]), 2);
        assert_eq!(t.deepest(&[NUMPY, PANDAS]), 1);
        assert_eq!(t.deepest(&[NUMPY, SCIPY]), 3);
        assert_eq!(t.deepest(&[NUMPY]), 3);
        // No node holds requests alone: the root.
        assert_eq!(t.deepest(&[REQUESTS]), 0);
        assert_eq!(t.deepest(&[]), 0);
        assert_eq!(t.deepest(&[REQUESTS, FLASK2]), 0);
        assert_eq!(t.deepest(&[REQUESTS, FLASK3, SPHINX]), 4);
        // Nodes 1, 3 and 4 all qualify at depth 1: the first in pre-order.
        assert_eq!(t.deepest(&[NUMPY, PANDAS, REQUESTS, FLASK3]), 1);
        assert_eq!(t.deepest(&[NUMPY, REQUESTS, FLASK3]), 3);
    }

    #[test]
    fn deepest_matches_a_scan_of_every_node() {
        let t = three_levels();
        let c = catalog();
        // Every subset of the catalogue's eight packages.
        for mask in 0u32..256 {
            let needed: Vec<PackageId> = c.ids().filter(|p| mask & (1 << p.0) != 0).collect();
            let expected = (0..t.len() as u32)
                .filter(|&i| is_subset(&t.node(i).packages, &needed))
                .max_by(|&a, &b| t.node(a).depth.cmp(&t.node(b).depth).then(b.cmp(&a)))
                .unwrap();
            assert_eq!(t.deepest(&needed), expected, "{needed:?}");
        }
    }

    #[test]
    fn unknown_package_names_path_and_value() {
        let m = error(
            r#"{"children": [{}, {}, {"children": [
                {"packages": ["numpy", "tensorflow"]}]}]}"#,
        );
        assert!(m.starts_with("tree.json: "), "{m}");
        assert!(
            m.contains("root.children[2].children[0].packages[1]") && m.contains("\"tensorflow\""),
            "{m}"
        );
        // A version the catalogue lacks lists the ones it has.
        let m = error(r#"{"children": [{"packages": ["numpy==2.0.0"]}]}"#);
        assert!(
            m.contains("root.children[0].packages[0]")
                && m.contains("\"numpy==2.0.0\"")
                && m.contains("numpy==1.26.0"),
            "{m}"
        );
        let m = error(r#"{"children": [{"packages": [""]}]}"#);
        assert!(m.contains("root.children[0].packages[0]: \"\""), "{m}");
    }

    #[test]
    fn ambiguous_bare_name_lists_versions() {
        let m = error(r#"{"children": [{"packages": ["requests", "flask"]}]}"#);
        assert!(
            m.contains("root.children[0].packages[1]")
                && m.contains("\"flask\"")
                && m.contains("flask==2.3.3, flask==3.0.0"),
            "{m}"
        );
    }

    #[test]
    fn root_with_packages_is_an_error() {
        let m = error(r#"{"packages": ["numpy"], "children": []}"#);
        assert!(
            m.starts_with("tree.json: root.packages") && m.contains("numpy"),
            "{m}"
        );
    }

    #[test]
    fn malformed_json_and_unknown_keys_name_origin() {
        let c = catalog();
        let e =
            ZygoteTree::from_json_str("{\"children\": [\n  {\"packages\": [}\n]}", "scenario", &c)
                .unwrap_err();
        assert!(matches!(e, WorkloadError::Row { line: 2, .. }), "{e}");
        assert!(
            e.to_string().starts_with("scenario, line 2: column "),
            "{e}"
        );

        let m = error("{\"children\": [\n  {\"pakages\": [\"numpy\"]}\n]}");
        assert!(
            m.starts_with("tree.json, line 2") && m.contains("unknown field `pakages`"),
            "{m}"
        );
        // split_generation must be an integer.
        let m = error(r#"{"split_generation": "two"}"#);
        assert!(m.contains("tree.json, line 1"), "{m}");
        // Wrong types and duplicate keys.
        assert!(error(r#"{"children": {}}"#).contains("tree.json, line 1"));
        assert!(error(r#"{"children": [{"packages": [3]}]}"#).contains("tree.json, line 1"));
        assert!(error(r#"{"children": [], "children": []}"#).contains("duplicate field"));
        assert!(error("").starts_with("tree.json, line 1"));
        let m = error("[]");
        assert!(
            m.starts_with("tree.json, line 1") && m.contains("a zygote tree node (a JSON object)"),
            "{m}"
        );
        assert!(error(r#"{"children": [[["numpy"], []]]}"#).contains("JSON object"));
        assert!(error("null").contains("JSON object"));
    }

    #[test]
    fn read_json_names_the_file() {
        let dir = Scratch::new("zygote-tree-read");
        let c = catalog();
        let path = dir.file("tree.json", THREE_LEVELS);
        assert_eq!(ZygoteTree::read_json(&path, &c).unwrap(), three_levels());
        let missing = dir.path().join("missing.json");
        let e = ZygoteTree::read_json(&missing, &c).unwrap_err();
        assert!(matches!(e, WorkloadError::Io { .. }), "{e}");
        assert!(e.to_string().contains("missing.json"), "{e}");
        let bad = dir.file("bad.json", r#"{"children": [{"packages": ["flask"]}]}"#);
        let m = ZygoteTree::read_json(&bad, &c).unwrap_err().to_string();
        assert!(m.contains("bad.json") && m.contains("flask==2.3.3"), "{m}");
    }

    #[test]
    fn to_json_round_trips() {
        let c = catalog();
        let t = three_levels();
        let text = t.to_json(&c);
        assert!(text.ends_with("}\n"), "{text}");
        assert_eq!(ZygoteTree::from_json_str(&text, "out", &c).unwrap(), t);
        // The pandas node writes pandas alone: numpy comes with it.
        let pandas = ZygoteTree::from_json_str(
            r#"{"children": [{"packages": ["numpy", "pandas"]}]}"#,
            "x",
            &c,
        )
        .unwrap();
        let text = pandas.to_json(&c);
        assert!(
            text.contains("\"pandas==2.1.0\"") && !text.contains("numpy"),
            "{text}"
        );
        let expected = "{\n  \"packages\": [],\n  \"children\": [\n    {\n      \"packages\": [\n        \"pandas==2.1.0\"\n      ],\n      \"children\": []\n    }\n  ]\n}\n";
        assert_eq!(text, expected);
        // A dependency cycle writes one of its members.
        let cycle = ZygoteTree::from_json_str(
            r#"{"children": [{"packages": ["sphinxcontrib-a"], "children": [
                {"packages": ["numpy", "scipy"]}]}]}"#,
            "x",
            &c,
        )
        .unwrap();
        assert_eq!(cycle.node(1).own, vec![SPHINX, SPHINX_A]);
        let text = cycle.to_json(&c);
        assert!(
            text.contains("\"sphinx==7.2.6\"") && !text.contains("sphinxcontrib"),
            "{text}"
        );
        assert!(!text.contains("numpy"), "{text}");
        assert_eq!(ZygoteTree::from_json_str(&text, "out", &c).unwrap(), cycle);
    }

    /// Text of a chain of `depth` nodes below the root, numpy at the bottom.
    fn chain(depth: u32) -> String {
        let mut text = String::from(r#"{"packages": ["numpy"]}"#);
        for _ in 1..depth {
            text = format!(r#"{{"children": [{text}]}}"#);
        }
        format!(r#"{{"children": [{text}]}}"#)
    }

    #[test]
    fn depth_is_limited_to_what_reads_back() {
        let c = catalog();
        let t = ZygoteTree::from_json_str(&chain(MAX_DEPTH), "x", &c).unwrap();
        assert_eq!(t.len() as u32, MAX_DEPTH + 1);
        assert_eq!(t.node(MAX_DEPTH).depth, MAX_DEPTH);
        assert_eq!(t.deepest(&[NUMPY]), MAX_DEPTH);
        assert_eq!(
            ZygoteTree::from_json_str(&t.to_json(&c), "x", &c).unwrap(),
            t
        );
        let m = error(&chain(MAX_DEPTH + 1));
        assert!(m.contains("at most 62 levels deep"), "{m}");
        // An empty node one level deeper still parses, but could not be written back.
        let empty = chain(MAX_DEPTH).replace(r#"{"packages": ["numpy"]}"#, r#"{"children": [{}]}"#);
        let m = error(&empty);
        assert!(
            m.starts_with("tree.json: root.children[0].children[0].children[0]")
                && m.ends_with(".children[0]: a zygote tree may be at most 62 levels deep"),
            "{m}"
        );
        let m = error(&chain(MAX_DEPTH + 40));
        assert!(m.contains("at most 62 levels deep"), "{m}");
    }

    /// Four functions: numpy + pandas (4), numpy + pandas + scipy (3), numpy + scipy (2),
    /// requests (1); total 10. Candidates from the root weigh numpy 9, pandas 7, scipy 5,
    /// requests 1; from {numpy}: pandas 7, scipy 5; from {numpy, pandas}: scipy 3; from
    /// {numpy, scipy}: pandas 3.
    fn functions() -> Vec<(Vec<PackageId>, f64)> {
        vec![
            (vec![PANDAS], 4.0),
            (vec![NUMPY, PANDAS, SCIPY], 3.0),
            (vec![SCIPY], 2.0),
            (vec![REQUESTS], 1.0),
        ]
    }

    fn generate(functions: &[(Vec<PackageId>, f64)], nodes: usize, share: f64) -> ZygoteTree {
        let borrowed: Vec<(&[PackageId], f64)> =
            functions.iter().map(|(s, w)| (s.as_slice(), *w)).collect();
        ZygoteTree::generate(&borrowed, &catalog(), nodes, share)
    }

    fn sets(t: &ZygoteTree) -> Vec<(Option<u32>, Vec<PackageId>)> {
        t.nodes()
            .iter()
            .map(|n| (n.parent, n.packages.clone()))
            .collect()
    }

    #[test]
    fn generate_adds_the_most_used_zygotes_first() {
        let f = functions();
        // numpy (9), then pandas (7) under it: the root's and numpy's candidates tie and the
        // root's wins, but the set {numpy, pandas} goes under numpy, which holds most of it.
        assert_eq!(
            sets(&generate(&f, 2, 0.0)),
            vec![
                (None, vec![]),
                (Some(0), vec![NUMPY]),
                (Some(1), vec![NUMPY, PANDAS]),
            ]
        );
        assert_eq!(sets(&generate(&f, 1, 0.0))[1], (Some(0), vec![NUMPY]));
        assert_eq!(generate(&f, 0, 0.0), ZygoteTree::root_only());
        // Then scipy (5) under numpy; then {numpy, pandas, scipy} (3; pandas from {numpy, scipy}
        // and scipy from {numpy, pandas} tie, pandas has the smaller id) under {numpy, pandas},
        // added before {numpy, scipy}; then requests (1). Pre-order puts the third node added
        // under the second.
        let all = generate(&f, 10, 0.0);
        assert_eq!(
            sets(&all),
            vec![
                (None, vec![]),
                (Some(0), vec![NUMPY]),
                (Some(1), vec![NUMPY, PANDAS]),
                (Some(2), vec![NUMPY, PANDAS, SCIPY]),
                (Some(1), vec![NUMPY, SCIPY]),
                (Some(0), vec![REQUESTS]),
            ]
        );
        let own: Vec<Vec<PackageId>> = all.nodes().iter().map(|n| n.own.clone()).collect();
        assert_eq!(
            own,
            vec![
                vec![],
                vec![NUMPY],
                vec![PANDAS],
                vec![SCIPY],
                vec![SCIPY],
                vec![REQUESTS]
            ]
        );
        let depths: Vec<u32> = all.nodes().iter().map(|n| n.depth).collect();
        assert_eq!(depths, vec![0, 1, 2, 3, 2, 1]);
        // 25% of 10 is 2.5: requests (1) is left out.
        assert_eq!(generate(&f, 10, 0.25).len(), 5);
        // 50% is 5: scipy (exactly 5) stays, {numpy, pandas, scipy} (3) does not.
        assert_eq!(
            sets(&generate(&f, 10, 0.5)),
            vec![
                (None, vec![]),
                (Some(0), vec![NUMPY]),
                (Some(1), vec![NUMPY, PANDAS]),
                (Some(1), vec![NUMPY, SCIPY]),
            ]
        );
        assert_eq!(generate(&f, 10, 0.95), ZygoteTree::root_only());
        assert_eq!(generate(&f, 10, f64::NAN), ZygoteTree::root_only());
        // The tree writes and reads back.
        let c = catalog();
        assert_eq!(
            ZygoteTree::from_json_str(&all.to_json(&c), "x", &c).unwrap(),
            all
        );
    }

    #[test]
    fn generate_ignores_order_and_bad_weights() {
        let f = functions();
        let mut shuffled = f.clone();
        shuffled.reverse();
        assert_eq!(generate(&shuffled, 10, 0.0), generate(&f, 10, 0.0));
        let mut noisy = f.clone();
        noisy.push((vec![FLASK2], 0.0));
        noisy.push((vec![FLASK2], -3.0));
        noisy.push((vec![FLASK2], f64::NAN));
        noisy.push((vec![FLASK2], f64::INFINITY));
        assert_eq!(generate(&noisy, 10, 0.0), generate(&f, 10, 0.0));
        assert_eq!(generate(&[], 10, 0.0), ZygoteTree::root_only());
        // Functions without packages count in the total only.
        let mut empty = f.clone();
        empty.push((vec![], 10.0));
        assert_eq!(generate(&empty, 10, 0.25).len(), 4);
    }

    #[test]
    fn generate_keeps_cycles_together() {
        let t = generate(&[(vec![SPHINX_A], 1.0), (vec![SPHINX], 1.0)], 10, 0.0);
        assert_eq!(
            sets(&t),
            vec![(None, vec![]), (Some(0), vec![SPHINX, SPHINX_A])]
        );
    }

    #[test]
    fn generate_on_a_synthetic_workload_respects_its_rules() {
        let catalog = PackageCatalog::synthetic(
            &CatalogSpec {
                packages: 1000,
                ..CatalogSpec::default()
            },
            3,
        )
        .unwrap();
        let sets = assign(&catalog, 1000, &AssignSpec::default(), 5).unwrap();
        let functions: Vec<(&[PackageId], f64)> = sets
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_slice(), (1 + i % 7) as f64))
            .collect();
        let total: f64 = functions.iter().map(|(_, w)| w).sum();
        let t = ZygoteTree::generate(&functions, &catalog, 64, 0.001);
        assert_eq!(t.len(), 65);
        let mut seen = BTreeSet::new();
        for (i, n) in t.nodes().iter().enumerate().skip(1) {
            let p = t.node(n.parent.unwrap());
            assert!(n.parent.unwrap() < i as u32);
            assert_eq!(n.depth, p.depth + 1);
            assert!(is_subset(&p.packages, &n.packages));
            assert_eq!(n.own, difference(&n.packages, &p.packages));
            assert!(!n.own.is_empty());
            assert_eq!(catalog.closure(&n.packages), n.packages);
            assert!(seen.insert(n.packages.clone()), "{i}: repeated set");
            let weight: f64 = functions
                .iter()
                .filter(|(s, _)| is_subset(&n.packages, s))
                .map(|(_, w)| w)
                .sum();
            assert!(weight >= 0.001 * total, "{i}: {weight}");
        }
        assert_eq!(t, ZygoteTree::generate(&functions, &catalog, 64, 0.001));
        assert_eq!(
            ZygoteTree::from_json_str(&t.to_json(&catalog), "x", &catalog).unwrap(),
            t
        );
        // Every function's deepest node is one whose packages it holds.
        for (s, _) in &functions {
            let d = t.deepest(s);
            assert!(is_subset(&t.node(d).packages, s));
        }
    }

    #[test]
    fn set_helpers() {
        let ids = |v: &[u32]| v.iter().map(|&i| PackageId(i)).collect::<Vec<_>>();
        assert!(is_subset(&ids(&[]), &ids(&[])));
        assert!(is_subset(&ids(&[2, 5]), &ids(&[1, 2, 3, 5])));
        assert!(!is_subset(&ids(&[2, 4]), &ids(&[1, 2, 3, 5])));
        assert!(!is_subset(&ids(&[6]), &ids(&[1, 2, 3, 5])));
        assert!(!is_subset(&ids(&[1, 2]), &ids(&[1])));
        assert_eq!(
            difference(&ids(&[1, 2, 3, 5]), &ids(&[2, 4, 5])),
            ids(&[1, 3])
        );
        assert_eq!(difference(&ids(&[1]), &ids(&[])), ids(&[1]));
    }
}
