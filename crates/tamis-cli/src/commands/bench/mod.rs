//! `tamis bench`: speed measurements that print a table.

pub mod embed;
pub mod fuse;
pub mod gpu;
