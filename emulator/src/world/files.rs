//! A file as the world keeps it: its content and the write it came from.
//! File systems, replication snapshots and recovery points all hold these.

use serde::Serialize;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FileEntry {
    pub content: String,
    /// Global write sequence number: which acknowledged write this content came from.
    pub seq: u64,
    pub written_at: f64,
    /// The bytes this write stands for (syncs take time in proportion).
    pub size: u64,
}
