//! `tamis eval`: evaluations on the data in `../shared/data`.

pub mod cranfield;
pub mod fusion;
