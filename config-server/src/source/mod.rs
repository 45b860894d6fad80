//! Where the inputs come from: the two ConfigMaps ([`kube`]) or a
//! directory ([`dir`]). Each source feeds a [`Publisher`] and adds its own
//! way of reporting a refused input.
//!
//! [`Publisher`]: crate::snapshot::Publisher

pub mod dir;
pub mod kube;

use injector_engine::RawConfig;
use proto::v1::Provenance;

/// The three inputs and where each came from.
#[derive(Clone, Debug)]
pub struct Input {
    pub raw: RawConfig,
    pub provenance: Vec<Provenance>,
}
