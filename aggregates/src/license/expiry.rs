//! Calendar-aware time arithmetic as Keygen does it: a number of seconds is broken greedily into
//! years (31556952 s), months (2629746 s), weeks, days, hours, minutes and seconds, and each part
//! is added in that order — years and months by calendar (clamping to the month's end), weeks and
//! days by date, the rest as plain seconds.
//!
//! Every sum is checked: an expiry lies on or before [`latest`] (9999-12-31T23:59:59Z), the last
//! instant the API can print in a form it also accepts; one beyond is a 422, never a panic.

use crate::vocabulary::CheckInInterval;
use crate::{DomainError, Timestamp};
use chrono::{Duration, Months, TimeZone, Utc};

const YEAR: i64 = 31_556_952;
const MONTH: i64 = 2_629_746;
const WEEK: i64 = 604_800;
const DAY: i64 = 86_400;

/// The latest expiry there can be.
pub fn latest() -> Timestamp {
    Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap()
}

/// The 422 for an expiry past [`latest`].
pub fn out_of_range() -> DomainError {
    DomainError::invalid("expiry", "INVALID", "must be on or before 9999-12-31T23:59:59Z")
}

/// Refuses an expiry past [`latest`].
pub fn in_range(expiry: Timestamp) -> Result<Timestamp, DomainError> {
    if expiry > latest() {
        Err(out_of_range())
    } else {
        Ok(expiry)
    }
}

/// `from` advanced by `seconds` the way Keygen advances expiries; past [`latest`] is a 422.
pub fn advance(from: Timestamp, seconds: i64) -> Result<Timestamp, DomainError> {
    sum(from, seconds).map_or_else(|| Err(out_of_range()), in_range)
}

fn sum(from: Timestamp, seconds: i64) -> Option<Timestamp> {
    if seconds < 0 {
        return from.checked_sub_signed(Duration::try_seconds(seconds.checked_neg()?)?);
    }
    let years = seconds / YEAR;
    let rest = seconds % YEAR;
    let months = rest / MONTH;
    let rest = rest % MONTH;
    let weeks = rest / WEEK;
    let rest = rest % WEEK;
    let days = rest / DAY;
    let rest = rest % DAY;
    let months = u32::try_from(years.checked_mul(12)?.checked_add(months)?).ok()?;
    from.checked_add_months(Months::new(months))?
        .checked_add_signed(Duration::try_days(weeks * 7 + days)?)?
        .checked_add_signed(Duration::try_seconds(rest)?)
}

/// `from` advanced by `count` calendar units, for check-ins; None past the calendar's end.
pub fn advance_interval(from: Timestamp, interval: CheckInInterval, count: i64) -> Option<Timestamp> {
    match interval {
        CheckInInterval::Day => from.checked_add_signed(Duration::try_days(count)?),
        CheckInInterval::Week => from.checked_add_signed(Duration::try_weeks(count)?),
        CheckInInterval::Month => from.checked_add_months(Months::new(u32::try_from(count).ok()?)),
        CheckInInterval::Year => from.checked_add_months(Months::new(u32::try_from(count.checked_mul(12)?).ok()?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    }

    #[test]
    fn a_month_of_seconds_is_one_calendar_month() {
        assert_eq!(
            advance(t("2022-10-16T14:52:48Z"), 2_629_746).unwrap(),
            t("2022-11-16T14:52:48Z")
        );
    }

    #[test]
    fn six_years_of_seconds_are_six_calendar_years() {
        assert_eq!(
            advance(t("2022-10-16T14:52:48Z"), 189_341_712).unwrap(),
            t("2028-10-16T14:52:48Z")
        );
    }

    #[test]
    fn three_hundred_sixty_five_days_are_not_a_year() {
        // 31536000 s = 11 months + 4 weeks + 2 days + 4h 39m 54s
        assert_eq!(
            advance(t("2023-01-01T00:00:00Z"), 31_536_000).unwrap(),
            t("2023-12-31T04:39:54Z")
        );
    }

    #[test]
    fn month_ends_are_clamped() {
        assert_eq!(
            advance(t("2023-01-31T00:00:00Z"), 2_629_746).unwrap(),
            t("2023-02-28T00:00:00Z")
        );
        assert_eq!(
            advance_interval(t("2024-01-31T00:00:00Z"), CheckInInterval::Month, 1),
            Some(t("2024-02-29T00:00:00Z"))
        );
    }

    #[test]
    fn an_expiry_past_the_year_9999_is_refused_never_a_panic() {
        let near_the_end = t("9999-06-01T00:00:00Z");
        assert_eq!(advance(near_the_end, 2_147_483_647).unwrap_err().code, "EXPIRY_INVALID");
        assert_eq!(advance(latest(), 1).unwrap_err().code, "EXPIRY_INVALID");
        assert_eq!(
            advance(t("2026-01-01T00:00:00Z"), i64::MAX).unwrap_err().code,
            "EXPIRY_INVALID"
        );
        assert_eq!(
            advance(t("2026-01-01T00:00:00Z"), i64::MIN).unwrap_err().code,
            "EXPIRY_INVALID"
        );
        assert_eq!(advance(t("9999-12-30T23:59:59Z"), 86_400).unwrap(), latest());
        assert_eq!(advance_interval(near_the_end, CheckInInterval::Year, i64::MAX), None);
    }
}
