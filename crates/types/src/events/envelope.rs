//! `Event<T>`: the `id` and `processed_at` around every stored event's body, decoded without
//! buffering the object.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{CowStrDeserializer, MapAccessDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::shared::Timestamp;
use crate::union::Text;

/// The fields every stored event has around its type-specific body.
///
/// Deserialized by hand: `#[serde(flatten)]` would buffer every field into serde's internal
/// content tree before the body sees it. Here the body reads the object directly, with `id` and
/// `processed_at` taken out on the way (see [`EventFields`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event<T> {
    pub id: String,
    #[serde(default)]
    pub processed_at: Option<Timestamp>,
    #[serde(flatten)]
    pub body: T,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Event<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EventVisitor(PhantomData))
    }
}

struct EventVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for EventVisitor<T> {
    type Value = Event<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Event<T>, A::Error> {
        let mut id = None;
        let mut processed_at = None;
        let fields = EventFields {
            map,
            id: &mut id,
            processed_at: &mut processed_at,
        };
        let body = T::deserialize(MapAccessDeserializer::new(fields))?;
        Ok(Event {
            id: id.ok_or_else(|| de::Error::missing_field("id"))?,
            processed_at: processed_at.flatten(),
            body,
        })
    }
}

/// The fixed form the API writes (`2026-11-24T12:00:00.000001Z`) by hand first, then chrono's
/// dedicated RFC 3339 parser, then its general one for anything the strict one refuses, so the
/// accepted inputs stay the same.
///
/// Why by hand: in `cargo bench --bench sse` (typed) chrono's RFC 3339 parser was ~5 % of all
/// decoding time, every event carrying one timestamp; its serde impl, the general format parser,
/// was several times slower still.
fn parse_timestamp(text: &str) -> Result<Timestamp, chrono::ParseError> {
    if let Some(at) = parse_utc_fixed(text.as_bytes()) {
        return Ok(at);
    }
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(at) => Ok(at.with_timezone(&chrono::Utc)),
        Err(_) => text.parse(),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z` exactly; `None` for anything else (offsets, lower case, a
/// leap second, an invalid date), which the callers hand to chrono.
fn parse_utc_fixed(b: &[u8]) -> Option<Timestamp> {
    fn digits(b: &[u8]) -> Option<u32> {
        b.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    }
    let (head, rest) = b.split_at_checked(19)?;
    if head[4] != b'-'
        || head[7] != b'-'
        || head[10] != b'T'
        || head[13] != b':'
        || head[16] != b':'
    {
        return None;
    }
    let nanos = match rest {
        [b'Z'] => 0,
        [b'.', fraction @ .., b'Z'] if (1..=9).contains(&fraction.len()) => {
            digits(fraction)? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let year = i32::try_from(digits(&head[0..4])?).ok()?;
    let date = chrono::NaiveDate::from_ymd_opt(year, digits(&head[5..7])?, digits(&head[8..10])?)?;
    let time = chrono::NaiveTime::from_hms_nano_opt(
        digits(&head[11..13])?,
        digits(&head[14..16])?,
        digits(&head[17..19])?,
        nanos,
    )?;
    Some(date.and_time(time).and_utc())
}

/// An event object's fields as the body sees them: `id` and `processed_at` are taken out into
/// the event's own slots as they go by, everything else passes through.
struct EventFields<'a, A> {
    map: A,
    id: &'a mut Option<String>,
    processed_at: &'a mut Option<Option<Timestamp>>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for EventFields<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        while let Some(Text(key)) = self.map.next_key()? {
            match &*key {
                "id" => *self.id = Some(self.map.next_value()?),
                "processed_at" => {
                    let text: Option<Text<'de>> = self.map.next_value()?;
                    let at = text.map(|t| parse_timestamp(&t.0)).transpose();
                    *self.processed_at = Some(at.map_err(de::Error::custom)?);
                }
                _ => return seed.deserialize(CowStrDeserializer::new(key)).map(Some),
            }
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

impl<T> Event<T> {
    /// A stored event: the API stamps every event with an id and the time it was processed.
    pub fn new(id: impl Into<String>, processed_at: Timestamp, body: T) -> Self {
        Self {
            id: id.into(),
            processed_at: Some(processed_at),
            body,
        }
    }
}
