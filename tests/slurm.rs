//! The sweep's Slurm script on a real single-node Slurm cluster that the test starts here
//! (munged, slurmctld and slurmd from Debian's `slurm-wlm`, with a configuration in a temporary
//! directory), merged and compared with the same sweep run in one process.
//!
//! `.ci/run` installs `slurm-wlm`. In CI (`CI=true`) a host without it fails the test; elsewhere
//! the test is skipped with a printed reason.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::cli::{TempDir, lambdasim, stderr};

/// The daemons of a test cluster; dropping it stops them.
struct Cluster {
    dir: TempDir,
    conf: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for pidfile in ["slurmctld.pid", "slurmd.pid", "munged.pid"] {
            if let Ok(pid) = fs::read_to_string(self.dir.path().join(pidfile))
                && let Ok(pid) = pid.trim().parse::<i32>()
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
        // Give the daemons a moment to go before their directory is removed.
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn found(program: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(program).exists())
}

/// Starts munged, slurmctld and slurmd for this host, or says why it cannot (failing in CI).
fn start() -> Option<Cluster> {
    let missing: Vec<&str> = ["munged", "slurmctld", "slurmd", "sbatch", "sinfo"]
        .into_iter()
        .filter(|p| !found(p))
        .collect();
    let root = nix::unistd::geteuid().is_root();
    if !missing.is_empty() || !root {
        let why = if root {
            format!("{} not installed (Debian: slurm-wlm)", missing.join(", "))
        } else {
            "the test cluster's daemons need root".to_string()
        };
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the Slurm test must run in CI: {why}"
        );
        eprintln!("skipped: {why}");
        return None;
    }
    let dir = TempDir::new("slurm");
    let d = dir.path().to_path_buf();
    let p = |name: &str| d.join(name).display().to_string();
    for sub in ["state", "spool", "munge"] {
        fs::create_dir_all(d.join(sub)).unwrap();
    }
    let key: Vec<u8> = (0..1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(d.join("munge.key"), key).unwrap();
    let mode = |path: &str, m: u32| {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(m)).unwrap();
    };
    mode(&p("munge.key"), 0o400);
    mode(&p("munge"), 0o700);
    let socket = p("munge/munge.sock");
    let status = Command::new("munged")
        .args(["--key-file", &p("munge.key"), "--socket", &socket])
        .args([
            "--pid-file",
            &p("munged.pid"),
            "--log-file",
            &p("munged.log"),
        ])
        .args(["--seed-file", &p("munge/seed"), "--force"])
        .status()
        .unwrap();
    assert!(status.success(), "munged did not start");
    let host = String::from_utf8(Command::new("hostname").arg("-s").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string();
    // Ports of our own, so that another cluster on this host does not answer.
    let port = 20_000 + (std::process::id() % 20_000) as u16;
    let conf = d.join("slurm.conf");
    fs::write(
        &conf,
        format!(
            "ClusterName=lambdasim\nSlurmctldHost={host}\nSlurmUser=root\nSlurmdUser=root\n\
             SlurmctldPort={port}\nSlurmdPort={}\n\
             AuthType=auth/munge\nAuthInfo=socket={socket}\nCredType=cred/munge\n\
             StateSaveLocation={}\nSlurmdSpoolDir={}\n\
             SlurmctldPidFile={}\nSlurmdPidFile={}\n\
             SlurmctldLogFile={}\nSlurmdLogFile={}\n\
             ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n\
             JobAcctGatherType=jobacct_gather/none\nSelectType=select/cons_tres\n\
             SelectTypeParameters=CR_CPU\nReturnToService=2\nMpiDefault=none\n\
             NodeName={host} CPUs=2 State=UNKNOWN\n\
             PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
            port + 1,
            p("state"),
            p("spool"),
            p("slurmctld.pid"),
            p("slurmd.pid"),
            p("slurmctld.log"),
            p("slurmd.log"),
        ),
    )
    .unwrap();
    let cluster = Cluster { dir, conf };
    for daemon in ["slurmctld", "slurmd"] {
        let status = Command::new(daemon)
            .arg("-f")
            .arg(&cluster.conf)
            .env("SLURM_CONF", &cluster.conf)
            .status()
            .unwrap();
        assert!(status.success(), "{daemon} did not start");
    }
    // Wait until the node is idle.
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new("sinfo")
            .args(["-h", "-o", "%t"])
            .env("SLURM_CONF", &cluster.conf)
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).trim() == "idle" {
            break;
        }
        assert!(
            Instant::now() < end,
            "the test cluster's node never became idle: {}",
            fs::read_to_string(cluster.dir.path().join("slurmctld.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Some(cluster)
}

#[test]
fn a_sweep_as_a_slurm_job_array_merges_into_the_one_process_results() {
    let Some(cluster) = start() else { return };
    let dir = cluster.dir.path();
    let plan = dir.join("plan.toml");
    fs::write(
        &plan,
        "seeds = [1, 2]\n[grid]\n\"policies.keep_alive\" = [{ kind = \"ttl\", idle = \"1m\" }, { kind = \"lru\" }]\n\
         \"workload.duration\" = [\"5m\"]\n",
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-sweep.sh");
    let out = dir.join("results");
    let status = Command::new("sbatch")
        .args(["--wait", "--array=0-2", "--cpus-per-task=1"])
        .arg(format!("--output={}/job-%a.log", dir.display()))
        .arg(&script)
        .arg(&plan)
        .arg(&out)
        .env("SLURM_CONF", &cluster.conf)
        .env("LAMBDASIM", env!("CARGO_BIN_EXE_lambdasim"))
        .status()
        .unwrap();
    assert!(status.success(), "the job array failed");
    let shards: Vec<String> = (0..3)
        .map(|i| out.join(format!("shard-{i}.csv")).display().to_string())
        .collect();
    for s in &shards {
        assert!(Path::new(s).exists(), "{s} is missing");
    }
    let merged = dir.join("merged.csv").display().to_string();
    let mut args = vec!["sweep", "merge"];
    args.extend(shards.iter().map(String::as_str));
    args.extend(["--out", &merged]);
    let o = lambdasim(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let whole = dir.join("whole.csv").display().to_string();
    let plan = plan.display().to_string();
    let o = lambdasim(&["sweep", "--plan", &plan, "--out", &whole]);
    assert!(o.status.success(), "{}", stderr(&o));
    let merged = fs::read_to_string(&merged).unwrap();
    assert_eq!(merged.lines().count(), 1 + 4);
    assert_eq!(merged, fs::read_to_string(&whole).unwrap());
}
