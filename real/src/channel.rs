//! The link between the backend and a sandbox's runner: a Unix `SOCK_SEQPACKET` socket pair, so
//! that every send is one message. Messages are short text lines with tab-separated fields; a
//! message may carry a file descriptor (a zygote gets the socket of the sandbox it forks) or the
//! sender's credentials (a forked sandbox tells the backend its host pid: the kernel translates
//! the pid into the receiver's PID namespace).

use std::io;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType,
    UnixCredentials, recvmsg, sendmsg, setsockopt, socketpair, sockopt,
};
use nix::sys::time::TimeVal;

/// Longest message, in bytes.
const MAX_MESSAGE: usize = 4096;

/// One end of a backend-runner link.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// A received message.
#[derive(Debug, Default)]
pub struct Message {
    pub text: String,
    /// A descriptor that came with it.
    pub fd: Option<OwnedFd>,
    /// The sender's pid (in the receiver's PID namespace), when it sent its credentials.
    pub pid: Option<i32>,
}

impl Message {
    /// The message's tab-separated fields.
    pub fn fields(&self) -> Vec<&str> {
        self.text.split('\t').collect()
    }
}

/// A receive that gave up after the timeout of [`Channel::set_timeout`].
fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::WouldBlock,
        "no answer from the sandbox in time",
    )
}

fn io_err(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

impl Channel {
    /// A connected pair; both ends are closed on exec.
    pub fn pair() -> io::Result<(Channel, Channel)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(io_err)?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    /// Takes over an inherited descriptor.
    ///
    /// # Safety
    /// `fd` must be an open socket that nothing else owns.
    pub unsafe fn from_raw(fd: RawFd) -> Channel {
        Channel {
            // SAFETY: the caller hands over ownership of an open descriptor.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        }
    }

    pub fn from_fd(fd: OwnedFd) -> Channel {
        Channel { fd }
    }

    /// Whether the other end has closed (its process died), without waiting or reading.
    pub fn peer_closed(&self) -> bool {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::empty())];
        matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
            && fds[0]
                .revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR))
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    pub fn send(&self, text: &str) -> io::Result<()> {
        self.send_with(text, &[])
    }

    /// Sends `text` with the descriptor `fd`.
    pub fn send_fd(&self, text: &str, fd: RawFd) -> io::Result<()> {
        self.send_with(text, &[ControlMessage::ScmRights(&[fd])])
    }

    /// Sends `text` with this process's credentials.
    pub fn send_credentials(&self, text: &str) -> io::Result<()> {
        let creds = UnixCredentials::new();
        self.send_with(text, &[ControlMessage::ScmCredentials(&creds)])
    }

    fn send_with(&self, text: &str, cmsgs: &[ControlMessage]) -> io::Result<()> {
        self.send_bytes(text.as_bytes(), cmsgs)
    }

    /// Sends one message of `bytes`, with control messages `cmsgs`.
    fn send_bytes(&self, bytes: &[u8], cmsgs: &[ControlMessage]) -> io::Result<()> {
        let iov = [IoSlice::new(bytes)];
        loop {
            match sendmsg::<()>(
                self.fd.as_raw_fd(),
                &iov,
                cmsgs,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(_) => return Ok(()),
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(io_err(e)),
            }
        }
    }

    /// Accepts credentials sent with [`Channel::send_credentials`].
    pub fn accept_credentials(&self) -> io::Result<()> {
        setsockopt(&self.fd, sockopt::PassCred, &true).map_err(io_err)
    }

    /// Makes [`Channel::recv`] give up after `timeout` (`None`: wait for ever).
    pub fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        let tv = match timeout {
            Some(d) => TimeVal::new(d.as_secs() as i64, d.subsec_micros() as i64),
            None => TimeVal::new(0, 0),
        };
        setsockopt(&self.fd, sockopt::ReceiveTimeout, &tv).map_err(io_err)
    }

    /// Waits for an answer that is `word` or starts with `word` and a tab, and returns it; an
    /// `error` answer, another answer, the runner's exit or a timeout is an error.
    pub fn expect(&self, word: &str) -> io::Result<String> {
        match self.recv()? {
            Some(m) if m.text == word || m.text.starts_with(&format!("{word}\t")) => Ok(m.text),
            Some(m) => Err(io::Error::other(format!(
                "the sandbox answered {:?} instead of {word}",
                m.text
            ))),
            None => Err(io::Error::other(format!(
                "the sandbox exited before answering {word}"
            ))),
        }
    }

    /// Sends `text`, then `payload` in messages of at most 4 KiB (none when
    /// it is empty); the receiver learns the payload's length from `text`.
    pub fn send_payload(&self, text: &str, payload: &[u8]) -> io::Result<()> {
        self.send(text)?;
        for chunk in payload.chunks(MAX_MESSAGE) {
            self.send_bytes(chunk, &[])?;
        }
        Ok(())
    }

    /// Receives a payload of `len` bytes sent with [`Channel::send_payload`].
    pub fn recv_payload(&self, len: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(len);
        let mut buf = [0u8; MAX_MESSAGE];
        while out.len() < len {
            let n = loop {
                match nix::sys::socket::recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                    Ok(n) => break n,
                    Err(nix::Error::EINTR) => continue,
                    Err(nix::Error::EAGAIN) => return Err(timed_out()),
                    Err(e) => return Err(io_err(e)),
                }
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the sandbox exited in the middle of a payload",
                ));
            }
            out.extend_from_slice(&buf[..n]);
        }
        Ok(out)
    }

    /// The next message; `None` when the other end is closed (its process exited). A timeout
    /// is an error of kind `WouldBlock`.
    pub fn recv(&self) -> io::Result<Option<Message>> {
        let mut buf = [0u8; MAX_MESSAGE];
        let mut space = nix::cmsg_space!(RawFd, libc_ucred::Ucred);
        loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(m) => m,
                Err(nix::Error::EINTR) => continue,
                Err(nix::Error::EAGAIN) => return Err(timed_out()),
                Err(e) => return Err(io_err(e)),
            };
            let bytes = msg.bytes;
            let mut out = Message::default();
            for c in msg.cmsgs().map_err(io_err)? {
                match c {
                    ControlMessageOwned::ScmRights(fds) => {
                        for fd in fds {
                            // SAFETY: the kernel just installed this descriptor for us.
                            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                            out.fd.get_or_insert(owned);
                        }
                    }
                    ControlMessageOwned::ScmCredentials(c) => out.pid = Some(c.pid()),
                    _ => {}
                }
            }
            if bytes == 0 && out.fd.is_none() && out.pid.is_none() {
                return Ok(None);
            }
            out.text = String::from_utf8_lossy(&buf[..bytes]).into_owned();
            return Ok(Some(out));
        }
    }
}

/// Space for one `ucred` in a control-message buffer.
mod libc_ucred {
    #[allow(dead_code)]
    #[repr(C)]
    pub struct Ucred {
        pid: i32,
        uid: u32,
        gid: u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_descriptors_and_credentials_cross() {
        let (a, b) = Channel::pair().unwrap();
        a.send("run\t1\t500").unwrap();
        let m = b.recv().unwrap().unwrap();
        assert_eq!(m.fields(), ["run", "1", "500"]);
        assert!(m.fd.is_none() && m.pid.is_none());

        let (c, d) = Channel::pair().unwrap();
        a.send_fd("fork", d.raw()).unwrap();
        drop(d);
        let m = b.recv().unwrap().unwrap();
        let passed = Channel::from_fd(m.fd.unwrap());
        passed.send("through").unwrap();
        assert_eq!(c.recv().unwrap().unwrap().text, "through");

        b.accept_credentials().unwrap();
        a.send_credentials("hello").unwrap();
        let m = b.recv().unwrap().unwrap();
        assert_eq!(m.pid, Some(std::process::id() as i32));

        b.set_timeout(Some(Duration::from_millis(20))).unwrap();
        let e = b.recv().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        drop(a);
        assert!(b.recv().unwrap().is_none());
    }
}
