//! Platforms (`os/arch[/variant]`): the type lives in `portcullis-types`.

pub use portcullis_types::Platform;
