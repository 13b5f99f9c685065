//! The core types every workflow shares; nothing in here calls AWS.

pub mod config;
pub mod error;
pub mod ids;
pub mod model;
pub mod modes;
pub mod parse;
pub mod ports;
pub mod tags;
pub mod time;
