//! The platform's terms with its sellers: the fee it keeps and when the rest is transferred.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::money::Percentage;

/// What the platform keeps of each sale and when the seller's share is transferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayoutTerms {
    /// `PLATFORM_FEE_PERCENT`: the platform's fee, a share of the ticket's price (default 10).
    pub platform_fee: Percentage,
    /// `PAYOUT_DELAY`: how long after the event's start, when the buyer's refund window has closed,
    /// the seller's share is transferred (default `0s`).
    pub delay_after_start: Duration,
}

impl Default for PayoutTerms {
    fn default() -> Self {
        Self { platform_fee: Percentage::from_milli_percent(10_000), delay_after_start: Duration::ZERO }
    }
}

/// How a ticket's price splits between the platform and the seller, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub platform_fee: i64,
    pub seller_share: i64,
}

impl PayoutTerms {
    /// The fee is the price times the rate, rounded half up to the minor unit; the seller gets the
    /// rest, so the two always add up to the price exactly. Tax is not split: it stays with the
    /// platform, which remits it.
    pub fn split(&self, price: i64) -> Split {
        let platform_fee = self.platform_fee.of(price).clamp(0, price.max(0));
        Split { platform_fee, seller_share: price - platform_fee }
    }

    /// When a sale's share falls due: once the buyer can no longer ask for a refund, at the event's
    /// start (plus the delay). A sale from before events were recorded has no start, and so no
    /// refund deadline: it is due from the sale (plus the delay), and a later refund reverses it.
    pub fn due_at(&self, event_starts_at: Option<DateTime<Utc>>, sold_at: DateTime<Utc>) -> DateTime<Utc> {
        let delay = TimeDelta::from_std(self.delay_after_start).unwrap_or(TimeDelta::MAX);
        let from = event_starts_at.unwrap_or(sold_at).max(sold_at);
        from.checked_add_signed(delay).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(percent: &str) -> PayoutTerms {
        PayoutTerms { platform_fee: Percentage::parse_percent(percent).expect("rate"), ..PayoutTerms::default() }
    }

    #[test]
    fn the_fee_rounds_half_up_and_the_parts_add_up_to_the_price() {
        let ten = terms("10");
        assert_eq!(ten.split(4_500), Split { platform_fee: 450, seller_share: 4_050 });
        assert_eq!(ten.split(1_005), Split { platform_fee: 101, seller_share: 904 }, "100.5 rounds up");
        assert_eq!(ten.split(1_004), Split { platform_fee: 100, seller_share: 904 }, "100.4 rounds down");
        assert_eq!(terms("7.5").split(333), Split { platform_fee: 25, seller_share: 308 }, "24.975 rounds up");
        assert_eq!(terms("0").split(999), Split { platform_fee: 0, seller_share: 999 });
        assert_eq!(terms("100").split(999), Split { platform_fee: 999, seller_share: 0 });
        for price in [0, 1, 49, 50, 51, 999, 1_000_001, i64::MAX / 100_001] {
            for rate in ["0", "2.5", "10", "12.345", "33.333", "100"] {
                let split = terms(rate).split(price);
                assert_eq!(split.platform_fee + split.seller_share, price, "{rate}% of {price}");
                assert!(split.platform_fee >= 0 && split.seller_share >= 0);
            }
        }
    }

    #[test]
    fn a_share_falls_due_at_the_start_plus_the_delay_and_never_before_the_sale() {
        let sold = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let start = sold + TimeDelta::days(3);
        let delayed = PayoutTerms { delay_after_start: Duration::from_secs(3_600), ..PayoutTerms::default() };
        assert_eq!(PayoutTerms::default().due_at(Some(start), sold), start);
        assert_eq!(delayed.due_at(Some(start), sold), start + TimeDelta::hours(1));
        assert_eq!(delayed.due_at(None, sold), sold + TimeDelta::hours(1));
        assert_eq!(PayoutTerms::default().due_at(Some(sold - TimeDelta::hours(1)), sold), sold);
    }
}
