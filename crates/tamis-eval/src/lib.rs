//! `tamis eval`: evaluations on the data in `../shared/data`.

pub mod classify;
pub mod cranfield;
pub mod fusion;
pub mod harmful;
pub mod perturb;
pub mod report;
pub mod store;
