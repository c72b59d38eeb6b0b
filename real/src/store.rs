//! The package store of the real mode: OpenLambda's package puller and install directories, made
//! synthetic.
//!
//! A [`Registry`] is a directory holding one tar archive per catalogue package,
//! `<name>==<version>.tar`. An archive holds `<key>/METADATA` (the package's name, version and
//! import costs as `key=value` lines) and data files `<key>/f0`, `<key>/f1`, ... of at most 1 MiB
//! each whose sizes add up to the package's `disk_bytes` times a `disk_scale` factor (so that a
//! host with little disk can run a big catalogue). Data bytes follow a cheap pattern seeded by the
//! package's index in the catalogue: not zeros, and every 4 KiB block of a package different from
//! the others, so that nothing is stored sparse or deduplicated.
//!
//! An [`InstallDir`] is a worker's install directory. [`InstallDir::install`] unpacks an archive
//! for real into `<dir>/<key>`: into a temporary directory first, marked complete with an empty
//! `.installed` file, then renamed into place, so the rename is the single step that makes a
//! package look installed. A crash leaves at worst a temporary directory, never a half-installed
//! package, and two installers racing for the same package both succeed with one copy installed.
//!
//! Sandboxes import a package with [`import`]: it reads every installed file, allocates the
//! package's import memory and writes to every page of it, and burns its import time as CPU time
//! of the calling thread ([`burn_cpu`]), so import costs are real costs on the host. The memory
//! stays allocated in an [`Imported`] as long as it lives, so a zygote that imports and then forks
//! hands its imports to its children.

use std::cell::RefCell;
use std::fs::{self, File};
use std::hint::black_box;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::time::{ClockId, clock_gettime};
use workloads::packages::{Package, PackageCatalog};

/// Largest data file of an archive, in bytes.
const FILE_BYTES: u64 = 1 << 20;
/// Name of the metadata file of a package.
const METADATA: &str = "METADATA";
/// Name of the empty file that marks a package directory as completely installed.
const MARKER: &str = ".installed";
/// Buffer size of archive writes.
const WRITE_BUFFER: usize = 4 << 20;
/// Buffer size of archive reads and of file copies.
const READ_BUFFER: usize = 1 << 20;
/// The byte that memory is filled with, so that every page of it is touched.
pub(crate) const FILL: u8 = 0x5a;

/// Distinguishes the temporary files and directories of one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// What can go wrong in the package store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An operation on a file or directory failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. `open archive`.
        op: &'static str,
        /// The file or directory it was done to.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// A package manager (pip) could not install a package; its words.
    #[error("{0}")]
    Installer(String),
    /// An archive holds something other than one package's files.
    #[error("unpack archive {}: {message}", path.display())]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A package whose key cannot name a file.
    #[error("store package {key:?} in {}: {message}", dir.display())]
    Key {
        /// The package's `name==version`.
        key: String,
        /// The directory it was to be stored in.
        dir: PathBuf,
        /// Why the key cannot be used.
        message: String,
    },
    /// A scale or cost that is negative or not finite.
    #[error("{op} {}: {name} is {value}, expected a finite number at least 0", path.display())]
    Parameter {
        /// What was being done.
        op: &'static str,
        /// The directory it was done to.
        path: PathBuf,
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// The memory of an import could not be allocated.
    #[error("import {}: cannot allocate {bytes} bytes", path.display())]
    Memory {
        /// The package directory being imported.
        path: PathBuf,
        /// The bytes asked for.
        bytes: u64,
    },
}

/// Wraps an I/O error with the operation and the path.
fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Checks that a scale or cost is finite and at least 0.
fn check_parameter(
    op: &'static str,
    path: &Path,
    name: &'static str,
    value: f64,
) -> Result<(), StoreError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(StoreError::Parameter {
            op,
            path: path.to_path_buf(),
            name,
            value,
        })
    }
}

/// The package's key, checked to be usable as one file name: not empty, no `/` or NUL, and not
/// starting with `.` (names starting with `.` are the store's own temporary files and markers).
fn file_key(package: &Package, dir: &Path) -> Result<String, StoreError> {
    let key = package.key();
    let problem = if key.starts_with('.') {
        Some("a key starting with '.' is reserved for the store's own files")
    } else if key.contains('/') || key.contains('\0') {
        Some("a key cannot hold '/' or NUL")
    } else {
        None
    };
    match problem {
        Some(message) => Err(StoreError::Key {
            key,
            dir: dir.to_path_buf(),
            message: message.to_string(),
        }),
        None => Ok(key),
    }
}

/// A name for a temporary file or directory in `dir`, unique among this host's processes.
fn temp_path(dir: &Path, prefix: &str, key: &str) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{prefix}{key}-{}-{n}", std::process::id()))
}

/// The sizes of a package's data files: 1 MiB each but the last, at least one file.
fn file_sizes(total: u64) -> Vec<u64> {
    let n = total.div_ceil(FILE_BYTES).max(1);
    (0..n)
        .map(|i| (total - i * FILE_BYTES).min(FILE_BYTES))
        .collect()
}

/// The contents of a package's `METADATA` file.
fn metadata(package: &Package) -> String {
    format!(
        "name={}\nversion={}\nimport_ms={}\nimport_mb={}\n",
        package.name, package.version, package.import_ms, package.import_mb
    )
}

/// Size of the blocks that [`stamp_blocks`] makes distinct: a page and a file system block.
const BLOCK: usize = 4096;

/// The pattern seed of package `index`.
fn pattern_seed(index: usize) -> u64 {
    (index as u64 + 1).wrapping_mul(0xd1b5_4a32_d192_ed03)
}

/// Fills `buf` with the base pattern of the package whose seed is `seed`.
fn fill_pattern(buf: &mut [u8], seed: u64) {
    let mut chunks = buf.chunks_exact_mut(8);
    let mut k = 0;
    for chunk in &mut chunks {
        chunk.copy_from_slice(&pattern_word(seed, k).to_le_bytes());
        k += 1;
    }
    let tail = chunks.into_remainder();
    let len = tail.len();
    tail.copy_from_slice(&pattern_word(seed, k).to_le_bytes()[..len]);
}

/// Makes every block of `buf` (data file `file` of the package whose seed is `seed`) different
/// from every other block of the package by overwriting its first word (or less, for a short last
/// block): rewriting 8 bytes a block is much cheaper than filling the whole file.
fn stamp_blocks(buf: &mut [u8], seed: u64, file: usize) {
    let file_seed = seed.rotate_left(29) ^ (file as u64 + 1).wrapping_mul(0xa076_1d64_78bd_642f);
    for (b, block) in buf.chunks_mut(BLOCK).enumerate() {
        let word = pattern_word(file_seed, b as u64).to_le_bytes();
        let len = block.len().min(8);
        block[..len].copy_from_slice(&word[..len]);
    }
}

/// Word `k` of the pattern seeded by `seed`.
fn pattern_word(seed: u64, k: u64) -> u64 {
    let x = (k ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^ (x >> 32)
}

/// A registry of synthetic package archives.
#[derive(Clone, Debug)]
pub struct Registry {
    dir: PathBuf,
}

impl Registry {
    /// Creates (or reuses, when an archive of the right size is already there) one archive per
    /// package: `<dir>/<name>==<version>.tar`, holding `<key>/METADATA` (name, version, import_ms
    /// and import_mb as `key=value` lines) and files `<key>/f<i>` of at most 1 MiB each whose
    /// sizes add up to round(disk_bytes * disk_scale) (at least one file, possibly empty), with
    /// content deterministic per package index. An existing archive is reused when it lists
    /// exactly the expected entries with the expected sizes and metadata; otherwise it is
    /// rewritten. Archives are written to a temporary file and renamed into place, so an archive
    /// under its final name is always complete. Creates `dir` if needed.
    pub fn create(
        dir: &Path,
        catalog: &PackageCatalog,
        disk_scale: f64,
    ) -> Result<Self, StoreError> {
        check_parameter("create registry", dir, "disk_scale", disk_scale)?;
        fs::create_dir_all(dir).map_err(io_err("create registry directory", dir))?;
        let registry = Registry {
            dir: dir.to_path_buf(),
        };
        let mut buf = Vec::new();
        for (index, package) in catalog.packages.iter().enumerate() {
            let key = file_key(package, dir)?;
            let total = (package.disk_bytes as f64 * disk_scale).round() as u64;
            let sizes = file_sizes(total);
            let meta = metadata(package);
            let path = registry.archive(package);
            if archive_matches(&path, &key, &sizes, meta.as_bytes()) {
                continue;
            }
            let temp = temp_path(dir, ".", &format!("{key}.tar.tmp"));
            let written = write_archive(&temp, &key, index, &sizes, meta.as_bytes(), &mut buf)
                .and_then(|()| {
                    fs::rename(&temp, &path).map_err(io_err("rename archive into", &path))
                });
            if let Err(e) = written {
                let _ = fs::remove_file(&temp);
                return Err(e);
            }
        }
        Ok(registry)
    }

    /// A registry already created in `dir`; nothing is checked.
    pub fn open(dir: &Path) -> Self {
        Registry {
            dir: dir.to_path_buf(),
        }
    }

    /// The registry's directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The archive of `package`: `<dir>/<name>==<version>.tar`.
    pub fn archive(&self, package: &Package) -> PathBuf {
        self.dir.join(format!("{}.tar", package.key()))
    }
}

/// Writes the archive of package `index` to `path`.
fn write_archive(
    path: &Path,
    key: &str,
    index: usize,
    sizes: &[u64],
    meta: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let file = File::create(path).map_err(io_err("create archive", path))?;
    let mut builder = tar::Builder::new(BufWriter::with_capacity(WRITE_BUFFER, file));
    let write = io_err("write archive", path);
    let result = (|| {
        append_file(&mut builder, &Path::new(key).join(METADATA), meta)?;
        // Sizes are at most FILE_BYTES, so they fit in memory. Each file is the package's base
        // pattern with its blocks stamped: the stamps of a file overwrite all those of the
        // previous one, which is at least as long.
        let seed = pattern_seed(index);
        let longest = sizes.iter().copied().max().unwrap_or(0) as usize;
        buf.resize(longest, 0);
        fill_pattern(buf, seed);
        for (i, &size) in sizes.iter().enumerate() {
            let data = &mut buf[..size as usize];
            stamp_blocks(data, seed, i);
            append_file(&mut builder, &Path::new(key).join(format!("f{i}")), data)?;
        }
        builder.into_inner()?.flush()
    })();
    result.map_err(write)
}

/// Appends a regular file holding `data` at `path` of the archive.
fn append_file<W: Write>(
    builder: &mut tar::Builder<W>,
    path: &Path,
    data: &[u8],
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    builder.append_data(&mut header, path, data)
}

/// Whether `path` is an archive of exactly the expected entries: `METADATA` with contents `meta`,
/// then the data files with `sizes`. Any error means no.
fn archive_matches(path: &Path, key: &str, sizes: &[u64], meta: &[u8]) -> bool {
    let check = || -> io::Result<bool> {
        let mut archive = tar::Archive::new(BufReader::new(File::open(path)?));
        let mut entries = archive.entries_with_seek()?;
        let Some(first) = entries.next() else {
            return Ok(false);
        };
        let mut first = first?;
        if first.path()? != Path::new(key).join(METADATA) || first.size() != meta.len() as u64 {
            return Ok(false);
        }
        let mut contents = Vec::with_capacity(meta.len());
        first.read_to_end(&mut contents)?;
        if contents != meta {
            return Ok(false);
        }
        for (i, &size) in sizes.iter().enumerate() {
            let Some(entry) = entries.next() else {
                return Ok(false);
            };
            let entry = entry?;
            if entry.path()? != Path::new(key).join(format!("f{i}")) || entry.size() != size {
                return Ok(false);
            }
        }
        Ok(entries.next().is_none())
    };
    check().unwrap_or(false)
}

/// A worker's install directory.
#[derive(Debug)]
pub struct InstallDir {
    dir: PathBuf,
}

impl InstallDir {
    /// An install directory at `dir`, created (with its parents) if it does not exist.
    pub fn new(dir: PathBuf) -> Result<Self, StoreError> {
        fs::create_dir_all(&dir).map_err(io_err("create install directory", &dir))?;
        Ok(InstallDir { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Where an installed package's files are: `<dir>/<key>`.
    pub fn package_dir(&self, package: &Package) -> PathBuf {
        self.dir.join(package.key())
    }

    /// Whether `package` is completely installed: its directory and the `.installed` marker in it
    /// exist.
    pub fn is_installed(&self, package: &Package) -> bool {
        let dir = self.package_dir(package);
        dir.is_dir() && dir.join(MARKER).is_file()
    }

    /// Installs `package` for real: unpacks its archive from `registry` into a temporary directory
    /// `<dir>/.tmp-<key>-<pid>-<n>`, writes the `.installed` marker into it and renames it to
    /// `<dir>/<key>`. The rename is what makes the package installed, so a crash never leaves a
    /// half-installed package that looks installed. When the package is already installed, or
    /// another installer wins a race for it (its rename lands first), this removes its own
    /// temporary directory and succeeds. A leftover package directory without the marker (from
    /// an interrupted [`InstallDir::uninstall`]) is replaced.
    ///
    /// Returns the bytes of the files this call left installed (the data files and `METADATA`),
    /// 0 when the package was already installed.
    pub fn install(&self, registry: &Registry, package: &Package) -> Result<u64, StoreError> {
        self.install_with(package, |temp, key| {
            let archive = registry.archive(package);
            let source = File::open(&archive).map_err(io_err("open archive", &archive))?;
            unpack(source, &archive, key, temp)
        })
    }

    /// Installs `package` as [`InstallDir::install`] does, with `fill` putting its files into
    /// the temporary directory it is given (with the package's key) and returning their bytes:
    /// the same markers, renames and races, whatever the files come from (an archive, pip).
    pub fn install_with(
        &self,
        package: &Package,
        fill: impl FnOnce(&Path, &str) -> Result<u64, StoreError>,
    ) -> Result<u64, StoreError> {
        let key = file_key(package, &self.dir)?;
        if self.is_installed(package) {
            return Ok(0);
        }
        let temp = temp_path(&self.dir, ".tmp-", &key);
        fs::create_dir(&temp).map_err(io_err("create temporary install directory", &temp))?;
        let result = fill(&temp, &key).and_then(|bytes| {
            let marker = temp.join(MARKER);
            File::create(&marker).map_err(io_err("create install marker", &marker))?;
            Ok((bytes, self.publish(&temp, package, &key)?))
        });
        match result {
            Ok((bytes, true)) => Ok(bytes),
            Ok((_, false)) => {
                fs::remove_dir_all(&temp)
                    .map_err(io_err("remove temporary install directory", &temp))?;
                Ok(0)
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&temp);
                Err(e)
            }
        }
    }

    /// Renames the complete temporary directory `temp` to the package's directory. Returns whether
    /// this call installed it (false: another installer did).
    fn publish(&self, temp: &Path, package: &Package, key: &str) -> Result<bool, StoreError> {
        let dest = self.dir.join(key);
        // Two tries: the second after moving away a stale directory without the marker.
        for attempt in 0..2 {
            let error = match fs::rename(temp, &dest) {
                Ok(()) => return Ok(true),
                Err(e) => e,
            };
            if self.is_installed(package) {
                return Ok(false);
            }
            if attempt == 1 || fs::symlink_metadata(&dest).is_err() {
                return Err(StoreError::Io {
                    op: "rename package directory into",
                    path: dest,
                    source: error,
                });
            }
            // A stale directory: move it away atomically, then delete it.
            let stale = temp_path(&self.dir, ".tmp-", key);
            match fs::rename(&dest, &stale) {
                Ok(()) => fs::remove_dir_all(&stale)
                    .map_err(io_err("remove stale package directory", &stale))?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StoreError::Io {
                        op: "move stale package directory",
                        path: dest,
                        source: e,
                    });
                }
            }
        }
        Ok(false)
    }

    /// Removes an installed package: renames its directory away (so it stops looking installed at
    /// once), then deletes it. Not installed is fine.
    pub fn uninstall(&self, package: &Package) -> Result<(), StoreError> {
        let key = file_key(package, &self.dir)?;
        let dest = self.dir.join(&key);
        let trash = temp_path(&self.dir, ".tmp-", &key);
        match fs::rename(&dest, &trash) {
            Ok(()) => {
                fs::remove_dir_all(&trash).map_err(io_err("remove package directory", &trash))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Io {
                op: "move package directory away",
                path: dest,
                source: e,
            }),
        }
    }

    /// Removes the directory and everything in it.
    pub fn remove(self) -> Result<(), StoreError> {
        match fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StoreError::Io {
                op: "remove install directory",
                path: self.dir,
                source: e,
            }),
            _ => Ok(()),
        }
    }
}

/// Unpacks the archive `source` (at `archive`) of package `key` into the directory `dest`, which
/// gets the files that the archive holds under `<key>/`. Returns the bytes written.
fn unpack(source: File, archive: &Path, key: &str, dest: &Path) -> Result<u64, StoreError> {
    let bad = |message: String| StoreError::Archive {
        path: archive.to_path_buf(),
        message,
    };
    let mut tar = tar::Archive::new(BufReader::with_capacity(READ_BUFFER, source));
    let entries = tar.entries().map_err(io_err("read archive", archive))?;
    let mut buf = vec![0u8; READ_BUFFER];
    let mut total = 0;
    for entry in entries {
        let mut entry = entry.map_err(io_err("read archive", archive))?;
        let path = entry
            .path()
            .map_err(io_err("read archive", archive))?
            .into_owned();
        let mut components = path.components();
        let (Some(Component::Normal(top)), name, None) =
            (components.next(), components.next(), components.next())
        else {
            return Err(bad(format!("entry {} is not <key>/<file>", path.display())));
        };
        if top != key {
            return Err(bad(format!("entry {} is not under {key}/", path.display())));
        }
        let kind = entry.header().entry_type();
        let name = match name {
            None if kind.is_dir() => continue,
            Some(Component::Normal(name))
                if name != MARKER && (kind.is_file() || kind == tar::EntryType::Continuous) =>
            {
                name
            }
            _ => {
                return Err(bad(format!(
                    "entry {} is not a package file",
                    path.display()
                )));
            }
        };
        let target = dest.join(name);
        let mut file =
            File::create_new(&target).map_err(io_err("create installed file", &target))?;
        let size = entry.size();
        let mut copied = 0;
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("read archive", archive)(e)),
            };
            file.write_all(&buf[..n])
                .map_err(io_err("write installed file", &target))?;
            copied += n as u64;
        }
        if copied != size {
            return Err(bad(format!(
                "entry {} holds {copied} of its {size} bytes (truncated archive)",
                path.display()
            )));
        }
        total += copied;
    }
    Ok(total)
}

/// What importing packages left in this process: their memory stays allocated (and touched) while
/// this lives, so a process that forks keeps it, as a zygote's imports are inherited.
#[derive(Debug, Default)]
pub struct Imported {
    memory: Vec<Vec<u8>>,
    /// Bytes read from installed files, over all imports.
    pub bytes_read: u64,
    /// Bytes of memory allocated and touched, over all imports.
    pub memory_bytes: u64,
}

impl Imported {
    /// Nothing imported yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of imports.
    pub fn len(&self) -> usize {
        self.memory.len()
    }

    /// Whether nothing was imported.
    pub fn is_empty(&self) -> bool {
        self.memory.is_empty()
    }
}

thread_local! {
    /// The read buffer of [`import`], kept so that imports do not map and fault in a new one.
    static IMPORT_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Imports one installed package: reads every file under `dir` (recursively, in sorted order,
/// checksumming the bytes so the reads cannot be optimised away; symbolic links to directories
/// are not followed), allocates round(import_mb * memory_scale * 2^20) bytes and writes to every
/// page, and burns CPU for `import_ms * cpu_scale` milliseconds of this thread's CPU time (see
/// [`burn_cpu`]). Adds to `imported`, which keeps the memory.
pub fn import(
    dir: &Path,
    import_mb: f64,
    import_ms: f64,
    memory_scale: f64,
    cpu_scale: f64,
    imported: &mut Imported,
) -> Result<(), StoreError> {
    for (name, value) in [
        ("import_mb", import_mb),
        ("import_ms", import_ms),
        ("memory_scale", memory_scale),
        ("cpu_scale", cpu_scale),
    ] {
        check_parameter("import", dir, name, value)?;
    }
    let (bytes_read, checksum) = IMPORT_BUFFER.with(|cell| {
        let mut buf = cell.borrow_mut();
        if buf.len() < READ_BUFFER {
            buf.resize(READ_BUFFER, 0);
        }
        let mut checksum = 0u64;
        read_tree(dir, &mut buf, &mut checksum).map(|bytes| (bytes, checksum))
    })?;
    black_box(checksum);
    let bytes = (import_mb * memory_scale * (1u64 << 20) as f64).round() as u64;
    let memory = try_touch_memory(bytes).ok_or_else(|| StoreError::Memory {
        path: dir.to_path_buf(),
        bytes,
    })?;
    burn_cpu((import_ms * cpu_scale * 1000.0).round() as u64);
    imported.memory.push(memory);
    imported.bytes_read += bytes_read;
    imported.memory_bytes += bytes;
    Ok(())
}

/// Reads every file under `dir` in sorted order, adding its bytes to `checksum`. Returns the
/// bytes read.
fn read_tree(dir: &Path, buf: &mut [u8], checksum: &mut u64) -> Result<u64, StoreError> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("list package directory", dir))? {
        let entry = entry.map_err(io_err("list package directory", dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io_err("inspect", &path))?;
        entries.push((entry.file_name(), path, kind));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut total = 0;
    for (_, path, kind) in entries {
        if kind.is_dir() {
            total += read_tree(&path, buf, checksum)?;
        } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
            total += read_file(&path, buf, checksum)?;
        }
    }
    Ok(total)
}

/// Reads the file at `path` through `buf`, adding its bytes to `checksum`. Returns the bytes read.
fn read_file(path: &Path, buf: &mut [u8], checksum: &mut u64) -> Result<u64, StoreError> {
    let mut file = File::open(path).map_err(io_err("open installed file", path))?;
    let mut total = 0;
    loop {
        let n = match file.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err("read installed file", path)(e)),
        };
        *checksum = checksum.wrapping_add(sum_bytes(&buf[..n]));
        total += n as u64;
    }
}

/// A cheap checksum of `bytes`: the wrapping sum of the first word of every 64-byte cache line
/// (and of the bytes of a short last line), so that every line is loaded from memory.
fn sum_bytes(bytes: &[u8]) -> u64 {
    let mut lines = bytes.chunks_exact(64);
    let mut sum = 0u64;
    for line in &mut lines {
        let mut word = [0u8; 8];
        word.copy_from_slice(&line[..8]);
        sum = sum.wrapping_add(u64::from_le_bytes(word));
    }
    for &b in lines.remainder() {
        sum = sum.wrapping_add(u64::from(b));
    }
    sum
}

/// This thread's CPU time, or `None` if the clock cannot be read.
fn thread_cpu_time() -> Option<Duration> {
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .ok()
        .map(Duration::from)
}

/// A few microseconds of arithmetic that cannot be optimised away.
fn spin(state: &mut u64) {
    for _ in 0..1024 {
        *state = black_box(
            state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407),
        );
    }
}

/// Burns `micros` µs of this thread's CPU time (also used for busy invocations): a busy loop that
/// checks `CLOCK_THREAD_CPUTIME_ID`, so a thread that is descheduled still does the full work. It
/// never stops early; it overshoots by one round of arithmetic (a few µs) at most. Should the
/// clock be unreadable, it falls back to wall time.
///
/// Reading the thread's CPU clock is a system call (no vDSO), so the loop reads it rarely: each
/// time it spins for half of what is left, at the rate it has measured so far, capped at 1 ms of
/// spinning, so a burn of `t` reads the clock about log2(t / 2 µs) + t / 1 ms times.
pub fn burn_cpu(micros: u64) {
    if micros == 0 {
        return;
    }
    let target = Duration::from_micros(micros);
    let mut state = micros;
    let mut done = Duration::ZERO;
    if let Some(start) = thread_cpu_time() {
        let mut rounds: u64 = 0;
        let mut next: u64 = 1;
        loop {
            for _ in 0..next {
                spin(&mut state);
            }
            rounds += next;
            match thread_cpu_time() {
                Some(now) => {
                    done = now.saturating_sub(start);
                    if done >= target {
                        black_box(state);
                        return;
                    }
                    let per_round = (done.as_nanos() / u128::from(rounds)).max(1);
                    let left = (target - done).as_nanos();
                    let cap = Duration::from_millis(1).as_nanos();
                    next = u64::try_from((left / 2).min(cap) / per_round)
                        .unwrap_or(1)
                        .max(1);
                }
                None => break,
            }
        }
    }
    let rest = target.saturating_sub(done);
    let start = Instant::now();
    while start.elapsed() < rest {
        spin(&mut state);
    }
    black_box(state);
}

/// `bytes` of memory, filled, or `None` when the memory cannot be allocated.
fn try_touch_memory(bytes: u64) -> Option<Vec<u8>> {
    let n = usize::try_from(bytes).ok()?;
    let mut memory = Vec::new();
    memory.try_reserve_exact(n).ok()?;
    // Whole-slice copies, which are memory copies even in unoptimised builds.
    let chunk = [FILL; BLOCK];
    while memory.len() < n {
        let len = (n - memory.len()).min(BLOCK);
        memory.extend_from_slice(&chunk[..len]);
    }
    Some(memory)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;
    use crate::testing::TempDir;

    fn package(name: &str, disk_bytes: u64, import_ms: f64, import_mb: f64) -> Package {
        Package {
            name: name.to_string(),
            version: "1.0".to_string(),
            deps: Vec::new(),
            install_ms: 500.0,
            disk_bytes,
            import_ms,
            import_mb,
            popularity: 1.0,
        }
    }

    /// Sizes 0, 1.5 MiB and 3 MiB + 7 bytes.
    fn catalog() -> PackageCatalog {
        PackageCatalog {
            packages: vec![
                package("empty", 0, 0.0, 0.0),
                package("mid", 3 << 19, 2.0, 1.5),
                package("big", (3 << 20) + 7, 5.0, 0.25),
            ],
        }
    }

    /// Total size of the files `f<i>` in `dir`, and their number.
    fn data_files(dir: &Path) -> (u64, usize) {
        let mut total = 0;
        let mut count = 0;
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name().to_string_lossy().starts_with('f') {
                let len = entry.metadata().unwrap().len();
                assert!(len <= FILE_BYTES);
                total += len;
                count += 1;
            }
        }
        (total, count)
    }

    #[test]
    fn registry_writes_one_archive_per_package_and_reuses_it() {
        let tmp = TempDir::new("registry");
        let catalog = catalog();
        let registry = Registry::create(&tmp.0.join("registry"), &catalog, 1.0).unwrap();
        for p in &catalog.packages {
            let archive = registry.archive(p);
            assert_eq!(
                archive,
                tmp.0.join("registry").join(format!("{}.tar", p.key()))
            );
            assert!(archive.is_file(), "{}", archive.display());
        }
        // Only the archives are left, no temporary files.
        assert_eq!(fs::read_dir(registry.path()).unwrap().count(), 3);
        let big = registry.archive(&catalog.packages[2]);
        let inode = fs::metadata(&big).unwrap().ino();
        // The same catalogue reuses every archive; a different scale rewrites them.
        Registry::create(registry.path(), &catalog, 1.0).unwrap();
        assert_eq!(fs::metadata(&big).unwrap().ino(), inode);
        let half = Registry::create(registry.path(), &catalog, 0.5).unwrap();
        let install = InstallDir::new(tmp.0.join("install")).unwrap();
        install.install(&half, &catalog.packages[2]).unwrap();
        let dir = install.package_dir(&catalog.packages[2]);
        assert_eq!(
            data_files(&dir),
            ((((3 << 20) + 7) as f64 * 0.5).round() as u64, 2)
        );
    }

    #[test]
    fn registry_rejects_bad_scales_and_keys() {
        let tmp = TempDir::new("bad");
        let e = Registry::create(&tmp.0, &catalog(), -1.0).unwrap_err();
        assert!(e.to_string().contains("disk_scale"), "{e}");
        let bad = PackageCatalog {
            packages: vec![package("a/b", 10, 0.0, 0.0)],
        };
        let e = Registry::create(&tmp.0, &bad, 1.0).unwrap_err();
        assert!(e.to_string().contains("a/b==1.0"), "{e}");
    }

    #[test]
    fn install_unpacks_exactly_the_package_bytes() {
        let tmp = TempDir::new("install");
        let catalog = catalog();
        let registry = Registry::create(&tmp.0.join("registry"), &catalog, 1.0).unwrap();
        let install = InstallDir::new(tmp.0.join("workers").join("w0")).unwrap();
        for (p, files) in catalog.packages.iter().zip([1, 2, 4]) {
            assert!(!install.is_installed(p));
            let written = install.install(&registry, p).unwrap();
            assert!(install.is_installed(p));
            let dir = install.package_dir(p);
            assert_eq!(dir, install.path().join(p.key()));
            assert_eq!(data_files(&dir), (p.disk_bytes, files));
            let meta = fs::read_to_string(dir.join(METADATA)).unwrap();
            assert_eq!(meta, metadata(p));
            assert!(meta.contains(&format!("import_mb={}\n", p.import_mb)));
            assert_eq!(written, p.disk_bytes + meta.len() as u64);
            // Installing again is fine and writes nothing.
            assert_eq!(install.install(&registry, p).unwrap(), 0);
        }
        // Data is a pattern, not zeros, and differs between files and packages.
        let mid = fs::read(install.package_dir(&catalog.packages[1]).join("f0")).unwrap();
        let mid1 = fs::read(install.package_dir(&catalog.packages[1]).join("f1")).unwrap();
        let big = fs::read(install.package_dir(&catalog.packages[2]).join("f0")).unwrap();
        assert!(mid.iter().filter(|&&b| b == 0).count() < mid.len() / 100);
        assert_ne!(mid[..4096], mid1[..4096]);
        assert_ne!(mid[..4096], big[..4096]);
        // No temporary directory is left.
        let names: Vec<_> = fs::read_dir(install.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");

        let p = &catalog.packages[2];
        install.uninstall(p).unwrap();
        assert!(!install.is_installed(p));
        assert!(!install.package_dir(p).exists());
        install.uninstall(p).unwrap();
        assert!(install.install(&registry, p).unwrap() > 0);
        assert!(install.is_installed(p));

        let path = install.path().to_path_buf();
        install.remove().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn install_replaces_a_directory_without_marker() {
        let tmp = TempDir::new("stale");
        let catalog = catalog();
        let registry = Registry::create(&tmp.0.join("registry"), &catalog, 1.0).unwrap();
        let install = InstallDir::new(tmp.0.join("install")).unwrap();
        let p = &catalog.packages[1];
        let dir = install.package_dir(p);
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("f0"), b"partial").unwrap();
        assert!(!install.is_installed(p));
        install.install(&registry, p).unwrap();
        assert!(install.is_installed(p));
        assert_eq!(data_files(&dir), (p.disk_bytes, 2));
    }

    #[test]
    fn missing_archive_is_an_error_naming_it() {
        let tmp = TempDir::new("missing");
        let registry = Registry::open(&tmp.0.join("nowhere"));
        let install = InstallDir::new(tmp.0.join("install")).unwrap();
        let p = &catalog().packages[1];
        let e = install.install(&registry, p).unwrap_err();
        let archive = registry.archive(p);
        assert!(
            e.to_string().contains(&archive.display().to_string()),
            "{e}"
        );
        assert!(e.to_string().contains("open archive"), "{e}");
        assert!(!install.is_installed(p));
        assert_eq!(fs::read_dir(install.path()).unwrap().count(), 0);
    }

    #[test]
    fn import_reads_files_and_keeps_memory() {
        let tmp = TempDir::new("import");
        let catalog = catalog();
        let registry = Registry::create(&tmp.0.join("registry"), &catalog, 1.0).unwrap();
        let install = InstallDir::new(tmp.0.join("install")).unwrap();
        let mut imported = Imported::new();
        assert!(imported.is_empty());
        let p = &catalog.packages[2];
        let written = install.install(&registry, p).unwrap();
        import(
            &install.package_dir(p),
            p.import_mb,
            p.import_ms,
            2.0,
            1.0,
            &mut imported,
        )
        .unwrap();
        assert_eq!(imported.len(), 1);
        assert_eq!(imported.bytes_read, written);
        assert!(imported.bytes_read > p.disk_bytes);
        assert_eq!(imported.memory_bytes, 1 << 19);
        assert!(imported.memory[0].iter().all(|&b| b == FILL));

        let e = import(&tmp.0.join("absent"), 1.0, 1.0, 1.0, 1.0, &mut imported).unwrap_err();
        assert!(e.to_string().contains("absent"), "{e}");
        let e = import(
            &install.package_dir(p),
            f64::NAN,
            1.0,
            1.0,
            1.0,
            &mut imported,
        )
        .unwrap_err();
        assert!(e.to_string().contains("import_mb"), "{e}");
        assert_eq!(imported.len(), 1);
    }

    #[test]
    fn burn_cpu_burns_thread_cpu_time() {
        let start = thread_cpu_time().unwrap();
        burn_cpu(20_000);
        let spent = thread_cpu_time().unwrap() - start;
        assert!(spent >= Duration::from_millis(20), "{spent:?}");
        // The clock is read rarely, but each round of spinning is a few µs: no long overshoot.
        assert!(spent < Duration::from_millis(30), "{spent:?}");
    }

    #[test]
    fn touch_memory_allocates_the_bytes() {
        assert_eq!(try_touch_memory(0).unwrap().len(), 0);
        let memory = try_touch_memory(3 << 20).unwrap();
        assert_eq!(memory.len(), 3 << 20);
        assert!(memory.iter().step_by(4096).all(|&b| b == FILL));
    }

    #[test]
    fn file_sizes_split_into_mebibytes() {
        assert_eq!(file_sizes(0), vec![0]);
        assert_eq!(file_sizes(FILE_BYTES), vec![FILE_BYTES]);
        assert_eq!(file_sizes(FILE_BYTES + 1), vec![FILE_BYTES, 1]);
    }
}
