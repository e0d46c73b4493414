//! One module per command group.

pub mod activate;
pub mod db;
pub mod deactivate;
pub mod image;
pub mod inventory;
pub mod manifests;
pub mod policy;
pub mod sbom;
pub mod scan;
pub mod serve;
pub mod status;
