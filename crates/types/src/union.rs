//! `open_union!`: a `type`-tagged enum that keeps unknown variants as raw JSON.
//!
//! serde's `#[serde(other)]` only works on unit variants and so would throw the payload away; the
//! API adds event and block types between SDK releases, and users must still see them.
//!
//! Decoding streams: when `type` is the object's first key (as the API and every SDK write it) the
//! rest of the object goes straight into the variant's struct, with no intermediate
//! `serde_json::Value`. Only an unknown `type`, or an object whose `type` comes later, is buffered
//! as a `Value`. Either way the variant's struct never sees the `type` key itself.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

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
        ///
        /// Open: the API adds types between releases, so matches need a wildcard arm.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
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
                deserializer.deserialize_map($crate::union::UnionVisitor::<Self>::new())
            }
        }

        impl<'de> $crate::union::OpenUnion<'de> for $name {
            const NAME: &'static str = stringify!($name);

            fn known<A: serde::de::MapAccess<'de>>(tag: &str, rest: A) -> Result<Result<Self, A::Error>, A> {
                use serde::de::Error as _;
                match tag {
                    $( $tag => Ok(<$ty as serde::Deserialize>::deserialize(serde::de::value::MapAccessDeserializer::new(rest))
                        .map(Self::$variant)
                        .map_err(|e| A::Error::custom(format_args!("{} `{}`: {}", stringify!($name), $tag, e)))), )*
                    _ => Err(rest),
                }
            }

            fn known_from_object(
                tag: &str,
                fields: serde_json::Map<String, serde_json::Value>,
            ) -> Result<serde_json::Result<Self>, serde_json::Map<String, serde_json::Value>> {
                use serde::de::Error as _;
                match tag {
                    $( $tag => Ok(<$ty as serde::Deserialize>::deserialize(serde_json::Value::Object(fields))
                        .map(Self::$variant)
                        .map_err(|e| serde_json::Error::custom(format_args!("{} `{}`: {}", stringify!($name), $tag, e)))), )*
                    _ => Err(fields),
                }
            }

            fn unknown(raw: serde_json::Value) -> Self {
                Self::Unknown(raw)
            }
        }
    };
}

pub(crate) use open_union;

/// What [`UnionVisitor`] needs from an `open_union!` enum.
pub(crate) trait OpenUnion<'de>: Sized {
    const NAME: &'static str;
    /// Decodes the variant for `tag` from the rest of the object; the rest back if `tag` is
    /// unknown.
    fn known<A: MapAccess<'de>>(tag: &str, rest: A) -> Result<Result<Self, A::Error>, A>;
    /// The same from a buffered object (without its `type` key); the fields back if `tag` is
    /// unknown.
    fn known_from_object(
        tag: &str,
        fields: Map<String, Value>,
    ) -> Result<serde_json::Result<Self>, Map<String, Value>>;
    fn unknown(raw: Value) -> Self;
}

pub(crate) struct UnionVisitor<U>(PhantomData<U>);

impl<U> UnionVisitor<U> {
    pub(crate) fn new() -> Self {
        Self(PhantomData)
    }
}

impl<'de, U: OpenUnion<'de>> Visitor<'de> for UnionVisitor<U> {
    type Value = U;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {} object with a `type` field", U::NAME)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<U, A::Error> {
        use de::Error as _;
        let first: Option<Text<'de>> = map.next_key()?;
        let mut fields = Map::new();
        if let Some(key) = first {
            if key.0 == "type" {
                let tag = match map.next_value::<Tag<'de>>()? {
                    Tag(Some(tag)) => tag,
                    Tag(None) => return Err(not_a_string::<U, _>()),
                };
                return match U::known(&tag, map) {
                    Ok(decoded) => decoded,
                    Err(rest) => {
                        fields.insert("type".into(), Value::String(tag.into_owned()));
                        collect_into(fields, rest).map(|raw| U::unknown(Value::Object(raw)))
                    }
                };
            }
            fields.insert(key.0.into_owned(), map.next_value()?);
        }
        // `type` is not first: buffer the object to find it.
        let mut fields = collect_into(fields, map)?;
        let tag = match fields.remove("type") {
            Some(Value::String(tag)) => tag,
            Some(_) => return Err(not_a_string::<U, _>()),
            None => {
                return Err(A::Error::custom(format_args!(
                    "{}: missing field `type`",
                    U::NAME
                )));
            }
        };
        match U::known_from_object(&tag, fields) {
            Ok(decoded) => decoded.map_err(A::Error::custom),
            Err(mut fields) => {
                fields.insert("type".into(), Value::String(tag));
                Ok(U::unknown(Value::Object(fields)))
            }
        }
    }
}

fn not_a_string<'de, U: OpenUnion<'de>, E: de::Error>() -> E {
    E::custom(format_args!("{}: `type` is not a string", U::NAME))
}

fn collect_into<'de, A: MapAccess<'de>>(
    mut fields: Map<String, Value>,
    mut map: A,
) -> Result<Map<String, Value>, A::Error> {
    while let Some((key, value)) = map.next_entry::<String, Value>()? {
        fields.insert(key, value);
    }
    Ok(fields)
}

/// A string borrowed from the input when the input allows (JSON text without escapes), so a key
/// or tag costs no allocation.
pub(crate) struct Text<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// A `type` value: the string, or `None` for any other JSON value (so the error can say so).
struct Tag<'de>(Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for Tag<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagVisitor;
        impl<'de> Visitor<'de> for TagVisitor {
            type Value = Tag<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Tag<'de>, E> {
                Ok(Tag(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Tag<'de>, E> {
                Ok(Tag(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Tag<'de>, E> {
                Ok(Tag(Some(Cow::Owned(v))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Tag<'de>, E> {
                Ok(Tag(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Tag<'de>, E> {
                Ok(Tag(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Tag<'de>, E> {
                Ok(Tag(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Tag<'de>, E> {
                Ok(Tag(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Tag<'de>, E> {
                Ok(Tag(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Tag<'de>, E> {
                Ok(Tag(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Tag<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Tag(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tag<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Tag(None))
            }
        }
        deserializer.deserialize_any(TagVisitor)
    }
}
