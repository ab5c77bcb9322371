//! # switchboard-reports
//!
//! What reports compute, with no I/O: the shell reads contact records,
//! agent state changes and the configuration, and hands them here.
//!
//! - [`usage`] meters (voice minutes per leg, chat messages, number-days)
//!   and the [`usage::RateCard`] that prices them, per contact and per day.
//! - [`historical`] computes Connect's historical metrics (contacts handled and
//!   abandoned, average handle time, speed of answer, abandon time, service
//!   level, occupancy, time in each agent status) per interval and group.
//! - [`realtime`] buckets agents by kind of state (online, available, on contact,
//!   after-contact work, non-productive, error, staffed) and queues now.
//! - [`simulate`] plays a scripted day of contacts and agents through the
//!   real router on a simulated clock and gives the records and state
//!   changes the shells would write: the metrics' tests and benchmark run on it.

pub mod historical;
pub mod realtime;
pub mod simulate;
pub mod usage;
