//! Sorting more fixed-size records than fit in memory.
//!
//! An [`ExternalSorter`] collects records in memory up to a limit. Each time the limit is reached
//! it sorts them and writes them as one *run* to a binary file under [`std::env::temp_dir`];
//! [`ExternalSorter::finish`] then merges the runs (and the records still in memory) with a
//! binary heap into one sorted iterator. A sort that never reaches the limit touches no file.
//!
//! Memory stays at `limit` records plus one read buffer per run being merged: at most
//! [`MAX_FAN_IN`] runs are merged at once, and when more were written, groups of them are first
//! merged into longer runs. Run files have unique names (process id, sorter, run) and are removed
//! when the sorter or the iterator holding them is dropped, whether it finished or failed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::vec;

use crate::WorkloadError;
use crate::csv_util::io_error;

/// Most runs merged at once; more are merged in several passes.
pub const MAX_FAN_IN: usize = 64;

/// Buffer of each run file's reader and writer.
const IO_BUFFER: usize = 1 << 16;

/// A record of fixed size on disk, sorted by its `Ord`.
pub trait Record: Copy + Ord + Send + 'static {
    /// Bytes of one encoded record.
    const SIZE: usize;

    /// Writes the record into `out`, which is `SIZE` bytes long.
    fn encode(&self, out: &mut [u8]);

    /// Reads a record from `bytes`, which is `SIZE` bytes long.
    fn decode(bytes: &[u8]) -> Self;
}

impl Record for u64 {
    const SIZE: usize = 8;

    fn encode(&self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }

    fn decode(bytes: &[u8]) -> Self {
        le_u64(bytes)
    }
}

/// An invocation as `(arrival, function, duration)`: sorted by arrival, then function, then
/// duration.
impl Record for (u64, u32, u64) {
    const SIZE: usize = 20;

    fn encode(&self, out: &mut [u8]) {
        out[..8].copy_from_slice(&self.0.to_le_bytes());
        out[8..12].copy_from_slice(&self.1.to_le_bytes());
        out[12..20].copy_from_slice(&self.2.to_le_bytes());
    }

    fn decode(bytes: &[u8]) -> Self {
        let mut function = [0; 4];
        function.copy_from_slice(&bytes[8..12]);
        (
            le_u64(&bytes[..8]),
            u32::from_le_bytes(function),
            le_u64(&bytes[12..20]),
        )
    }
}

fn le_u64(bytes: &[u8]) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(b)
}

/// Sorts any number of records in bounded memory. Push the records, then [`finish`] to read them
/// back in order.
///
/// [`finish`]: ExternalSorter::finish
pub struct ExternalSorter<T: Record> {
    limit: usize,
    buffer: Vec<T>,
    runs: Vec<Run>,
    /// Distinguishes this sorter's files from other sorters' in the same process.
    id: u64,
    files_created: u64,
}

impl<T: Record> ExternalSorter<T> {
    /// Records held in memory by default: about 4 million, 96 MiB of `(u64, u32, u64)`.
    pub const DEFAULT_LIMIT: usize = 1 << 22;

    pub fn new() -> Self {
        Self::with_limit(Self::DEFAULT_LIMIT)
    }

    /// A sorter that holds at most `limit` records in memory (at least one).
    pub fn with_limit(limit: usize) -> Self {
        static SORTERS: AtomicU64 = AtomicU64::new(0);
        ExternalSorter {
            limit: limit.max(1),
            buffer: Vec::new(),
            runs: Vec::new(),
            id: SORTERS.fetch_add(1, Ordering::Relaxed),
            files_created: 0,
        }
    }

    /// Adds a record, writing a run to disk when the memory limit is reached.
    pub fn push(&mut self, record: T) -> Result<(), WorkloadError> {
        self.buffer.push(record);
        if self.buffer.len() >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    /// Runs written to disk so far.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// The records in ascending order. Reading a run back can fail, so items are results; after
    /// an error the iterator ends.
    pub fn finish(mut self) -> Result<Sorted<T>, WorkloadError> {
        self.buffer.sort_unstable();
        let memory = std::mem::take(&mut self.buffer);
        if self.runs.is_empty() {
            return Ok(Sorted {
                inner: Inner::Memory(memory.into_iter()),
                failed: false,
            });
        }
        // Merge groups until one pass can merge what is left, the records in memory included.
        while self.runs.len() + 1 > MAX_FAN_IN {
            let group: Vec<Run> = self.runs.drain(..MAX_FAN_IN).collect();
            let mut merge = Merge::<T>::new(group.into_iter().map(Source::open).collect())?;
            let mut writer = RunWriter::create(self.next_path())?;
            while let Some(record) = merge.next() {
                writer.write(&record?)?;
            }
            self.runs.push(writer.finish()?);
        }
        let mut sources: Vec<Source<T>> = self.runs.drain(..).map(Source::open).collect();
        sources.push(Source::Memory(memory.into_iter()));
        Ok(Sorted {
            inner: Inner::Merge(Merge::new(sources)?),
            failed: false,
        })
    }

    fn spill(&mut self) -> Result<(), WorkloadError> {
        self.buffer.sort_unstable();
        let mut writer = RunWriter::create(self.next_path())?;
        for record in &self.buffer {
            writer.write(record)?;
        }
        self.runs.push(writer.finish()?);
        self.buffer.clear();
        Ok(())
    }

    fn next_path(&mut self) -> PathBuf {
        self.files_created += 1;
        std::env::temp_dir().join(format!(
            "lambdasim-sort-{}-{}-{}.bin",
            std::process::id(),
            self.id,
            self.files_created
        ))
    }
}

impl<T: Record> Default for ExternalSorter<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The sorted records of an [`ExternalSorter`].
pub struct Sorted<T: Record> {
    inner: Inner<T>,
    failed: bool,
}

enum Inner<T: Record> {
    Memory(vec::IntoIter<T>),
    Merge(Merge<T>),
}

impl<T: Record> Iterator for Sorted<T> {
    type Item = Result<T, WorkloadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = match &mut self.inner {
            Inner::Memory(records) => records.next().map(Ok),
            Inner::Merge(merge) => merge.next(),
        };
        if let Some(Err(_)) = next {
            self.failed = true;
            // Release the run files now rather than when the iterator is dropped.
            self.inner = Inner::Memory(Vec::new().into_iter());
        }
        next
    }
}

/// A k-way merge: the heap holds the smallest unread record of each source.
struct Merge<T: Record> {
    sources: Vec<Source<T>>,
    heap: BinaryHeap<Reverse<(T, usize)>>,
}

impl<T: Record> Merge<T> {
    fn new(sources: Vec<Source<T>>) -> Result<Self, WorkloadError> {
        let mut merge = Merge {
            heap: BinaryHeap::with_capacity(sources.len()),
            sources,
        };
        for i in 0..merge.sources.len() {
            if let Some(record) = merge.sources[i].next()? {
                merge.heap.push(Reverse((record, i)));
            }
        }
        Ok(merge)
    }

    fn next(&mut self) -> Option<Result<T, WorkloadError>> {
        let Reverse((record, i)) = self.heap.pop()?;
        match self.sources[i].next() {
            Ok(Some(following)) => self.heap.push(Reverse((following, i))),
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
        Some(Ok(record))
    }
}

enum Source<T: Record> {
    File(RunReader),
    Memory(vec::IntoIter<T>),
}

impl<T: Record> Source<T> {
    fn open(run: Run) -> Self {
        Source::File(RunReader::new(run))
    }

    fn next(&mut self) -> Result<Option<T>, WorkloadError> {
        match self {
            Source::Memory(records) => Ok(records.next()),
            Source::File(reader) => reader.next(),
        }
    }
}

/// A sorted run on disk.
struct Run {
    file: TempFile,
    records: u64,
}

/// Removes its file when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

struct RunWriter {
    // Declared before `file` so that the handle is closed before the file is removed.
    out: BufWriter<File>,
    file: TempFile,
    bytes: Vec<u8>,
    records: u64,
}

impl RunWriter {
    fn create(path: PathBuf) -> Result<Self, WorkloadError> {
        // `create_new` never truncates a file that is not ours.
        let out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        Ok(RunWriter {
            out: BufWriter::with_capacity(IO_BUFFER, out),
            file: TempFile(path),
            bytes: Vec::new(),
            records: 0,
        })
    }

    fn write<T: Record>(&mut self, record: &T) -> Result<(), WorkloadError> {
        self.bytes.resize(T::SIZE, 0);
        record.encode(&mut self.bytes);
        self.records += 1;
        self.out
            .write_all(&self.bytes)
            .map_err(|e| io_error(&self.file.0, e))
    }

    fn finish(mut self) -> Result<Run, WorkloadError> {
        self.out.flush().map_err(|e| io_error(&self.file.0, e))?;
        Ok(Run {
            file: self.file,
            records: self.records,
        })
    }
}

struct RunReader {
    /// Opened on the first read, so that a run waiting for a later merge pass holds no handle.
    input: Option<BufReader<File>>,
    run: Run,
    bytes: Vec<u8>,
}

impl RunReader {
    fn new(run: Run) -> Self {
        RunReader {
            input: None,
            run,
            bytes: Vec::new(),
        }
    }

    fn next<T: Record>(&mut self) -> Result<Option<T>, WorkloadError> {
        if self.run.records == 0 {
            // Close the handle as soon as the run is exhausted.
            self.input = None;
            return Ok(None);
        }
        let path = &self.run.file.0;
        let input = match &mut self.input {
            Some(input) => input,
            None => {
                let file = File::open(path).map_err(|e| io_error(path, e))?;
                self.input.insert(BufReader::with_capacity(IO_BUFFER, file))
            }
        };
        self.bytes.resize(T::SIZE, 0);
        input
            .read_exact(&mut self.bytes)
            .map_err(|e| io_error(path, e))?;
        self.run.records -= 1;
        Ok(Some(T::decode(&self.bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic sequence with many repeated values.
    fn records(n: usize, distinct: u64) -> Vec<(u64, u32, u64)> {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % distinct, (x >> 20) as u32 % 3, (x >> 40) % 2)
            })
            .collect()
    }

    fn sort_with(limit: usize, input: &[(u64, u32, u64)]) -> (usize, Vec<(u64, u32, u64)>) {
        let mut sorter = ExternalSorter::with_limit(limit);
        for &r in input {
            sorter.push(r).unwrap();
        }
        let runs = sorter.runs();
        let out = sorter.finish().unwrap().map(Result::unwrap).collect();
        (runs, out)
    }

    /// Run files of sorter `id` still in the temporary directory.
    fn leftover_files(id: u64) -> Vec<PathBuf> {
        let prefix = format!("lambdasim-sort-{}-{id}-", std::process::id());
        fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
            .collect()
    }

    #[test]
    fn small_input_sorts_in_memory() {
        let input = records(50, 10);
        let mut expected = input.clone();
        expected.sort();
        let (runs, out) = sort_with(1000, &input);
        assert_eq!(runs, 0);
        assert_eq!(out, expected);
    }

    #[test]
    fn spilled_runs_merge_into_order() {
        // 100 records with a limit of 7: 14 runs of 7 on disk and 2 records in memory. Only 8
        // distinct arrivals, so most keys repeat across runs.
        let input = records(100, 8);
        let mut expected = input.clone();
        expected.sort();
        let (runs, out) = sort_with(7, &input);
        assert_eq!(runs, 14);
        assert_eq!(out.len(), 100);
        assert_eq!(out, expected);
    }

    #[test]
    fn many_runs_merge_in_several_passes() {
        // 300 runs of one record exceed the fan-in, so groups are merged first.
        let input = records(300, 50);
        let mut expected = input.clone();
        expected.sort();
        let (runs, out) = sort_with(1, &input);
        assert_eq!(runs, 300);
        assert!(runs > MAX_FAN_IN);
        assert_eq!(out, expected);
    }

    #[test]
    fn empty_input_gives_nothing() {
        for limit in [1, 7, ExternalSorter::<u64>::DEFAULT_LIMIT] {
            let sorter = ExternalSorter::<u64>::with_limit(limit);
            assert_eq!(sorter.finish().unwrap().count(), 0);
        }
        // A limit of 0 behaves as 1.
        let (runs, out) = sort_with(0, &[(2, 0, 0), (1, 0, 0)]);
        assert_eq!((runs, out), (2, vec![(1, 0, 0), (2, 0, 0)]));
    }

    #[test]
    fn records_round_trip_through_bytes() {
        let extremes = [
            (u64::MAX, u32::MAX, u64::MAX),
            (0, 0, 0),
            (1 << 40, 7, 1 << 63),
        ];
        let mut bytes = [0; 20];
        for r in extremes {
            r.encode(&mut bytes);
            assert_eq!(<(u64, u32, u64)>::decode(&bytes), r);
        }
        let mut input: Vec<u64> = vec![u64::MAX, 0, 5, 5, 1 << 33];
        let mut sorter = ExternalSorter::with_limit(2);
        for &v in &input {
            sorter.push(v).unwrap();
        }
        input.sort();
        let out: Vec<u64> = sorter.finish().unwrap().map(Result::unwrap).collect();
        assert_eq!(out, input);
    }

    #[test]
    fn run_files_are_removed_when_dropped() {
        // Consumed to the end.
        let mut sorter = ExternalSorter::with_limit(3);
        let id = sorter.id;
        for r in records(20, 5) {
            sorter.push(r).unwrap();
        }
        assert_eq!(leftover_files(id).len(), 6);
        let sorted = sorter.finish().unwrap();
        assert_eq!(sorted.count(), 20);
        assert!(leftover_files(id).is_empty());

        // Dropped half-way through the merge, and dropped before finishing.
        let mut sorter = ExternalSorter::with_limit(3);
        let id = sorter.id;
        for r in records(20, 5) {
            sorter.push(r).unwrap();
        }
        let mut sorted = sorter.finish().unwrap();
        assert!(sorted.next().is_some());
        drop(sorted);
        assert!(leftover_files(id).is_empty());

        let mut sorter = ExternalSorter::with_limit(3);
        let id = sorter.id;
        for r in records(20, 5) {
            sorter.push(r).unwrap();
        }
        assert!(!leftover_files(id).is_empty());
        drop(sorter);
        assert!(leftover_files(id).is_empty());
    }

    #[test]
    fn a_damaged_run_ends_the_stream_with_an_error() {
        let mut sorter = ExternalSorter::with_limit(4);
        let id = sorter.id;
        for v in (0..10u64).rev() {
            sorter.push(v).unwrap();
        }
        // Two runs of 4 records (6..=9 and 2..=5); keep the first run's smallest record and 3
        // bytes of the next.
        let mut files = leftover_files(id);
        files.sort();
        let bytes = fs::read(&files[0]).unwrap();
        fs::write(&files[0], &bytes[..11]).unwrap();
        let mut sorted = sorter.finish().unwrap();
        let results: Vec<_> = sorted.by_ref().collect();
        let values: Vec<u64> = results
            .iter()
            .filter_map(|r| r.as_ref().ok().copied())
            .collect();
        assert_eq!(values, [0, 1, 2, 3, 4, 5]);
        let err = results.last().unwrap().as_ref().unwrap_err();
        assert!(matches!(err, WorkloadError::Io { .. }), "{err}");
        assert!(err.to_string().contains("lambdasim-sort-"), "{err}");
        assert!(sorted.next().is_none());
        assert!(leftover_files(id).is_empty());
    }
}
