//! `open_union!`: a `type`-tagged enum that keeps unknown variants as raw JSON.
//!
//! serde's `#[serde(other)]` only works on unit variants and so would throw the payload away; the
//! API adds event and block types between SDK releases, and users must still see them.

/// Serializes a variant's struct with the `type` tag written first.
#[derive(serde::Serialize)]
pub(crate) struct Tagged<'a, T> {
    #[serde(rename = "type")]
    pub(crate) tag: &'a str,
    #[serde(flatten)]
    pub(crate) inner: &'a T,
}

macro_rules! open_union {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $tag:literal => $variant:ident($ty:ty), )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $name {
            $( $(#[$vmeta])* $variant($ty), )*
            /// A `type` this version of the crate does not know, kept verbatim.
            Unknown(serde_json::Value),
        }

        impl $name {
            /// Every `type` string this crate knows for this union.
            pub const KNOWN_TYPES: &'static [&'static str] = &[$($tag),*];

            /// The wire `type` string of this value.
            pub fn type_name(&self) -> &str {
                match self {
                    $( Self::$variant(_) => $tag, )*
                    Self::Unknown(raw) => raw.get("type").and_then(|t| t.as_str()).unwrap_or(""),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( Self::$variant(inner) => $crate::union::Tagged { tag: $tag, inner }.serialize(serializer), )*
                    Self::Unknown(raw) => raw.serialize(serializer),
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                use serde::de::Error as _;
                let raw = serde_json::Value::deserialize(deserializer)?;
                let tag = match raw.get("type") {
                    Some(serde_json::Value::String(tag)) => tag.as_str(),
                    Some(_) => return Err(D::Error::custom(concat!(stringify!($name), ": `type` is not a string"))),
                    None => return Err(D::Error::custom(concat!(stringify!($name), ": missing field `type`"))),
                };
                match tag {
                    $( $tag => <$ty as serde::Deserialize>::deserialize(&raw)
                        .map(Self::$variant)
                        .map_err(|e| D::Error::custom(format_args!("{} `{}`: {}", stringify!($name), $tag, e))), )*
                    _ => Ok(Self::Unknown(raw)),
                }
            }
        }
    };
}

pub(crate) use open_union;
