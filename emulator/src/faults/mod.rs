//! Every fault the emulator can inject, in one place: per Region (`region`:
//! outages, throttling, server errors, latency, lost responses), per
//! replication (`crate::world::model::ReplicationFault`, set here through
//! the control API), forced backup outcomes, and the behaviours AWS leaves
//! open (`variants`, with the kind and unkind profiles). `control` holds
//! their control API routes.

pub mod control;
mod region;
pub mod variants;

pub use region::*;
