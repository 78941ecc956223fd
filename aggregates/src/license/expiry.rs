//! Calendar-aware time arithmetic as Keygen does it: a number of seconds is broken greedily into
//! years (31556952 s), months (2629746 s), weeks, days, hours, minutes and seconds, and each part
//! is added in that order — years and months by calendar (clamping to the month's end), weeks and
//! days by date, the rest as plain seconds.

use crate::vocabulary::CheckInInterval;
use crate::Timestamp;
use chrono::{Duration, Months};

const YEAR: i64 = 31_556_952;
const MONTH: i64 = 2_629_746;
const WEEK: i64 = 604_800;
const DAY: i64 = 86_400;

/// `from` advanced by `seconds` the way Keygen advances expiries.
pub fn advance(from: Timestamp, seconds: i64) -> Timestamp {
    if seconds < 0 {
        return from - Duration::seconds(-seconds);
    }
    let years = seconds / YEAR;
    let rest = seconds % YEAR;
    let months = rest / MONTH;
    let rest = rest % MONTH;
    let weeks = rest / WEEK;
    let rest = rest % WEEK;
    let days = rest / DAY;
    let rest = rest % DAY;
    let mut t = from;
    if years > 0 {
        t = t.checked_add_months(Months::new((years * 12) as u32)).unwrap_or(t);
    }
    if months > 0 {
        t = t.checked_add_months(Months::new(months as u32)).unwrap_or(t);
    }
    t + Duration::days(weeks * 7 + days) + Duration::seconds(rest)
}

/// `from` advanced by `count` calendar units, for check-ins.
pub fn advance_interval(from: Timestamp, interval: CheckInInterval, count: i64) -> Timestamp {
    match interval {
        CheckInInterval::Day => from + Duration::days(count),
        CheckInInterval::Week => from + Duration::weeks(count),
        CheckInInterval::Month => from.checked_add_months(Months::new(count as u32)).unwrap_or(from),
        CheckInInterval::Year => from
            .checked_add_months(Months::new((count * 12) as u32))
            .unwrap_or(from),
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
        assert_eq!(advance(t("2022-10-16T14:52:48Z"), 2_629_746), t("2022-11-16T14:52:48Z"));
    }

    #[test]
    fn six_years_of_seconds_are_six_calendar_years() {
        assert_eq!(
            advance(t("2022-10-16T14:52:48Z"), 189_341_712),
            t("2028-10-16T14:52:48Z")
        );
    }

    #[test]
    fn three_hundred_sixty_five_days_are_not_a_year() {
        // 31536000 s = 11 months + 4 weeks + 2 days + 4h 39m 54s
        assert_eq!(
            advance(t("2023-01-01T00:00:00Z"), 31_536_000),
            t("2023-12-31T04:39:54Z")
        );
    }

    #[test]
    fn month_ends_are_clamped() {
        assert_eq!(advance(t("2023-01-31T00:00:00Z"), 2_629_746), t("2023-02-28T00:00:00Z"));
        assert_eq!(
            advance_interval(t("2024-01-31T00:00:00Z"), CheckInInterval::Month, 1),
            t("2024-02-29T00:00:00Z")
        );
    }
}
