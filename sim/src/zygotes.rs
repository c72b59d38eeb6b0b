//! Per-worker import caches: trees of zygotes.
//!
//! A zygote is a paused runtime process that has imported some packages. A cold start forks its
//! sandbox from a zygote whose packages are all ones the function needs, and then imports only the
//! rest, instead of importing everything in a fresh runtime (SOCK, Oakes et al., USENIX ATC'18;
//! OpenLambda's import cache). Zygotes form a tree: a child is forked from its parent and imports
//! more packages, so it has its parent's packages and its own.
//!
//! Two ways to shape the tree:
//! - [`TreeMode::Static`]: the nodes come from a template (OpenLambda's `import_cache_tree`). A
//!   cold start uses the deepest node whose packages it all needs; the zygotes on the path to it
//!   that do not exist yet are created then, by that cold start, so zygotes appear lazily.
//! - [`TreeMode::Dynamic`]: SOCK's tree grows with the workload. A cold start uses the zygote with
//!   the most packages that are all needed; if that lacks some, a child of it importing the
//!   missing ones is grown (when the cache has room), and the sandbox forks from the child.
//!
//! Zygotes hold memory on their worker: a base for the runtime process plus the import memory of
//! the packages they import themselves (a forked child shares its parent's pages). The cache has a
//! capacity per worker; to make room, and when sandboxes need the worker's memory, leaves (zygotes
//! without live children) are evicted, lowest hits per MB first (SOCK's rule). A zygote with live
//! children is never evicted, nor one on the path a cold start is using.
//!
//! The root of the tree imports nothing: a fork from it is no better than a fresh runtime in the
//! cost model, so it is never created and a cold start that matches only the root starts plainly.

use std::sync::Arc;

use workloads::packages::PackageId;
use workloads::zygote_tree::ZygoteTree;
use workloads::{Catalog, FunctionId};

use crate::WorkerId;
use crate::backend::{ZygoteId, ZygoteSpawn};

/// How a worker's tree of zygotes is shaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TreeMode {
    /// Nodes from a template; zygotes created lazily.
    Static(Arc<ZygoteTree>),
    /// SOCK's tree, grown for the package sets cold starts need.
    Dynamic,
}

/// An import cache's shape and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportCacheConfig {
    pub mode: TreeMode,
    /// Memory the zygotes of one worker may hold, in MB; `None` is unlimited (still bounded by
    /// the worker's memory).
    pub capacity_mb: Option<u64>,
    /// Memory of a zygote's runtime process before its own imports, in MB.
    pub base_mb: u64,
}

const ROOT: u32 = 0;

/// What a cold start adds to the tree below the zygote it starts from.
enum Growth {
    /// The static tree's nodes on the path to its target that have no zygote yet (none when the
    /// target exists).
    Path(Vec<u32>),
    /// A new child importing the packages the dynamic tree's best match lacks.
    Child,
}

#[derive(Clone, Debug, Default)]
struct Node {
    parent: Option<u32>,
    /// Every package a zygote of this node has imported, sorted.
    packages: Vec<PackageId>,
    /// The packages it imports itself (those its parent lacks), sorted.
    own: Vec<PackageId>,
    /// Memory its zygote holds when it exists.
    memory_mb: u64,
    children: Vec<u32>,
    /// Its zygote exists.
    live: bool,
    live_children: u32,
    /// Forks from its zygote (of sandboxes and of child zygotes) since it was created.
    hits: u64,
}

#[derive(Clone, Debug, Default)]
struct WorkerCache {
    /// Evicted nodes leave the tree (dynamic) or stay as places for later zygotes (static).
    dynamic: bool,
    nodes: Vec<Node>,
    free: Vec<u32>,
    used_mb: u64,
}

/// What a cold start does about imports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportPlan {
    /// Zygotes to create first, parents first.
    pub spawn: Vec<ZygoteSpawn>,
    /// The zygote to fork from, if any.
    pub fork: Option<ZygoteId>,
    /// Packages to import in the sandbox after the fork (or all of them, without one).
    pub import: Vec<PackageId>,
    /// Packages imported by a zygote that existed before this cold start.
    pub hits: u32,
    /// Zygotes evicted to make room: (slot, memory in MB).
    pub evicted: Vec<(ZygoteId, u64)>,
    /// Zygotes created: (packages imported, ancestors' included; memory in MB), parents first.
    pub created: Vec<(u32, u64)>,
}

/// The import caches of all workers.
#[derive(Clone, Debug)]
pub struct ImportCaches {
    config: ImportCacheConfig,
    workers: Vec<WorkerCache>,
    /// Static trees: each function's deepest node.
    targets: Vec<u32>,
    /// Each package's import memory in MB.
    import_mb: Vec<f64>,
}

/// Whether sorted `a` is a subset of sorted `b`.
fn subset(a: &[PackageId], b: &[PackageId]) -> bool {
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j == b.len() || b[j] != x {
            return false;
        }
        j += 1;
    }
    true
}

/// Sorted `a` minus sorted `b`.
fn minus(a: &[PackageId], b: &[PackageId]) -> Vec<PackageId> {
    a.iter()
        .copied()
        .filter(|p| b.binary_search(p).is_err())
        .collect()
}

fn sorted(packages: &[PackageId]) -> Vec<PackageId> {
    let mut v = packages.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

impl ImportCaches {
    pub fn new(config: ImportCacheConfig, workers: usize, catalog: &Catalog) -> Self {
        let import_mb: Vec<f64> = catalog
            .packages
            .packages
            .iter()
            .map(|p| p.import_mb)
            .collect();
        let node = |parent: Option<u32>, packages: Vec<PackageId>, own: Vec<PackageId>| Node {
            parent,
            memory_mb: zygote_mb(config.base_mb, &own, &import_mb),
            packages,
            own,
            ..Node::default()
        };
        let (template, targets) = match &config.mode {
            TreeMode::Static(tree) => {
                let mut nodes: Vec<Node> = tree
                    .nodes()
                    .iter()
                    .map(|n| node(n.parent, n.packages.clone(), n.own.clone()))
                    .collect();
                for i in 1..nodes.len() {
                    if let Some(p) = nodes[i].parent {
                        nodes[p as usize].children.push(i as u32);
                    }
                }
                let targets = catalog
                    .functions
                    .iter()
                    .map(|f| tree.deepest(&sorted(&f.packages)))
                    .collect();
                (nodes, targets)
            }
            TreeMode::Dynamic => (vec![node(None, Vec::new(), Vec::new())], Vec::new()),
        };
        let cache = WorkerCache {
            dynamic: config.mode == TreeMode::Dynamic,
            nodes: template,
            free: Vec::new(),
            used_mb: 0,
        };
        ImportCaches {
            config,
            workers: vec![cache; workers],
            targets,
            import_mb,
        }
    }

    pub fn config(&self) -> &ImportCacheConfig {
        &self.config
    }

    /// Memory the zygotes of `worker` hold, in MB.
    pub fn used_mb(&self, worker: WorkerId) -> u64 {
        self.workers[worker.index()].used_mb
    }

    /// Live zygotes on `worker`: (slot, packages imported, memory in MB), in slot order.
    pub fn zygotes(
        &self,
        worker: WorkerId,
    ) -> impl Iterator<Item = (ZygoteId, &[PackageId], u64)> + '_ {
        self.workers[worker.index()]
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.live)
            .map(|(i, n)| (ZygoteId(i as u32), n.packages.as_slice(), n.memory_mb))
    }

    /// The static tree's node for `function`: the deepest whose packages it all needs (0, the
    /// root, when none is). `None` for a dynamic tree.
    pub fn static_target(&self, function: FunctionId) -> Option<u32> {
        self.targets.get(function.index()).copied()
    }

    /// Plans the imports of a cold start on `worker` needing `packages` (sorted), creating and
    /// evicting zygotes as needed; `free_mb` is the worker's memory free for new zygotes.
    pub fn plan(
        &mut self,
        worker: WorkerId,
        function: FunctionId,
        packages: &[PackageId],
        free_mb: u64,
    ) -> ImportPlan {
        let capacity = self.config.capacity_mb;
        let cache = &mut self.workers[worker.index()];
        let mut plan = ImportPlan::default();
        // The deepest existing zygote to start from, and what to create below it.
        let (base, growth) = match &self.config.mode {
            TreeMode::Static(_) => {
                let target = self.targets[function.index()];
                let mut path = vec![target];
                while let Some(p) = cache.nodes[*path.last().unwrap() as usize].parent {
                    path.push(p);
                }
                path.reverse();
                let live = path
                    .iter()
                    .rposition(|&n| n == ROOT || cache.nodes[n as usize].live)
                    .unwrap_or(0);
                (path[live], Growth::Path(path[live + 1..].to_vec()))
            }
            TreeMode::Dynamic => {
                let best = cache.best_match(packages);
                if cache.nodes[best as usize].packages.len() == packages.len() {
                    (best, Growth::Path(Vec::new()))
                } else {
                    (best, Growth::Child)
                }
            }
        };
        plan.hits = cache.nodes[base as usize].packages.len() as u32;
        let base_packages = &cache.nodes[base as usize].packages;
        let need: u64 = match &growth {
            Growth::Path(nodes) => nodes
                .iter()
                .map(|&n| cache.nodes[n as usize].memory_mb)
                .sum(),
            Growth::Child => zygote_mb(
                self.config.base_mb,
                &minus(packages, base_packages),
                &self.import_mb,
            ),
        };
        let mut fork = base;
        let nothing = matches!(&growth, Growth::Path(nodes) if nodes.is_empty());
        if !nothing && let Some(victims) = cache.room_for(need, capacity, free_mb, base) {
            for &v in &victims {
                plan.evicted.push((ZygoteId(v), cache.evict(v)));
            }
            let create = match growth {
                Growth::Path(nodes) => nodes,
                Growth::Child => {
                    let own = minus(packages, &cache.nodes[base as usize].packages);
                    vec![cache.grow(base, packages.to_vec(), own, need)]
                }
            };
            let mut parent = base;
            for &n in &create {
                cache.nodes[parent as usize].hits += 1;
                let node = &mut cache.nodes[n as usize];
                node.live = true;
                node.hits = 0;
                cache.used_mb += node.memory_mb;
                plan.created
                    .push((node.packages.len() as u32, node.memory_mb));
                plan.spawn.push(ZygoteSpawn {
                    zygote: ZygoteId(n),
                    parent: (parent != ROOT).then_some(ZygoteId(parent)),
                    import: node.own.clone(),
                });
                cache.nodes[parent as usize].live_children += 1;
                parent = n;
            }
            fork = parent;
        }
        if fork != ROOT {
            cache.nodes[fork as usize].hits += 1;
            plan.fork = Some(ZygoteId(fork));
            plan.import = minus(packages, &cache.nodes[fork as usize].packages);
        } else {
            plan.import = packages.to_vec();
        }
        plan
    }

    /// Evicts zygotes of `worker`, leaves with the fewest hits per MB first, until `need_mb` is
    /// freed or none is left; returns them (slot, memory in MB).
    pub fn evict_for_memory(&mut self, worker: WorkerId, need_mb: u64) -> Vec<(ZygoteId, u64)> {
        let cache = &mut self.workers[worker.index()];
        let mut freed = 0;
        let mut out = Vec::new();
        while freed < need_mb {
            let Some(v) = cache.victim() else { break };
            let mb = cache.evict(v);
            freed += mb;
            out.push((ZygoteId(v), mb));
        }
        out
    }

    /// Destroys every zygote of `worker` (at the end of a run), children first.
    pub fn clear(&mut self, worker: WorkerId) -> Vec<(ZygoteId, u64)> {
        self.evict_for_memory(worker, u64::MAX)
    }
}

/// Memory of a zygote that imports `own` itself, given each package's import memory.
fn zygote_mb(base_mb: u64, own: &[PackageId], import_mb: &[f64]) -> u64 {
    let mb: f64 = own.iter().map(|&p| import_mb[p.index()]).sum();
    base_mb + mb.ceil() as u64
}

/// Among `nodes` whose zygotes are `live` with `live_children`, the leaf with the fewest hits per
/// MB (then the lowest slot) outside `protect`.
fn pick_victim(
    nodes: &[Node],
    live: &[bool],
    live_children: &[u32],
    protect: &[u32],
) -> Option<u32> {
    let mut best: Option<(u32, u64, u64)> = None;
    for (i, n) in nodes.iter().enumerate() {
        if !live[i] || live_children[i] > 0 || protect.contains(&(i as u32)) {
            continue;
        }
        // hits / mb < best_hits / best_mb, compared without division.
        let better = best.is_none_or(|(_, h, m)| {
            u128::from(n.hits) * u128::from(m.max(1))
                < u128::from(h) * u128::from(n.memory_mb.max(1))
        });
        if better {
            best = Some((i as u32, n.hits, n.memory_mb));
        }
    }
    best.map(|(i, _, _)| i)
}

impl WorkerCache {
    /// The live node with the most packages that are all in `packages`, the root if none.
    fn best_match(&self, packages: &[PackageId]) -> u32 {
        let mut best = ROOT;
        let mut stack = vec![ROOT];
        while let Some(n) = stack.pop() {
            let node = &self.nodes[n as usize];
            if node.packages.len() > self.nodes[best as usize].packages.len() {
                best = n;
            }
            for &c in node.children.iter().rev() {
                let child = &self.nodes[c as usize];
                if child.live && subset(&child.packages, packages) {
                    stack.push(c);
                }
            }
        }
        best
    }

    /// Leaves to evict so that `need` more MB fit in the cache and in `free_mb` of the worker,
    /// keeping `keep` and its ancestors; `None` if that is impossible (nothing is evicted then).
    fn room_for(
        &mut self,
        need: u64,
        capacity: Option<u64>,
        free_mb: u64,
        keep: u32,
    ) -> Option<Vec<u32>> {
        let over = |used: u64, freed: u64| {
            capacity.is_some_and(|cap| used - freed + need > cap) || need > free_mb + freed
        };
        if !over(self.used_mb, 0) {
            return Some(Vec::new());
        }
        let mut protect = vec![keep];
        let mut n = keep;
        while let Some(p) = self.nodes[n as usize].parent {
            protect.push(p);
            n = p;
        }
        // Choose on copies of the liveness, so that nothing changes when room cannot be made.
        let mut live: Vec<bool> = self.nodes.iter().map(|n| n.live).collect();
        let mut live_children: Vec<u32> = self.nodes.iter().map(|n| n.live_children).collect();
        let mut victims = Vec::new();
        let mut freed = 0;
        while over(self.used_mb, freed) {
            let v = pick_victim(&self.nodes, &live, &live_children, &protect)?;
            live[v as usize] = false;
            if let Some(p) = self.nodes[v as usize].parent {
                live_children[p as usize] -= 1;
            }
            freed += self.nodes[v as usize].memory_mb;
            victims.push(v);
        }
        Some(victims)
    }

    /// The leaf with the fewest hits per MB (then the lowest slot).
    fn victim(&self) -> Option<u32> {
        let live: Vec<bool> = self.nodes.iter().map(|n| n.live).collect();
        let live_children: Vec<u32> = self.nodes.iter().map(|n| n.live_children).collect();
        pick_victim(&self.nodes, &live, &live_children, &[])
    }

    /// Destroys the zygote of node `n`, returning its memory; a dynamic node leaves the tree.
    fn evict(&mut self, n: u32) -> u64 {
        let node = &mut self.nodes[n as usize];
        debug_assert!(node.live && node.live_children == 0);
        node.live = false;
        let mb = node.memory_mb;
        let parent = node.parent;
        self.used_mb -= mb;
        if let Some(p) = parent {
            let p = &mut self.nodes[p as usize];
            p.live_children -= 1;
            if self.dynamic {
                p.children.retain(|&c| c != n);
            }
        }
        if self.dynamic {
            self.nodes[n as usize] = Node::default();
            self.free.push(n);
        }
        mb
    }

    /// Adds a dynamic node under `parent` (not yet live), reusing a free slot.
    fn grow(&mut self, parent: u32, packages: Vec<PackageId>, own: Vec<PackageId>, mb: u64) -> u32 {
        let node = Node {
            parent: Some(parent),
            packages,
            own,
            memory_mb: mb,
            ..Node::default()
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.nodes[s as usize] = node;
                s
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.nodes[parent as usize].children.push(slot);
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use workloads::packages::{Package, PackageCatalog};

    fn catalog(import_mb: &[f64], functions: &[&[u32]]) -> Catalog {
        let mut c = Catalog {
            packages: PackageCatalog {
                packages: import_mb
                    .iter()
                    .enumerate()
                    .map(|(i, &mb)| Package {
                        name: format!("p{i}"),
                        version: "1".into(),
                        deps: vec![],
                        install_ms: 0.0,
                        disk_bytes: 0,
                        import_ms: 0.0,
                        import_mb: mb,
                        popularity: 1.0,
                    })
                    .collect(),
            },
            ..Catalog::default()
        };
        for (i, set) in functions.iter().enumerate() {
            c.functions.push(workloads::Function {
                name: format!("f{i}"),
                app: workloads::AppId(0),
                memory_mb: 128,
                concurrency: None,
                init: None,
                packages: set.iter().map(|&p| PackageId(p)).collect(),
            });
        }
        c
    }

    #[test]
    fn a_zygote_with_live_children_is_kept_even_with_the_fewest_hits_per_mb() {
        // root -> {P0} (10 + 90 MB) -> {P0, P1} (10 MB). f0 needs P0 and P1 and starts three
        // times: {P0} has 1 hit (its child's fork) per 100 MB, {P0, P1} 3 per 10 MB. f1 needs P2
        // (10 MB) with 115 MB of room: {P0} has the fewest hits per MB but a live child, so the
        // leaf {P0, P1} goes.
        let c = catalog(&[90.0, 0.0, 0.0], &[&[0, 1], &[2]]);
        let tree = ZygoteTree::from_json_str(
            r#"{"children": [{"packages": ["p0"], "children": [{"packages": ["p1"]}]},
                             {"packages": ["p2"]}]}"#,
            "tree",
            &c.packages,
        )
        .unwrap();
        let config = ImportCacheConfig {
            mode: TreeMode::Static(Arc::new(tree)),
            capacity_mb: Some(115),
            base_mb: 10,
        };
        let mut caches = ImportCaches::new(config, 1, &c);
        let w = WorkerId(0);
        let (f0, f1) = (FunctionId(0), FunctionId(1));
        let need = |f: FunctionId| c.functions[f.index()].packages.clone();
        let first = caches.plan(w, f0, &need(f0), 1000);
        assert_eq!(first.created, [(1, 100), (2, 10)]);
        assert_eq!(first.fork, Some(ZygoteId(2)));
        for _ in 0..2 {
            let again = caches.plan(w, f0, &need(f0), 1000);
            assert_eq!(
                (again.fork, again.hits, again.spawn.len()),
                (Some(ZygoteId(2)), 2, 0)
            );
        }
        let other = caches.plan(w, f1, &need(f1), 1000);
        assert_eq!(other.evicted, [(ZygoteId(2), 10)]);
        assert_eq!(other.fork, Some(ZygoteId(3)));
        assert_eq!(caches.used_mb(w), 110);
        // With the worker's memory short, no zygote is made and nothing is evicted.
        let mut caches = ImportCaches::new(caches.config().clone(), 1, &c);
        let plan = caches.plan(w, f0, &need(f0), 50);
        assert_eq!((plan.fork, plan.created.len()), (None, 0));
        assert_eq!(plan.import, need(f0));
    }
}
