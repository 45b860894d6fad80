//! Where the raw configuration comes from, for processes that load it
//! themselves: the config server, and an injector running without one.
//!
//! Only the directory source lives here; the ConfigMap watch needs a cluster
//! client and lives in the config server, which depends on this crate.

pub mod dir;
