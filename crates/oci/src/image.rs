//! What we know about an opened image: the types live in `portcullis-types`.

pub use portcullis_types::image::{
    Healthcheck, ImageConfig, ImageInfo, LayerDescriptor, SourceKind,
};
