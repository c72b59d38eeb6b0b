//! Finding the day files of a trace directory: the original layout and In-Vitro samples.

use super::*;

/// Which set of file names a directory uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Layout {
    Original,
    InVitro,
}

impl Layout {
    pub(super) fn invocations_header(self) -> &'static str {
        match self {
            Layout::Original => "HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440",
            Layout::InVitro => "HashFunction,HashApp,HashOwner,minute_1,minute_2,...,minute_1440",
        }
    }

    pub(super) fn durations_header(self) -> &'static str {
        match self {
            Layout::Original => {
                "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,\
                 percentile_Average_1,percentile_Average_25,percentile_Average_50,\
                 percentile_Average_75,percentile_Average_99,percentile_Average_100"
            }
            Layout::InVitro => {
                "HashFunction,HashApp,HashOwner,Count,Average,Minimum,Maximum,percentile_Average_0,\
                 percentile_Average_1,percentile_Average_25,percentile_Average_50,\
                 percentile_Average_75,percentile_Average_99,percentile_Average_100"
            }
        }
    }

    pub(super) fn memory_header(self) -> &'static str {
        match self {
            Layout::Original => {
                "HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,\
                 AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,\
                 AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,\
                 AverageAllocatedMb_pct100"
            }
            Layout::InVitro => {
                "HashApp,HashOwner,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,\
                 AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,\
                 AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,\
                 AverageAllocatedMb_pct100 (optionally with HashFunction for per-function rows)"
            }
        }
    }
}

/// The files of one selected day.
pub(super) struct DayFiles {
    /// Day number in the file names (1 for In-Vitro samples), for messages.
    pub(super) label: u32,
    /// Minute of the trace where this day starts.
    pub(super) offset: u64,
    pub(super) invocations: PathBuf,
    pub(super) durations: Option<PathBuf>,
    pub(super) memory: Option<PathBuf>,
    /// Where the optional files would be, for messages.
    pub(super) expected_durations: PathBuf,
    pub(super) expected_memory: PathBuf,
}

pub(super) struct Located {
    pub(super) layout: Layout,
    pub(super) days: Vec<DayFiles>,
}

/// The day number of `name` if it is `<prefix><digits>.csv`.
pub(super) fn day_number(name: &str, prefix: &str) -> Option<u32> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(".csv")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Tells the layout from the directory's file names and picks the selected days' files.
pub(super) fn locate(spec: &TraceSpec) -> Result<Located, WorkloadError> {
    let dir = &spec.path;
    let entries = fs::read_dir(dir).map_err(|e| WorkloadError::File {
        path: show(dir),
        message: format!("cannot list the trace directory ({e}); {LOOKED_FOR}"),
    })?;
    // Day → file, per kind; the shortest name wins if a day is written both as d1 and d01.
    let mut original: [BTreeMap<u32, PathBuf>; 3] = Default::default();
    // In-Vitro samples by file prefix: "400_" or "" for the unnumbered names.
    let mut samples: BTreeSet<String> = BTreeSet::new();
    let mut names = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        names.insert(name.to_string());
        for (kind, prefix) in [INVOCATIONS_PREFIX, DURATIONS_PREFIX, MEMORY_PREFIX]
            .into_iter()
            .enumerate()
        {
            if let Some(day) = day_number(name, prefix) {
                let path = entry.path();
                original[kind]
                    .entry(day)
                    .and_modify(|p| {
                        if (path.as_os_str().len(), &path) < (p.as_os_str().len(), p) {
                            *p = path.clone();
                        }
                    })
                    .or_insert(path);
            }
        }
        for suffix in ["_inv.csv", "_run.csv", "_mem.csv"] {
            if let Some(n) = name.strip_suffix(suffix)
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
            {
                samples.insert(format!("{n}_"));
            }
        }
        if ["invocations.csv", "durations.csv", "memory.csv"].contains(&name) {
            samples.insert(String::new());
        }
    }
    let sample_file = |prefix: &str| {
        if prefix.is_empty() {
            "invocations.csv".to_string()
        } else {
            format!("{prefix}inv.csv")
        }
    };
    let has_original = original.iter().any(|m| !m.is_empty());
    if has_original && !samples.is_empty() {
        return Err(WorkloadError::File {
            path: show(dir),
            message: format!(
                "holds files of both the original layout and In-Vitro samples ({}); point path at \
                 a directory with one of them",
                samples
                    .iter()
                    .map(|s| sample_file(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    if has_original {
        return locate_original(spec, original);
    }
    if samples.len() > 1 {
        return Err(WorkloadError::File {
            path: show(dir),
            message: format!(
                "holds {} In-Vitro samples ({}); point path at a directory with one",
                samples.len(),
                samples
                    .iter()
                    .map(|s| sample_file(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    let Some(prefix) = samples.into_iter().next() else {
        let found = if names.is_empty() {
            "it is empty".to_string()
        } else {
            let mut shown: Vec<&str> = names.iter().map(String::as_str).take(10).collect();
            if names.len() > 10 {
                shown.push("...");
            }
            format!("it holds {}", shown.join(", "))
        };
        return Err(WorkloadError::File {
            path: show(dir),
            message: format!("is not an Azure 2019 trace directory: {LOOKED_FOR}, but {found}"),
        });
    };
    if let Some(days) = spec.days {
        return Err(WorkloadError::Parameter(format!(
            "days ({days}) apply to the original layout of the Azure 2019 trace, with one file set \
             per day; {} holds an In-Vitro sample of one day",
            show(dir)
        )));
    }
    let [inv, run, mem] = if prefix.is_empty() {
        ["invocations.csv", "durations.csv", "memory.csv"].map(|n| dir.join(n))
    } else {
        ["inv", "run", "mem"].map(|k| dir.join(format!("{prefix}{k}.csv")))
    };
    if !regular_file(&inv)? {
        return Err(WorkloadError::File {
            path: show(&inv),
            message: "not found; an In-Vitro sample needs its invocation file".into(),
        });
    }
    if !regular_file(&run)? {
        return Err(WorkloadError::File {
            path: show(&run),
            message: "not found; the functions' execution times come from this file".into(),
        });
    }
    let has_memory = regular_file(&mem)?;
    Ok(Located {
        layout: Layout::InVitro,
        days: vec![DayFiles {
            label: 1,
            offset: 0,
            invocations: inv,
            durations: Some(run.clone()),
            memory: has_memory.then(|| mem.clone()),
            expected_durations: run,
            expected_memory: mem,
        }],
    })
}

pub(super) fn locate_original(
    spec: &TraceSpec,
    mut files: [BTreeMap<u32, PathBuf>; 3],
) -> Result<Located, WorkloadError> {
    let dir = &spec.path;
    let selected: Vec<u32> = match spec.days {
        Some(range) => range.days().collect(),
        None => match files[0].keys().next() {
            Some(&day) => vec![day],
            None => {
                return Err(WorkloadError::File {
                    path: show(dir),
                    message: format!(
                        "has no invocation file {INVOCATIONS_PREFIX}NN.csv (found only {})",
                        files[1..]
                            .iter()
                            .flat_map(|m| m.values())
                            .filter_map(|p| p.file_name())
                            .map(|n| n.to_string_lossy().into_owned())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        },
    };
    let mut days = Vec::with_capacity(selected.len());
    for (index, day) in (0u64..).zip(selected) {
        let expected = |prefix: &str| dir.join(format!("{prefix}{day:02}.csv"));
        let invocations = files[0].remove(&day).ok_or_else(|| WorkloadError::File {
            path: show(&expected(INVOCATIONS_PREFIX)),
            message: format!(
                "not found; every selected day ({}) needs its invocation file",
                spec.days
                    .map_or_else(|| day.to_string(), |range| range.to_string())
            ),
        })?;
        let durations = files[1].remove(&day);
        let memory = files[2].remove(&day);
        // Found by name: each is there, but may be a directory, a device or a broken link.
        for path in [Some(&invocations), durations.as_ref(), memory.as_ref()]
            .into_iter()
            .flatten()
        {
            regular_file(path)?;
        }
        days.push(DayFiles {
            label: day,
            offset: index * MINUTES_PER_DAY,
            invocations,
            durations,
            memory,
            expected_durations: expected(DURATIONS_PREFIX),
            expected_memory: expected(MEMORY_PREFIX),
        });
    }
    Ok(Located {
        layout: Layout::Original,
        days,
    })
}
