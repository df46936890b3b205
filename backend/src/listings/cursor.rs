//! Keyset paging of the market: a page ends at a listing, and the next page starts strictly after it
//! in the page's order (soonest start first, or cheapest first; ties by id), so page 1,000 costs what
//! page 1 costs and a listing added meanwhile never shifts what comes next.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The market's orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MarketOrder {
    /// Soonest event first.
    #[default]
    Start,
    /// Cheapest first.
    Price,
}

impl MarketOrder {
    fn tag(self) -> &'static str {
        match self {
            Self::Start => "s",
            Self::Price => "p",
        }
    }
}

/// Where a page ended: the last listing's sort key (its start to the microsecond, as stored, or its
/// price) and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageCursor {
    pub order: MarketOrder,
    pub key: i64,
    pub id: Uuid,
}

impl PageCursor {
    pub fn after_start(starts_at: DateTime<Utc>, id: Uuid) -> Self {
        Self { order: MarketOrder::Start, key: starts_at.timestamp_micros(), id }
    }

    pub fn after_price(price: i64, id: Uuid) -> Self {
        Self { order: MarketOrder::Price, key: price, id }
    }

    /// The start a [`MarketOrder::Start`] cursor ended at.
    pub fn start(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_micros(self.key)
    }

    /// The opaque form clients send back as `after`.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}.{}.{}", self.order.tag(), self.key, self.id.simple()))
    }

    /// Reads a cursor this server gave out for `order`; `None` for anything else: another order's
    /// cursor, a time no listing can have (before 1970 or after 9999, which PostgreSQL might not even
    /// store), a negative price.
    pub fn decode(raw: &str, order: MarketOrder) -> Option<Self> {
        const LAST: i64 = 253_402_300_799_999_999; // 9999-12-31T23:59:59.999999Z
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let mut parts = text.splitn(3, '.');
        let (tag, key, id) = (parts.next()?, parts.next()?, parts.next()?);
        if tag != order.tag() {
            return None;
        }
        let key: i64 = key.parse().ok().filter(|key| (0..=LAST).contains(key))?;
        Some(Self { order, key, id: Uuid::try_parse(id).ok()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_itself() {
        let start = DateTime::from_timestamp_micros(1_764_547_200_123_456).expect("time");
        let cursor = PageCursor::after_start(start, Uuid::new_v4());
        assert_eq!(PageCursor::decode(&cursor.encode(), MarketOrder::Start), Some(cursor));
        assert_eq!(cursor.start(), Some(start));
        let by_price = PageCursor::after_price(4_500, Uuid::new_v4());
        assert_eq!(PageCursor::decode(&by_price.encode(), MarketOrder::Price), Some(by_price));
    }

    #[test]
    fn anything_else_is_not_a_cursor() {
        let id = Uuid::nil().simple().to_string();
        let start = PageCursor::after_start(DateTime::UNIX_EPOCH, Uuid::nil()).encode();
        assert_eq!(PageCursor::decode(&start, MarketOrder::Price), None, "another order's cursor");
        for raw in [
            "",
            "x",
            "not base64!",
            &URL_SAFE_NO_PAD.encode("s.12.nope"),
            &URL_SAFE_NO_PAD.encode("x.y.z"),
            &URL_SAFE_NO_PAD.encode(format!("s.-300000000000000000.{id}")),
            &URL_SAFE_NO_PAD.encode(format!("s.253402300800000000.{id}")),
            &URL_SAFE_NO_PAD.encode(format!("12.{id}")),
        ] {
            assert_eq!(PageCursor::decode(raw, MarketOrder::Start), None, "{raw}");
        }
    }
}
