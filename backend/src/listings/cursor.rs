//! Keyset paging of the market: a page ends at a listing, and the next page starts strictly after it
//! in the market's order (newest first, ties by id), so page 1,000 costs what page 1 costs and a
//! listing added meanwhile never shifts what comes next.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Where a page ended: the last listing's creation time (to the microsecond, as stored) and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl PageCursor {
    /// The opaque form clients send back as `after`.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}.{}", self.created_at.timestamp_micros(), self.id.simple()))
    }

    /// Reads a cursor this server gave out; `None` for anything else, a time no listing can have
    /// (before 1970 or after 9999, which PostgreSQL might not even store) included.
    pub fn decode(raw: &str) -> Option<Self> {
        const LAST: i64 = 253_402_300_799_999_999; // 9999-12-31T23:59:59.999999Z
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let (micros, id) = text.split_once('.')?;
        let micros: i64 = micros.parse().ok().filter(|micros| (0..=LAST).contains(micros))?;
        let created_at = DateTime::from_timestamp_micros(micros)?;
        Some(Self { created_at, id: Uuid::try_parse(id).ok()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_itself() {
        let cursor = PageCursor {
            created_at: DateTime::from_timestamp_micros(1_764_547_200_123_456).expect("time"),
            id: Uuid::new_v4(),
        };
        assert_eq!(PageCursor::decode(&cursor.encode()), Some(cursor));
    }

    #[test]
    fn anything_else_is_not_a_cursor() {
        let id = Uuid::nil().simple().to_string();
        for raw in [
            "",
            "x",
            "not base64!",
            &URL_SAFE_NO_PAD.encode("12.nope"),
            &URL_SAFE_NO_PAD.encode("x.y.z"),
            &URL_SAFE_NO_PAD.encode(format!("-300000000000000000.{id}")),
            &URL_SAFE_NO_PAD.encode(format!("253402300800000000.{id}")),
        ] {
            assert_eq!(PageCursor::decode(raw), None, "{raw}");
        }
    }
}
