"""lambdasim's Python runtime: the process inside a sandbox that runs users' Python handlers.

It speaks the backend's line protocol on a Unix SOCK_SEQPACKET socket (descriptor 3, or the
number given as the first argument), one message per command, tab-separated fields:

  path  DIR                          ok                  DIR goes first on sys.path (an install
                                                         cache directory)
  import  NAME                       ok  US | error  MSG  imports a module for real
  handler  FILE                      ok  US | error  MSG  loads FILE (f.py) as module `f`; it must
                                                         define a callable `f`
  call  ID  LEN  + LEN bytes         result  ID  KIND  US  LEN  + LEN bytes
                                     KIND: ok (the JSON result), bad-request (the body is not
                                     JSON), error (the handler raised: "Type: message"),
                                     not-json (the result cannot be written as JSON)
  fork  sandbox|zygote  SCRATCH  ROOT  NET  with a socket    forked | error  MSG
  confine  UID  GID  FILTER          ok | error  MSG      as the Rust runner's `confine`: a cgroup
                                                         namespace, no capabilities, user UID,
                                                         no_new_privs and the seccomp FILTER (hex
                                                         sock_filter instructions)
  procs                              procs  N
  exit                               (exits)

A payload of LEN bytes follows its command in messages of at most 4096 bytes each (none when
LEN is 0). A zygote imports packages and forks: a sandbox forked from it starts with every module
the zygote imported (SOCK's design). The fork goes through an intermediate process that exits at
once, so that the child is re-parented to the driver and outlives the zygote; a sandbox gets PID,
mount, UTS and IPC namespaces of its own (and a network namespace when asked), a private /proc,
and, with a ROOT, the host's root bound read-only with its scratch directory writable.

Only the standard library is used; Python 3.9 or later.
"""

import ctypes
import importlib
import importlib.util
import io
import json
import os
import platform
import select
import socket
import struct
import sys
import threading
import time

CHUNK = 4096

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID = 0x1, 0x2
CLONE_NEWCGROUP = 0x02000000
PR_SET_PDEATHSIG, PR_GET_PDEATHSIG = 1, 2
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
EINVAL = 22
# System call numbers that glibc has no wrapper for in every version.
SYSCALLS = {
    "x86_64": {"pivot_root": 155, "mount_setattr": 442, "capset": 126},
    "aarch64": {"pivot_root": 41, "mount_setattr": 442, "capset": 91},
}

_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def unshare(flags, what="unshare"):
    check(libc().unshare(ctypes.c_int(flags)), what)


def mount(source, target, fstype, flags, what):
    enc = lambda s: None if s is None else os.fsencode(s)
    check(
        libc().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), None),
        what,
    )


def syscall(name):
    numbers = SYSCALLS.get(platform.machine())
    if numbers is None:
        raise OSError("no %s on %s" % (name, platform.machine()))
    return numbers[name]


def read_only_tree(path):
    # struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd; }
    attr = struct.pack("QQQQ", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0)
    buf = ctypes.create_string_buffer(attr, len(attr))
    r = libc().syscall(
        ctypes.c_long(syscall("mount_setattr")),
        ctypes.c_int(AT_FDCWD),
        os.fsencode(path),
        ctypes.c_uint(AT_RECURSIVE),
        buf,
        ctypes.c_size_t(len(attr)),
    )
    check(r, "making %s read-only (mount_setattr, Linux 5.12 or later)" % path)


def private_view(scratch, root):
    """The sandbox's own view of the file system; as the Rust runner's `private_view`."""
    mount(None, "/", None, MS_REC | MS_PRIVATE, "making / private")
    if root is not None:
        mount("/", root, None, MS_BIND | MS_REC, "binding the root")
        read_only_tree(root)
        if scratch is not None:
            inside = os.path.join(root, scratch.lstrip("/"))
            mount(scratch, inside, None, MS_BIND, "binding the scratch directory")
        os.chdir(root)
        r = libc().syscall(ctypes.c_long(syscall("pivot_root")), b".", b".")
        if r == 0:
            check(libc().umount2(b".", ctypes.c_int(MNT_DETACH)), "detaching the host's root")
        elif ctypes.get_errno() == 22:  # EINVAL: a root on the initial ramfs cannot pivot
            os.chroot(".")
        else:
            check(r, "pivot_root")
        os.chdir("/")
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mounting /proc")
    if scratch is not None:
        os.chdir(scratch)
    name = b"lambdasim-sandbox"
    check(libc().sethostname(name, ctypes.c_size_t(len(name))), "setting the host name")


def prctl(option, *args):
    values = [ctypes.c_ulong(a) if isinstance(a, int) else a for a in args]
    values += [ctypes.c_ulong(0)] * (4 - len(values))
    return libc().prctl(ctypes.c_int(option), *values)


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def confine(uid, gid, program):
    """What the Rust runner's `confine` does, for a sandbox forked from a Python zygote."""
    unshare(CLONE_NEWCGROUP, "a cgroup namespace (unshare)")
    death = ctypes.c_int(0)
    check(prctl(PR_GET_PDEATHSIG, ctypes.byref(death)), "reading the parent-death signal")
    for cap in range(64):
        if prctl(PR_CAPBSET_DROP, cap) != 0:
            if ctypes.get_errno() == EINVAL:
                break
            check(-1, "dropping the capability bounding set")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    check(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL), "clearing ambient capabilities")
    header = ctypes.create_string_buffer(struct.pack("Ii", LINUX_CAPABILITY_VERSION_3, 0), 8)
    data = ctypes.create_string_buffer(bytes(24), 24)
    check(
        libc().syscall(ctypes.c_long(syscall("capset")), header, data),
        "clearing capabilities (capset)",
    )
    if death.value:
        check(prctl(PR_SET_PDEATHSIG, death.value), "restoring the parent-death signal")
    check(prctl(PR_SET_NO_NEW_PRIVS, 1), "no_new_privs")
    code = bytes.fromhex(program)
    buf = ctypes.create_string_buffer(code, len(code))
    prog = SockFprog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    check(
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog)),
        "installing the seccomp filter",
    )


class Link:
    """The runner's end of its socket."""

    def __init__(self, sock):
        self.sock = sock

    def send(self, text):
        self.sock.send(text.encode("utf-8", "replace"))

    def send_payload(self, text, data):
        self.send(text)
        for i in range(0, len(data), CHUNK):
            self.sock.send(data[i : i + CHUNK])

    def send_credentials(self, text):
        creds = struct.pack("iII", os.getpid(), os.getuid(), os.getgid())
        self.sock.sendmsg(
            [text.encode()], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds)]
        )

    def recv(self):
        """The next command as (fields, descriptor or None); None when the socket closed."""
        msg, fds, _, _ = socket.recv_fds(self.sock, CHUNK, 1)
        if not msg and not fds:
            return None
        return msg.decode("utf-8", "replace").split("\t"), (fds[0] if fds else None)

    def recv_payload(self, length):
        parts, got = [], 0
        while got < length:
            part = self.sock.recv(CHUNK)
            if not part:
                raise EOFError("the socket closed in a payload")
            parts.append(part)
            got += len(part)
        return b"".join(parts)

    def close(self):
        self.sock.close()


def micros(since):
    return int((time.perf_counter() - since) * 1e6)


def describe(e):
    text = str(e)
    return "%s: %s" % (type(e).__name__, text) if text else type(e).__name__


def one_line(text):
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def watch_lifeline(fd):
    """Exits the process as soon as the backend's end of the socket closes, whatever the
    handler is doing (a runner whose driver died must not live on)."""

    def watch():
        p = select.poll()
        p.register(fd, select.POLLRDHUP)
        while True:
            for _, ev in p.poll():
                if ev & (select.POLLHUP | select.POLLRDHUP | select.POLLERR):
                    os._exit(0)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


class Runner:
    def __init__(self, link):
        self.link = link
        self.handler = None
        self.watching = False

    def serve(self):
        while True:
            got = self.link.recv()
            if got is None:
                return
            fields, fd = got
            reply = self.command(fields, fd)
            if reply is None:
                return
            if reply:
                self.link.send(reply)

    def command(self, fields, fd):
        cmd = fields[0]
        if cmd == "path" and len(fields) == 2:
            if fields[1] not in sys.path:
                sys.path.insert(0, fields[1])
            importlib.invalidate_caches()
            return "ok"
        if cmd == "import" and len(fields) == 2:
            t = time.perf_counter()
            try:
                importlib.import_module(fields[1])
            except BaseException as e:  # a package's import may raise anything
                return "error\t" + one_line("importing %s: %s" % (fields[1], describe(e)))
            return "ok\t%d" % micros(t)
        if cmd == "handler" and len(fields) == 2:
            return self.load_handler(fields[1])
        if cmd == "call" and len(fields) == 3:
            self.call(fields[1], int(fields[2]))
            return ""
        if cmd == "fork" and len(fields) == 5:
            if fd is None:
                return "error\tfork needs a socket"
            view = None
            if fields[1] == "sandbox":
                read = lambda s: None if s == "-" else s
                view = (read(fields[2]), read(fields[3]), fields[4] == "net")
            try:
                child = self.fork_child(socket.socket(fileno=fd), view)
            except OSError as e:
                return "error\t" + one_line("fork: %s" % describe(e))
            if child is not None:
                # This is the new process: serve its own socket with the inherited modules.
                self.link.close()
                self.link = child
                self.watching = False
                return ""
            return "forked"
        if cmd == "confine" and len(fields) == 4:
            try:
                confine(int(fields[1]), int(fields[2]), fields[3])
            except (OSError, ValueError) as e:
                return "error\t" + one_line("confining the sandbox: %s" % describe(e))
            return "ok"
        if cmd == "procs":
            n = sum(1 for e in os.listdir("/proc") if e.isdigit())
            return "procs\t%d" % n
        if cmd == "exit":
            return None
        return "error\t" + one_line("unknown command: %s" % "\t".join(fields))

    def load_handler(self, path):
        t = time.perf_counter()
        try:
            directory = os.path.dirname(os.path.abspath(path))
            if directory not in sys.path:
                sys.path.insert(0, directory)
            spec = importlib.util.spec_from_file_location("f", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules["f"] = module
            spec.loader.exec_module(module)
        except BaseException as e:
            return "error\t" + one_line("loading %s: %s" % (path, describe(e)))
        handler = getattr(module, "f", None)
        if not callable(handler):
            return "error\t" + one_line("%s defines no function f(event)" % path)
        self.handler = handler
        return "ok\t%d" % micros(t)

    def call(self, call_id, length):
        body = self.link.recv_payload(length)
        if not self.watching:
            watch_lifeline(self.link.sock.fileno())
            self.watching = True
        t = time.perf_counter()
        kind, out = "ok", b""
        if self.handler is None:
            kind, out = "error", b"no handler loaded"
        else:
            try:
                event = json.loads(body.decode("utf-8")) if body.strip() else None
            except ValueError as e:
                kind, out = "bad-request", ("the body is not JSON: %s" % e).encode()
            else:
                try:
                    result = self.handler(event)
                except BaseException as e:
                    kind, out = "error", describe(e).encode("utf-8", "replace")
                else:
                    try:
                        out = json.dumps(result).encode()
                    except (TypeError, ValueError) as e:
                        kind, out = "not-json", describe(e).encode("utf-8", "replace")
        self.link.send_payload(
            "result\t%s\t%s\t%d\t%d" % (call_id, kind, micros(t), len(out)), out
        )

    def fork_child(self, child_sock, view):
        """Forks a sandbox (view = (scratch, root, net)) or a child zygote (view None); returns
        the child's Link in the new process, None in this one."""
        pid = os.fork()
        if pid:
            child_sock.close()
            os.waitpid(pid, 0)
            return None
        child = Link(child_sock)
        try:
            if view is not None:
                unshare(CLONE_NEWPID, "unshare (PID namespace)")
            if os.fork():
                os._exit(0)
            if view is not None:
                scratch, root, net = view
                unshare(
                    CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | (CLONE_NEWNET if net else 0)
                )
                private_view(scratch, root)
            child.send_credentials("hello")
        except BaseException as e:
            try:
                child.send("error\t" + one_line(describe(e)))
            finally:
                os._exit(1)
        return child


class ServerLog(io.TextIOBase):
    """A handler's sys.stdout and sys.stderr: the server's standard error, written through at
    once. A write that fails (the server's log is a closed pipe, a full disk) is dropped: what
    a handler prints must never fail its call."""

    def __init__(self, fd):
        self.fd = fd

    def writable(self):
        return True

    def write(self, text):
        data = text.encode("utf-8", "replace")
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:
            pass
        return len(text)


def main():
    # A handler's prints go to the server's standard error, with its own messages: its standard
    # output carries the run's summary, which they must not break.
    os.dup2(2, 1)
    sys.stdout = sys.stderr = ServerLog(2)
    fd = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    link = Link(socket.socket(fileno=fd))
    link.send("ready")
    Runner(link).serve()


if __name__ == "__main__":
    main()
