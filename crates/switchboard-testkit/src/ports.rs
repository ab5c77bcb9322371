//! Ports that cannot be stolen.
//!
//! Binding port 0, reading the port and closing the socket before a child
//! binds it is a race: on a busy machine another test's child (or the kernel,
//! handing out an ephemeral port) takes it in between, and the INVITE meant
//! for one SIPp reaches another. Here every port a test hands to a child is:
//!
//! - outside the kernel's ephemeral range (`ip_local_port_range`), so nothing
//!   bound to port 0 is ever given it;
//! - locked with `flock` on a file under `$TMPDIR/switchboard-test-ports/`,
//!   so no other test process takes it (`scripts/test` locks PostgreSQL's
//!   port the same way); the lock goes when the process ends, however it ends;
//! - reserved for the rest of the process, never handed out twice, so a test
//!   that finishes cannot give its port to another while a child of the first
//!   is still exiting. A test process uses a few hundred ports at most, of
//!   some twenty thousand.
//!
//! A port is also checked free (UDP and TCP on 127.0.0.1) when reserved, in
//! case a process outside the tests listens there.

use std::fs::{File, OpenOptions, TryLockError};
use std::net::{TcpListener, UdpSocket};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Mutex;

/// The lock files of the ports this process holds, kept until it exits.
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// One free port, for UDP or TCP on loopback.
pub fn port() -> u16 {
    block(1)
}

/// The first of `n` consecutive free ports; the first is even (RTP's rule,
/// with RTCP on the next one). SIPp's `-rtp_echo` uses its media port and
/// the port two above, so give it a block of 4.
pub fn block(n: u16) -> u16 {
    assert!(n >= 1, "a block has at least one port");
    let range = candidates();
    let width = range.end - range.start;
    let start = scatter() % width;
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    // Each candidate block is tried once, starting somewhere different in
    // each process so that parallel processes rarely meet.
    for step in (0..width).step_by(2) {
        let first = range.start + (start + step) % width;
        let first = first & !1;
        if first < range.start || first + u32::from(n) > range.end {
            continue;
        }
        if let Some(locks) = lock_block(first, n) {
            held.extend(locks);
            return first as u16;
        }
    }
    panic!(
        "no block of {n} free ports in {range:?} (see {})",
        lock_dir().display()
    );
}

/// Locks and checks every port of `[first, first + n)`, or none of them.
fn lock_block(first: u32, n: u16) -> Option<Vec<File>> {
    let mut locks = Vec::with_capacity(usize::from(n));
    for port in first..first + u32::from(n) {
        let port = port as u16;
        let file = lock(port)?;
        if !free_now(port) {
            return None;
        }
        locks.push(file);
    }
    Some(locks)
}

/// The lock file of `port`, locked by us, or None when another holds it.
///
/// The folder is shared by every user of the machine (root's CI run and a
/// developer's own): it is made world-writable with the sticky bit, and a
/// lock file another user made is opened read-only (`flock` needs no more).
fn lock(port: u16) -> Option<File> {
    use std::os::unix::fs::PermissionsExt;
    let dir = lock_dir();
    if !dir.exists() {
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777));
    }
    let path = dir.join(format!("{port}.lock"));
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(_) => OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display())),
    };
    match file.try_lock() {
        Ok(()) => Some(file),
        Err(TryLockError::WouldBlock) => None,
        Err(TryLockError::Error(e)) => panic!("cannot lock {}: {e}", path.display()),
    }
}

/// Whether nothing listens on `port` now (UDP and TCP, loopback).
fn free_now(port: u16) -> bool {
    UdpSocket::bind(("127.0.0.1", port)).is_ok() && TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Where the lock files live; shared by every test process of the machine.
pub fn lock_dir() -> PathBuf {
    std::env::temp_dir().join("switchboard-test-ports")
}

/// The ports tests may use: below the ephemeral range when there is room
/// (Linux's default range is 32768-60999, so 10000-32767), else above it.
pub fn candidates() -> Range<u32> {
    let (low, high) = ephemeral_range().unwrap_or((32768, 60999));
    if low >= 10000 + 1024 {
        10000..low
    } else if high + 1024 < 65536 {
        high + 1..65536
    } else {
        // The whole space is ephemeral: the locks still keep tests apart.
        10000..65536
    }
}

fn ephemeral_range() -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().map(|n| n.parse::<u32>().ok());
    Some((it.next()??, it.next()??))
}

/// A number that differs between processes and between calls.
fn scatter() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_ports_are_distinct_even_where_asked_and_outside_the_ephemeral_range() {
        let range = candidates();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let p = port();
            assert!(range.contains(&u32::from(p)), "{p} outside {range:?}");
            assert!(seen.insert(p), "{p} handed out twice");
            let b = block(4);
            assert_eq!(b % 2, 0, "a block starts even");
            for q in b..b + 4 {
                assert!(seen.insert(q), "{q} handed out twice");
            }
        }
    }

    #[test]
    fn a_port_locked_elsewhere_is_not_handed_out() {
        let p = port();
        // Another holder (a second open file, as another process would have)
        // cannot take the lock while we hold it.
        assert!(lock(p).is_none(), "the lock on {p} is exclusive");
    }
}
