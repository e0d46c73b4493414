//! The [`Package`] type shared by every cataloger: it lives in `portcullis-types`.

pub use portcullis_types::package::{Ecosystem, Extra, Package};
