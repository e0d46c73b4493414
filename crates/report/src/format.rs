//! The output-format enums' common part, declared once by [`output_format!`].

/// Declares an output-format enum: its variants with their names, `ALL` and `NAMES` (in
/// the same order, for `--help`), `name()`, `Display`, and a case-insensitive `FromStr`
/// whose error lists the names.
macro_rules! output_format {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every format, in the order of `NAMES`.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];
            /// The names accepted by `FromStr` (and shown by `--help`).
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The format's name, as accepted by `FromStr`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::Error;

            fn from_str(s: &str) -> $crate::error::Result<Self> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
                    .ok_or_else(|| {
                        $crate::error::Error::new(
                            $crate::error::ErrorKind::UnknownFormat,
                            format!(
                                "unknown {} format '{s}' (expected one of: {})",
                                $what,
                                Self::NAMES.join(", ")
                            ),
                        )
                    })
            }
        }
    };
}

pub(crate) use output_format;
