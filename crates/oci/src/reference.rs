//! Registry image references: the type lives in `portcullis-types`.

pub use portcullis_types::reference::{
    DEFAULT_REGISTRY, DEFAULT_REGISTRY_API_HOST, DEFAULT_TAG, Reference,
};
