//! One module per command group.

pub mod db;
pub mod image;
pub mod inventory;
pub mod sbom;
pub mod serve;
