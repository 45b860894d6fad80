//! The `injector` binary's edges around the engine
//! ([`injector_engine`]): the [`cli`]; the [`offline`] commands; and
//! [`serve`], which runs the admission [`webhook`] over [`tls`] (at most
//! so many [`connections`]) with the [`admin`] port and [`metrics`], fed by
//! the [`snapshot`] store.

pub mod admin;
pub mod cli;
pub mod connections;
pub mod metrics;
pub mod offline;
pub mod serve;
pub mod snapshot;
pub mod tls;
pub mod webhook;
