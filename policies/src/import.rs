//! Import caches: which zygotes each worker keeps (see [`sim::zygotes`] for the mechanism).
//!
//! In a scenario file, under `[packages]`:
//! - `import_cache = { kind = "none" }` (default): every new sandbox imports all its packages.
//! - `import_cache = { kind = "static-tree", tree = "tree.json" }`: OpenLambda's import cache with
//!   a tree in its JSON format (`{"packages": [...], "children": [...]}`); or, without `tree`,
//!   a tree of at most `nodes` zygotes generated from the functions' package sets (each new node
//!   is the child, of an existing node, that the most functions could fork from; nodes that fewer
//!   than `min_share` of the functions could use are not made). `capacity_mb` bounds each worker's
//!   zygote memory (default: unlimited).
//! - `import_cache = { kind = "dynamic", capacity_mb = 1024 }`: SOCK's tree, grown for the
//!   package sets cold starts need, within `capacity_mb` per worker.
//!
//! Both take `base_mb` (default 10), the memory of a zygote's runtime process before its own
//! imports: about the resident size of a bare Python interpreter. It may be at most a worker's
//! memory, where a zygote has to fit.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sim::zygotes::{ImportCacheConfig, TreeMode};
use workloads::zygote_tree::ZygoteTree;
use workloads::{Catalog, WorkloadError};

/// An import cache and its parameters, as a scenario gives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ImportCacheSpec {
    /// An empty struct variant, so that stray keys are refused.
    None {},
    StaticTree {
        /// OpenLambda's tree file; without it a tree is generated.
        #[serde(default)]
        tree: Option<PathBuf>,
        /// Zygotes of a generated tree, at most (default 32).
        #[serde(default)]
        nodes: Option<u32>,
        /// Share of the functions a generated node must serve, at least (default 0.01).
        #[serde(default)]
        min_share: Option<f64>,
        #[serde(default)]
        capacity_mb: Option<u64>,
        #[serde(default = "default_base_mb")]
        base_mb: u64,
    },
    Dynamic {
        #[serde(default = "default_capacity_mb")]
        capacity_mb: u64,
        #[serde(default = "default_base_mb")]
        base_mb: u64,
    },
}

impl Default for ImportCacheSpec {
    fn default() -> Self {
        ImportCacheSpec::None {}
    }
}

fn default_base_mb() -> u64 {
    10
}

fn default_capacity_mb() -> u64 {
    1024
}

const DEFAULT_NODES: u32 = 32;
const DEFAULT_MIN_SHARE: f64 = 0.01;

impl ImportCacheSpec {
    /// Checks the parameters; messages name the field (under `import_cache.`).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            ImportCacheSpec::None {} => Ok(()),
            ImportCacheSpec::StaticTree {
                tree,
                nodes,
                min_share,
                capacity_mb,
                ..
            } => {
                if tree.is_some() && (nodes.is_some() || min_share.is_some()) {
                    return Err(
                        "import_cache: give either tree (a file) or nodes and min_share (a generated tree), not both"
                            .into(),
                    );
                }
                if *nodes == Some(0) {
                    return Err(
                        "import_cache.nodes must be at least 1 (a tree without zygotes \
                         caches nothing), got 0"
                            .into(),
                    );
                }
                if let Some(s) = min_share
                    && !(0.0..=1.0).contains(s)
                {
                    return Err(format!(
                        "import_cache.min_share must be from 0 to 1, got {s}"
                    ));
                }
                if *capacity_mb == Some(0) {
                    return Err("import_cache.capacity_mb must be at least 1, got 0".into());
                }
                Ok(())
            }
            ImportCacheSpec::Dynamic { capacity_mb, .. } => {
                if *capacity_mb == 0 {
                    return Err("import_cache.capacity_mb must be at least 1, got 0".into());
                }
                Ok(())
            }
        }
    }

    /// [`ImportCacheSpec::validate`], and that a zygote's runtime (`base_mb`) fits in a worker of
    /// `worker_mb` MB: a bound generous for any real runtime that keeps a typo from sizing
    /// zygotes beyond any memory.
    pub fn validate_for(&self, worker_mb: u64) -> Result<(), String> {
        self.validate()?;
        match self {
            ImportCacheSpec::StaticTree { base_mb, .. }
            | ImportCacheSpec::Dynamic { base_mb, .. }
                if *base_mb > worker_mb =>
            {
                Err(format!(
                    "import_cache.base_mb must be at most the memory of a worker \
                     (cluster.memory_mb = {worker_mb}), got {base_mb}"
                ))
            }
            _ => Ok(()),
        }
    }

    /// The import cache for the functions of `catalog`: reads or generates the static tree.
    /// `None` for no import cache.
    pub fn build(&self, catalog: &Catalog) -> Result<Option<ImportCacheConfig>, WorkloadError> {
        Ok(match self {
            ImportCacheSpec::None {} => None,
            ImportCacheSpec::StaticTree {
                tree,
                nodes,
                min_share,
                capacity_mb,
                base_mb,
            } => {
                let tree = match tree {
                    Some(path) => ZygoteTree::read_json(path, &catalog.packages)?,
                    None => {
                        let sets: Vec<(&[workloads::packages::PackageId], f64)> = catalog
                            .functions
                            .iter()
                            .map(|f| (f.packages.as_slice(), 1.0))
                            .collect();
                        ZygoteTree::generate(
                            &sets,
                            &catalog.packages,
                            nodes.unwrap_or(DEFAULT_NODES) as usize,
                            min_share.unwrap_or(DEFAULT_MIN_SHARE),
                        )
                    }
                };
                Some(ImportCacheConfig {
                    mode: TreeMode::Static(Arc::new(tree)),
                    capacity_mb: *capacity_mb,
                    base_mb: *base_mb,
                })
            }
            ImportCacheSpec::Dynamic {
                capacity_mb,
                base_mb,
            } => Some(ImportCacheConfig {
                mode: TreeMode::Dynamic,
                capacity_mb: Some(*capacity_mb),
                base_mb: *base_mb,
            }),
        })
    }

    /// A short label, e.g. `dynamic(1024 MB)`.
    pub fn label(&self) -> String {
        match self {
            ImportCacheSpec::None {} => "none".into(),
            ImportCacheSpec::StaticTree {
                tree,
                nodes,
                capacity_mb,
                ..
            } => {
                let shape = match tree {
                    Some(path) => path.display().to_string(),
                    None => format!("generated, {} nodes", nodes.unwrap_or(DEFAULT_NODES)),
                };
                match capacity_mb {
                    Some(mb) => format!("static-tree({shape}, {mb} MB)"),
                    None => format!("static-tree({shape})"),
                }
            }
            ImportCacheSpec::Dynamic { capacity_mb, .. } => format!("dynamic({capacity_mb} MB)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dynamic(base_mb: u64) -> ImportCacheSpec {
        ImportCacheSpec::Dynamic {
            capacity_mb: 1024,
            base_mb,
        }
    }

    fn generated(nodes: Option<u32>, base_mb: u64) -> ImportCacheSpec {
        ImportCacheSpec::StaticTree {
            tree: None,
            nodes,
            min_share: None,
            capacity_mb: None,
            base_mb,
        }
    }

    #[test]
    fn a_generated_tree_has_a_node_and_a_runtime_fits_in_a_worker() {
        assert_eq!(
            generated(Some(0), 10).validate_for(8192),
            Err(
                "import_cache.nodes must be at least 1 (a tree without zygotes caches \
                 nothing), got 0"
                    .into()
            )
        );
        assert_eq!(generated(Some(1), 10).validate_for(8192), Ok(()));
        assert_eq!(generated(None, 10).validate_for(8192), Ok(()));
        for spec in [dynamic(1_000_000_000), generated(None, 1_000_000_000)] {
            assert_eq!(
                spec.validate_for(8192),
                Err(
                    "import_cache.base_mb must be at most the memory of a worker \
                     (cluster.memory_mb = 8192), got 1000000000"
                        .into()
                )
            );
        }
        assert_eq!(dynamic(8192).validate_for(8192), Ok(()));
        assert_eq!(dynamic(0).validate_for(8192), Ok(()));
        assert_eq!(ImportCacheSpec::default().validate_for(1), Ok(()));
    }
}
