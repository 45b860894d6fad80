//! This reader against serde-saphyr, set up as the engine sets it up.

mod corpus;
mod generated;
mod limits;
mod oracle;
mod resolution;
