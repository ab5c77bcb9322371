//! What Switchboard's integration tests share, so that they stay green on a
//! busy machine:
//!
//! - [`ports`]: ports reserved with a lock file, from outside the kernel's
//!   ephemeral range, so no other test (in this process or another) and no
//!   socket bound to port 0 can take one between the reservation and the
//!   moment a child (SIPp, PostgreSQL...) binds it;
//! - [`wait`]: waiting for an event (a socket bound, a record in a state)
//!   with a generous deadline, never a fixed sleep;
//! - [`ws`]: JSON frames over a WebSocket (the CCP's and the chat's).

// Test support: an unwrap that fails is the test failing, with its message.
#![allow(clippy::unwrap_used)]

pub mod ports;
pub mod wait;
pub mod ws;
