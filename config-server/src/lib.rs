//! The config plane's server: watches the injector's inputs (two ConfigMaps,
//! or a directory), validates every change with the injection engine itself,
//! and streams each valid configuration as a versioned snapshot to every
//! injector replica, tracking which replica serves which.
//!
//! [`source`] reads the inputs, [`cluster`] what the cluster runs, [`snapshot`] validates and numbers them,
//! [`hub`] holds what the server knows, [`service`] is the gRPC face of the
//! hub, [`status`] prints it for `config-server status`, and [`admin`] serves
//! its metrics; [`command`] runs what `main` parsed.

pub mod admin;
pub mod certs;
pub mod cli;
pub mod cluster;
pub mod command;
pub mod drift;
pub mod hub;
pub mod serve;
pub mod service;
pub mod snapshot;
pub mod source;
pub mod status;
