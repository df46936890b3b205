//! A search of the market as the landing page's address carries it (`/?q=jazz+night&min=20&max=80&sort=price`),
//! so a search can be shared and survives a reload.

use std::fmt;

use percent_encoding::{AsciiSet, percent_decode_str, utf8_percent_encode};

use crate::api::types;
use crate::format;

/// What a buyer asked for: words, a price range as typed (dollars), and the order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Search {
    pub q: String,
    pub min: String,
    pub max: String,
    /// Cheapest first rather than soonest first.
    pub by_price: bool,
}

/// A price bound that is not a price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPrice {
    /// `min` or `max`.
    pub field: &'static str,
    pub message: String,
}

impl Search {
    pub fn is_empty(&self) -> bool {
        self.q.trim().is_empty() && self.min.trim().is_empty() && self.max.trim().is_empty()
    }

    /// The price range in minor units, or which bound is not a price.
    pub fn price_range(&self) -> Result<(Option<i64>, Option<i64>), BadPrice> {
        let bound = |field: &'static str, label: &str, raw: &str| {
            if raw.trim().is_empty() {
                return Ok(None);
            }
            format::parse_price(raw)
                .map(Some)
                .ok_or_else(|| BadPrice { field, message: format!("{label} must be an amount such as 20 or 19.50.") })
        };
        let min = bound("min", "Lowest price", &self.min)?;
        let max = bound("max", "Highest price", &self.max)?;
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            return Err(BadPrice { field: "max", message: "Highest price must not be below the lowest.".into() });
        }
        Ok((min, max))
    }

    /// Whether the market's search for this would find `listing` (for sale, its words in the event's
    /// name, venue or city, its price in range), as the server searches.
    pub fn finds(&self, listing: &types::TicketView) -> bool {
        let words = lowercase(self.q.trim());
        let said = |text: &str| lowercase(text).contains(&words);
        let (min, max) = self.price_range().unwrap_or_default();
        listing.for_sale
            && (words.is_empty() || said(&listing.event_name) || said(&listing.venue) || said(&listing.city))
            && min.is_none_or(|min| listing.price >= min)
            && max.is_none_or(|max| listing.price <= max)
    }

    /// Whether `listing` comes no later than `than` in the market's order for this search (the
    /// server's: by event start or price, then id).
    pub fn sorts_by(&self, listing: &types::TicketView, than: &types::TicketView) -> bool {
        let order = if self.by_price { listing.price.cmp(&than.price) } else { listing.starts_at.cmp(&than.starts_at) };
        order.then(listing.id.cmp(&than.id)).is_le()
    }

    pub fn sort(&self) -> types::MarketSort {
        if self.by_price { types::MarketSort::Price } else { types::MarketSort::Start }
    }
}

/// `text` in lower case, as ILIKE compares it. In the browser by its own `toLowerCase`: Rust's
/// would bring Unicode's case tables into the bundle (14 KiB of it gzipped).
#[cfg(target_arch = "wasm32")]
fn lowercase(text: &str) -> String {
    String::from(js_sys::JsString::from(text).to_lower_case())
}

#[cfg(not(target_arch = "wasm32"))]
fn lowercase(text: &str) -> String {
    text.to_lowercase()
}

/// What would change how the query splits into pairs, or be read as an escape or a space.
const SPLITTERS: &AsciiSet = &AsciiSet::EMPTY.add(b'&').add(b'=').add(b'+').add(b'%').add(b'#');

/// `value` for the address: spaces as `+`, [`SPLITTERS`] (and what is not ASCII) as `%XX`. The router
/// decodes the whole query once before [`From<&str>`] sees it, so the escapes are themselves escaped.
fn escape(value: &str, out: &mut String) {
    let escaped = utf8_percent_encode(value, SPLITTERS).to_string();
    out.push_str(&escaped.replace('%', "%25").replace(' ', "+"));
}

fn unescape(value: &str) -> String {
    percent_decode_str(&value.replace('+', " ")).decode_utf8_lossy().into_owned()
}

impl From<&str> for Search {
    fn from(query: &str) -> Self {
        let mut search = Self::default();
        for pair in query.trim_start_matches('?').split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = unescape(value);
            match key {
                "q" => search.q = value,
                "min" => search.min = value,
                "max" => search.max = value,
                "sort" => search.by_price = value == "price",
                _ => {}
            }
        }
        search
    }
}

impl fmt::Display for Search {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        for (key, value) in [("q", self.q.trim()), ("min", self.min.trim()), ("max", self.max.trim())] {
            if !value.is_empty() {
                out.push_str(if out.is_empty() { "" } else { "&" });
                out.push_str(key);
                out.push('=');
                escape(value, &mut out);
            }
        }
        if self.by_price {
            out.push_str(if out.is_empty() { "sort=price" } else { "&sort=price" });
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the router does between `Display` and `From<&str>`: the address, decoded once.
    fn through_the_address(search: &Search) -> Search {
        let shown = search.to_string();
        Search::from(percent_decode_str(&shown).decode_utf8_lossy().as_ref())
    }

    #[test]
    fn a_search_survives_the_address_bar() {
        let search = Search {
            q: "Jazz & Blues = 100% + more #1 café".into(),
            min: "20".into(),
            max: "80.5".into(),
            by_price: true,
        };
        assert_eq!(through_the_address(&search), search);
        let plain = Search { q: "jazz night".into(), ..Search::default() };
        assert_eq!(plain.to_string(), "q=jazz+night");
        assert_eq!(Search::default().to_string(), "");
        assert_eq!(Search::from("sort=price&x=1"), Search { by_price: true, ..Search::default() });
    }

    #[test]
    fn price_bounds_are_amounts_in_order() {
        let search = |min: &str, max: &str| Search { min: min.into(), max: max.into(), ..Search::default() };
        assert_eq!(search("20", "80.50").price_range(), Ok((Some(2000), Some(8050))));
        assert_eq!(search("", "").price_range(), Ok((None, None)));
        assert_eq!(search("cheap", "").price_range().map_err(|e| e.field), Err("min"));
        assert_eq!(search("90", "10").price_range().map_err(|e| e.field), Err("max"));
    }
}
