//! Bounded connections: how many each client address and the whole node
//! may hold, and a small reserve of brief ones beyond those. [`Gate`] is
//! the pure admission rule; [`SharedGate`] shares it between an accept loop
//! and the connections it admitted (the HTTP listener, SIP over TCP and
//! TLS in the voice shell).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What every connection is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub header_read: Duration,
    pub idle: Duration,
    pub per_address: usize,
    pub total: usize,
    /// Brief connections beyond the caps (one request each, then closed).
    pub brief: usize,
    /// A brief connection's deadline for its headers and for idling.
    pub brief_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self::for_descriptors(1024)
    }
}

impl Limits {
    /// Limits for a process allowed `descriptors` open files: HTTP takes at
    /// most half (brief ones included), the rest is kept for SIP, RTP
    /// (four sockets a call), the database and files.
    pub fn for_descriptors(descriptors: u64) -> Self {
        let half = usize::try_from(descriptors / 2)
            .unwrap_or(usize::MAX)
            .max(64);
        let brief = (half / 16).clamp(16, 256);
        Self {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(120),
            per_address: 512.min(half - brief),
            total: half - brief,
            brief,
            brief_deadline: Duration::from_secs(3),
        }
    }
}

/// How a new connection is admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Normal,
    /// Over a cap: one request on a tight deadline.
    Brief,
    Refused,
}

/// Counts open connections per address and in all; decides admissions.
#[derive(Debug)]
pub struct Gate {
    limits: Limits,
    per_address: HashMap<IpAddr, usize>,
    normal: usize,
    brief: usize,
}

impl Gate {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            per_address: HashMap::new(),
            normal: 0,
            brief: 0,
        }
    }

    pub fn admit(&mut self, address: IpAddr) -> Admission {
        let mine = self.per_address.get(&address).copied().unwrap_or(0);
        let admission = if mine < self.limits.per_address && self.normal < self.limits.total {
            self.normal += 1;
            Admission::Normal
        } else if self.brief < self.limits.brief {
            self.brief += 1;
            Admission::Brief
        } else {
            return Admission::Refused;
        };
        *self.per_address.entry(address).or_insert(0) += 1;
        admission
    }

    pub fn release(&mut self, address: IpAddr, admission: Admission) {
        match admission {
            Admission::Normal => self.normal = self.normal.saturating_sub(1),
            Admission::Brief => self.brief = self.brief.saturating_sub(1),
            Admission::Refused => return,
        }
        if let Some(n) = self.per_address.get_mut(&address) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&address);
            }
        }
    }

    /// Connections open now (normal, brief).
    pub fn open(&self) -> (usize, usize) {
        (self.normal, self.brief)
    }
}

/// Raises the soft limit on open files to the hard limit; returns the
/// limit in force. A server holding many connections and RTP sockets
/// needs more than the usual default of 1024.
pub fn raise_descriptor_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    if limit.maximum.is_some() && limit.current != limit.maximum {
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!("open-file limit not raised: {e}");
            return limit.current.unwrap_or(1024);
        }
        return limit.maximum.unwrap_or(1024);
    }
    limit.current.unwrap_or(u64::from(u32::MAX))
}

/// A [`Gate`] shared by an accept loop and the connections it admitted
/// (HTTP here; SIP over TCP and TLS in the voice shell).
#[derive(Debug, Clone)]
pub struct SharedGate(Arc<Mutex<Gate>>);

impl SharedGate {
    pub fn new(limits: Limits) -> Self {
        Self(Arc::new(Mutex::new(Gate::new(limits))))
    }

    /// A place for a connection from `address` (IPv6 counted by /64), held
    /// until the permit is dropped; `None` when refused.
    pub fn admit(&self, address: IpAddr) -> Option<Permit> {
        let address = crate::throttle::address_key(address);
        let admission = self.lock().admit(address);
        (admission != Admission::Refused).then(|| Permit {
            gate: self.clone(),
            address,
            admission,
        })
    }

    /// Connections open now (normal, brief).
    pub fn open(&self) -> (usize, usize) {
        self.lock().open()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A connection's place in a [`SharedGate`], given back when dropped: for
/// HTTP with the stream, after the response, or, for a WebSocket, when the
/// socket ends (the upgraded stream carries it along).
#[derive(Debug)]
pub struct Permit {
    gate: SharedGate,
    address: IpAddr,
    admission: Admission,
}

impl Permit {
    pub fn admission(&self) -> Admission {
        self.admission
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.gate.lock().release(self.address, self.admission);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            per_address: 2,
            total: 3,
            brief: 1,
            ..Limits::for_descriptors(1024)
        }
    }

    #[test]
    fn one_address_takes_its_share_and_then_a_brief_slot() {
        let mut gate = Gate::new(limits());
        let a: IpAddr = "203.0.113.9".parse().unwrap();
        let b: IpAddr = "198.51.100.4".parse().unwrap();
        assert_eq!(gate.admit(a), Admission::Normal);
        assert_eq!(gate.admit(a), Admission::Normal);
        assert_eq!(gate.admit(a), Admission::Brief, "over its own cap");
        assert_eq!(gate.admit(a), Admission::Refused, "no brief slot left");
        assert_eq!(gate.admit(b), Admission::Normal, "others still get in");
        assert_eq!(
            gate.admit(b),
            Admission::Refused,
            "total reached, brief taken"
        );
        gate.release(a, Admission::Brief);
        assert_eq!(gate.admit(b), Admission::Brief);
        gate.release(a, Admission::Normal);
        assert_eq!(gate.admit(b), Admission::Refused, "b holds its two");
        let c: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(gate.admit(c), Admission::Normal);
        assert_eq!(gate.open(), (3, 1));
    }

    #[test]
    fn limits_leave_half_the_descriptors_to_calls() {
        let l = Limits::for_descriptors(20_000);
        assert!(l.total + l.brief <= 10_000, "{l:?}");
        assert_eq!(l.per_address, 512);
        let small = Limits::for_descriptors(256);
        assert!(
            small.total + small.brief <= 128 && small.total > 0,
            "{small:?}"
        );
    }
}
