//! What the injector and the config server share around the engine:
//! [`dir`], the directory source (an injector without a config server runs
//! it in-process); [`versioner`], turning inputs into numbered engines off
//! the async runtime; [`native`], the native-sidecar mode and how `auto`
//! decides; [`channel`], the gRPC channel to the config server;
//! [`telemetry`], logs and traces; [`process`], start-up and shutdown; [`duration`], durations
//! on the command line.

pub mod channel;
pub mod dir;
pub mod duration;
pub mod native;
pub mod process;
pub mod report;
pub mod telemetry;
pub mod versioner;
