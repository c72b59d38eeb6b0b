//! Pools of pre-created child groups, as OpenLambda keeps them.

use super::*;

/// A pool of pre-created child groups under one parent, as OpenLambda keeps: `take` returns a
/// ready group (creating one when the pool is empty, and reporting whether it was pooled),
/// `give_back` kills what is left in it and returns it to the pool, or removes it when the pool
/// already holds `capacity` groups. Members are named `<parent>/p<counter>`. Dropping the pool
/// leaves its groups in place; `drain` (or `remove_tree` on the parent) removes them.
pub struct Pool {
    fs: Arc<dyn CgroupFs>,
    parent: String,
    capacity: usize,
    free: Vec<String>,
    counter: u64,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("kind", &self.fs.kind())
            .field("parent", &self.parent)
            .field("capacity", &self.capacity)
            .field("free", &self.free)
            .finish()
    }
}

impl Pool {
    /// An empty pool of groups below `parent` holding at most `capacity` idle groups.
    pub fn new(fs: Arc<dyn CgroupFs>, parent: String, capacity: usize) -> Self {
        Pool {
            fs,
            parent,
            capacity,
            free: Vec::new(),
            counter: 0,
        }
    }

    /// A fresh member: the next `<parent>/p<counter>` that does not exist yet, created. The
    /// parent must exist: one that vanished is not made again (without the limits it had).
    fn create_member(&mut self) -> Result<String, CgroupError> {
        if !self.fs.exists(&self.parent) {
            return Err(CgroupError::Vanished(self.parent.clone()));
        }
        loop {
            let name = format!("{}/p{}", self.parent, self.counter);
            self.counter += 1;
            if !self.fs.exists(&name) {
                self.fs.create(&name)?;
                return Ok(name);
            }
        }
    }

    /// Creates groups until the pool holds `n` of them (at most `capacity`).
    pub fn fill(&mut self, n: usize) -> Result<(), CgroupError> {
        while self.free.len() < n.min(self.capacity) {
            let name = self.create_member()?;
            self.free.push(name);
        }
        Ok(())
    }

    /// A group with `limits` applied, and whether it came from the pool (`true`) or was created
    /// now (`false`). A group whose limits cannot be set is removed again.
    pub fn take(&mut self, limits: &Limits) -> Result<(String, bool), CgroupError> {
        let (group, pooled) = match self.free.pop() {
            Some(group) => (group, true),
            None => (self.create_member()?, false),
        };
        if let Err(e) = self.fs.set_limits(&group, limits) {
            let _ = self.fs.remove(&group);
            if !self.fs.exists(&self.parent) {
                return Err(CgroupError::Vanished(self.parent.clone()));
            }
            return Err(e);
        }
        Ok((group, pooled))
    }

    /// Kills every process left in `group` (and removes any child groups it grew), then pools
    /// it, or removes it when the pool is full. The caller must have reaped the processes it
    /// spawned into the group for the removal to succeed. A group that is not a member of this
    /// pool is a `Layout` error.
    pub fn give_back(&mut self, group: String) -> Result<(), CgroupError> {
        let prefix = format!("{}/p", self.parent);
        let member = group
            .strip_prefix(&prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !member {
            return Err(CgroupError::Layout(format!(
                "{group:?} is not a member of the pool under {:?}",
                self.parent
            )));
        }
        for child in self.fs.children(&group)? {
            remove_tree(self.fs.as_ref(), &format!("{group}/{child}"))?;
        }
        self.fs.kill_all(&group)?;
        if self.free.len() < self.capacity {
            self.free.push(group);
            Ok(())
        } else {
            self.fs.remove(&group)
        }
    }

    /// Removes every pooled group. Groups that cannot be removed stay pooled and the first error
    /// is returned.
    pub fn drain(&mut self) -> Result<(), CgroupError> {
        let mut first_error = None;
        let mut kept = Vec::new();
        for group in std::mem::take(&mut self.free) {
            if let Err(e) = self.fs.remove(&group) {
                kept.push(group);
                first_error.get_or_insert(e);
            }
        }
        self.free = kept;
        first_error.map_or(Ok(()), Err)
    }

    /// How many idle groups the pool holds.
    pub fn len(&self) -> usize {
        self.free.len()
    }

    /// Whether the pool holds no idle group.
    pub fn is_empty(&self) -> bool {
        self.free.is_empty()
    }
}
