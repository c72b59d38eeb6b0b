//! Confining a sandbox as a container runtime does, once it is in its cgroup: a cgroup namespace
//! of its own, an unprivileged user with no capabilities (bounding set included), `no_new_privs`,
//! and a seccomp filter that refuses the calls a sandbox could use to undo its confinement or
//! reach the host (mounts, namespaces, tracing, kernel modules and images, BPF, reboot, swap,
//! clocks). Its file system view (a read-only root with only the scratch directory writable,
//! entered with `pivot_root`) is set up before, by [`crate::runner::private_view`].
//!
//! The order matters: the cgroup namespace and the bounding set need capabilities, so they come
//! before the change of user; the filter comes last, so that nothing before it is refused.

use std::io;

use nix::libc;

/// The user and group a confined sandbox runs as: `nobody` on most systems, which owns no file
/// but the sandbox's scratch directory.
pub const SANDBOX_UID: u32 = 65534;
pub const SANDBOX_GID: u32 = 65534;

/// The last error of a libc call, with what was being done.
fn os_err(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Confines the calling process (single-threaded) for good; see the module's notes.
pub fn confine(uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: plain system calls with integer or null arguments, or pointers to locals.
    unsafe {
        if libc::unshare(libc::CLONE_NEWCGROUP) != 0 {
            return Err(os_err("a cgroup namespace (unshare)"));
        }
        // Changing the user clears the parent-death signal: keep it.
        let mut death: libc::c_int = 0;
        if libc::prctl(libc::PR_GET_PDEATHSIG, &mut death as *mut libc::c_int) != 0 {
            return Err(os_err("reading the parent-death signal"));
        }
        // Every capability out of the bounding set, up to the kernel's last one.
        for cap in 0..64 {
            if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                if io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
                    break;
                }
                return Err(os_err("dropping the capability bounding set"));
            }
        }
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(os_err("dropping supplementary groups"));
        }
        if libc::setresgid(gid, gid, gid) != 0 {
            return Err(os_err("changing to the sandbox's group"));
        }
        // From root to a user with no id 0 left: the permitted and effective sets are cleared.
        if libc::setresuid(uid, uid, uid) != 0 {
            return Err(os_err("changing to the sandbox's user"));
        }
        if libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        ) != 0
        {
            return Err(os_err("clearing ambient capabilities"));
        }
        // The inheritable set survives the change of user: clear it too.
        let mut header = CapHeader {
            version: LINUX_CAPABILITY_VERSION_3,
            pid: 0,
        };
        let data = [CapData::default(); 2];
        if libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) != 0 {
            return Err(os_err("clearing capabilities (capset)"));
        }
        if death != 0 && libc::prctl(libc::PR_SET_PDEATHSIG, death as libc::c_ulong) != 0 {
            return Err(os_err("restoring the parent-death signal"));
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(os_err("no_new_privs"));
        }
    }
    install_filter(&filter()?)
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The architecture a filter checks the calls against (`AUDIT_ARCH_*`): a call made through
/// another ABI is refused outright, since its numbers mean other calls.
#[cfg(all(target_arch = "x86_64", target_endian = "little"))]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(all(target_arch = "aarch64", target_endian = "little"))]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// The calls a confined sandbox may not make (each fails with `EPERM`).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn denied() -> Vec<libc::c_long> {
    use libc::*;
    let mut calls = vec![
        // File systems and mounts.
        SYS_mount,
        SYS_umount2,
        SYS_pivot_root,
        SYS_chroot,
        SYS_fsopen,
        SYS_fsconfig,
        SYS_fsmount,
        SYS_fspick,
        SYS_move_mount,
        SYS_open_tree,
        SYS_mount_setattr,
        SYS_open_by_handle_at,
        SYS_name_to_handle_at,
        SYS_quotactl,
        SYS_swapon,
        SYS_swapoff,
        // Namespaces.
        SYS_unshare,
        SYS_setns,
        // Other processes' memory and tracing.
        SYS_ptrace,
        SYS_process_vm_readv,
        SYS_process_vm_writev,
        SYS_perf_event_open,
        SYS_bpf,
        SYS_userfaultfd,
        // The kernel itself.
        SYS_kexec_load,
        SYS_kexec_file_load,
        SYS_init_module,
        SYS_finit_module,
        SYS_delete_module,
        SYS_reboot,
        SYS_syslog,
        SYS_acct,
        SYS_keyctl,
        SYS_add_key,
        SYS_request_key,
        // The host's identity and clocks.
        SYS_sethostname,
        SYS_setdomainname,
        SYS_settimeofday,
        SYS_clock_settime,
        SYS_clock_adjtime,
        SYS_adjtimex,
    ];
    #[cfg(target_arch = "x86_64")]
    calls.extend([SYS_iopl, SYS_ioperm]);
    calls
}

/// Namespace flags that `clone` may not carry.
const NEW_NAMESPACES: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u32;

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// The seccomp program: the architecture checked, each denied call refused with `EPERM`,
/// `clone3` with `ENOSYS` (its flags sit behind a pointer the filter cannot read, so the C
/// library falls back to `clone`), `clone` with a namespace flag refused, all else allowed.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub fn filter() -> io::Result<Vec<libc::sock_filter>> {
    use libc::{
        BPF_ABS, BPF_JEQ, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_RET, BPF_W, SECCOMP_RET_ALLOW,
        SECCOMP_RET_ERRNO,
    };
    const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
    // Offsets in `struct seccomp_data`: nr, arch, then the arguments from byte 16 (the low half
    // of the first, on a little-endian machine).
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    const ARG0_LOW: u32 = 16;
    let eperm = SECCOMP_RET_ERRNO | libc::EPERM as u32;
    let mut p = vec![
        stmt(BPF_LD | BPF_W | BPF_ABS, ARCH),
        jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH, 1, 0),
        stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD | BPF_W | BPF_ABS, NR),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        // The x32 ABI shares the architecture but numbers its calls from bit 30.
        p.push(jump(BPF_JMP | libc::BPF_JGE | BPF_K, 0x4000_0000, 0, 1));
        p.push(stmt(BPF_RET | BPF_K, eperm));
    }
    for call in denied() {
        p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, call as u32, 0, 1));
        p.push(stmt(BPF_RET | BPF_K, eperm));
    }
    p.push(jump(
        BPF_JMP | BPF_JEQ | BPF_K,
        libc::SYS_clone3 as u32,
        0,
        1,
    ));
    p.push(stmt(
        BPF_RET | BPF_K,
        SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
    ));
    // Last, as it loads an argument over the call's number.
    p.push(jump(
        BPF_JMP | BPF_JEQ | BPF_K,
        libc::SYS_clone as u32,
        0,
        3,
    ));
    p.push(stmt(BPF_LD | BPF_W | BPF_ABS, ARG0_LOW));
    p.push(jump(BPF_JMP | BPF_JSET | BPF_K, NEW_NAMESPACES, 0, 1));
    p.push(stmt(BPF_RET | BPF_K, eperm));
    p.push(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    Ok(p)
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn filter() -> io::Result<Vec<libc::sock_filter>> {
    Err(io::Error::other(
        "confined sandboxes need a seccomp filter, written for x86_64 and aarch64 only; \
         run with --unconfined on this machine",
    ))
}

/// [`filter`] as hexadecimal bytes, each instruction as the kernel lays out a `sock_filter`
/// (code, jt, jf, k in native byte order): for the Python runtime, which installs it itself in a
/// sandbox forked from a zygote.
pub fn filter_hex() -> io::Result<String> {
    use std::fmt::Write;
    let mut out = String::new();
    for f in filter()? {
        for b in f
            .code
            .to_ne_bytes()
            .into_iter()
            .chain([f.jt, f.jf])
            .chain(f.k.to_ne_bytes())
        {
            let _ = write!(out, "{b:02x}");
        }
    }
    Ok(out)
}

/// Installs `program` for the calling thread (`no_new_privs` must be set).
fn install_filter(program: &[libc::sock_filter]) -> io::Result<()> {
    let prog = libc::sock_fprog {
        len: u16::try_from(program.len()).map_err(|_| io::Error::other("filter too long"))?,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points at `program`, alive for the call; the kernel copies it.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const libc::sock_fprog,
        )
    };
    if r != 0 {
        return Err(os_err("installing the seccomp filter"));
    }
    Ok(())
}

/// Makes `path` and every mount below it read-only and `nosuid`, in one call
/// (`mount_setattr`, Linux 5.12 and later).
pub fn read_only_tree(path: &std::path::Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::other("a path contains a NUL byte"))?;
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    const MOUNT_ATTR_NOSUID: u64 = 0x2;
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: a valid C string and a pointer to a local of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_RECURSIVE as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        return Err(os_err(&format!(
            "making {} read-only (mount_setattr, Linux 5.12 or later)",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_jump_of_the_filter_lands_inside_it() {
        let p = filter().unwrap();
        for (i, ins) in p.iter().enumerate() {
            let is_jump = u32::from(ins.code) & 0x07 == libc::BPF_JMP;
            if is_jump {
                assert!(i + 1 + usize::from(ins.jt.max(ins.jf)) < p.len(), "{i}");
            }
        }
        let last = p.last().unwrap();
        assert_eq!(u32::from(last.code), libc::BPF_RET | libc::BPF_K);
        assert_eq!(last.k, libc::SECCOMP_RET_ALLOW);
    }
}
