//! # switchboard-tests
//!
//! No library code: the whole-node tests live in `tests/`. Each starts the
//! shells together as `switchboard serve` does (the HTTP API and pages,
//! voice, chat and the CCP over one store and router) on loopback ports,
//! and drives them with real peers: SIPp as carriers and desk phones, a
//! TLS client, and Chromium and Firefox (through playwright-core, in
//! `tests/browser`) as agents, supervisors, administrators and customers.
//! They sit here because each needs every shell, and no shell depends on
//! all the others.
