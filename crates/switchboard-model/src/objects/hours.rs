//! Hours of operation: a time zone, weekly opening ranges, and dated overrides
//! (holidays, special openings), with the rule that says whether it is open now.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::kind::{ConfigSpec, ObjectKind};
use crate::validation::{Errors, FieldError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursOfOperation {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// IANA time zone, e.g. `Europe/London`.
    pub time_zone: String,
    /// Weekly opening ranges. A range whose end is not after its start runs
    /// past midnight into the next day; start equal to end is open all day.
    #[serde(default)]
    pub config: Vec<WeeklyRange>,
    /// Dated exceptions that replace the weekly ranges on their days.
    #[serde(default)]
    pub overrides: Vec<HoursOverride>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Day {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Day {
    fn weekday(self) -> Weekday {
        match self {
            Day::Monday => Weekday::Mon,
            Day::Tuesday => Weekday::Tue,
            Day::Wednesday => Weekday::Wed,
            Day::Thursday => Weekday::Thu,
            Day::Friday => Weekday::Fri,
            Day::Saturday => Weekday::Sat,
            Day::Sunday => Weekday::Sun,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeOfDay {
    pub hours: u32,
    pub minutes: u32,
}

impl TimeOfDay {
    fn minute_of_day(self) -> u32 {
        self.hours * 60 + self.minutes
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyRange {
    pub day: Day,
    pub start: TimeOfDay,
    pub end: TimeOfDay,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursOverride {
    pub name: String,
    /// First day the override applies, `YYYY-MM-DD`, in the hours' time zone.
    #[schema(value_type = String, format = Date)]
    pub start_date: NaiveDate,
    /// Last day the override applies (inclusive).
    #[schema(value_type = String, format = Date)]
    pub end_date: NaiveDate,
    #[serde(rename = "type")]
    pub override_type: OverrideType,
    /// For OPEN overrides: the ranges open on each of those days.
    #[serde(default)]
    pub ranges: Vec<DailyRange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OverrideType {
    /// Closed all day (a holiday).
    Closed,
    /// Open only in the given ranges.
    Open,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DailyRange {
    pub start: TimeOfDay,
    pub end: TimeOfDay,
}

/// Whether the minute `m` of a day lies in a range, and whether the range
/// spills into the next day. Start equal to end means the whole day.
fn range_covers(start: TimeOfDay, end: TimeOfDay, m: u32) -> (bool, bool) {
    let (s, e) = (start.minute_of_day(), end.minute_of_day());
    match s.cmp(&e) {
        std::cmp::Ordering::Less => (s <= m && m < e, false),
        std::cmp::Ordering::Equal => (true, false),
        std::cmp::Ordering::Greater => (m >= s, true),
    }
}

impl HoursOfOperation {
    pub fn tz(&self) -> Option<Tz> {
        self.time_zone.parse().ok()
    }

    /// Whether the hours are open at `at`. Unknown time zones count as UTC,
    /// which validation prevents from being stored.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let tz = self.tz().unwrap_or(Tz::UTC);
        let local = at.with_timezone(&tz);
        let date = local.date_naive();
        let minute = local.time().num_seconds_from_midnight() / 60;
        if let Some(o) = self.override_on(date) {
            return match o.override_type {
                OverrideType::Closed => false,
                OverrideType::Open => o
                    .ranges
                    .iter()
                    .any(|r| range_covers(r.start, r.end, minute).0),
            };
        }
        let today = date.weekday();
        let yesterday = today.pred();
        self.config.iter().any(|r| {
            let (covers, spills) = range_covers(r.start, r.end, minute);
            (r.day.weekday() == today && covers)
                // The tail of last night's range that ran past midnight.
                || (r.day.weekday() == yesterday && spills && minute < r.end.minute_of_day())
        })
    }

    fn override_on(&self, date: NaiveDate) -> Option<&HoursOverride> {
        self.overrides
            .iter()
            .find(|o| o.start_date <= date && date <= o.end_date)
    }
}

fn check_time(e: &mut Errors, field: String, t: TimeOfDay) {
    e.range(format!("{field}.hours"), t.hours.into(), 0, 23);
    e.range(format!("{field}.minutes"), t.minutes.into(), 0, 59);
}

impl ConfigSpec for HoursOfOperation {
    const KIND: ObjectKind = ObjectKind::HoursOfOperation;

    fn name(&self) -> &str {
        &self.name
    }

    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::new();
        e.name("name", &self.name);
        e.description("description", &self.description);
        e.check(
            self.tz().is_some(),
            "time_zone",
            format!(
                "'{}' is not an IANA time zone such as Europe/London",
                self.time_zone
            ),
        );
        for (i, r) in self.config.iter().enumerate() {
            check_time(&mut e, format!("config[{i}].start"), r.start);
            check_time(&mut e, format!("config[{i}].end"), r.end);
        }
        for (i, o) in self.overrides.iter().enumerate() {
            let field = format!("overrides[{i}]");
            e.name(&format!("{field}.name"), &o.name);
            e.check(
                o.start_date <= o.end_date,
                format!("{field}.end_date"),
                "must not be before start_date",
            );
            match o.override_type {
                OverrideType::Closed => e.check(
                    o.ranges.is_empty(),
                    format!("{field}.ranges"),
                    "a CLOSED override has no ranges",
                ),
                OverrideType::Open => e.check(
                    !o.ranges.is_empty(),
                    format!("{field}.ranges"),
                    "an OPEN override needs at least one range",
                ),
            }
            for (j, r) in o.ranges.iter().enumerate() {
                check_time(&mut e, format!("{field}.ranges[{j}].start"), r.start);
                check_time(&mut e, format!("{field}.ranges[{j}].end"), r.end);
            }
            let overlaps = self.overrides[..i]
                .iter()
                .any(|p| p.start_date <= o.end_date && o.start_date <= p.end_date);
            e.check(
                !overlaps,
                format!("{field}.start_date"),
                "overlaps an earlier override",
            );
        }
        e.finish()
    }
}

/// Monday to Sunday, all day: the hours an instance starts with.
pub fn always_open(name: &str, time_zone: &str) -> HoursOfOperation {
    let midnight = TimeOfDay {
        hours: 0,
        minutes: 0,
    };
    HoursOfOperation {
        name: name.into(),
        description: "Open all day, every day".into(),
        time_zone: time_zone.into(),
        config: [
            Day::Monday,
            Day::Tuesday,
            Day::Wednesday,
            Day::Thursday,
            Day::Friday,
            Day::Saturday,
            Day::Sunday,
        ]
        .into_iter()
        .map(|day| WeeklyRange {
            day,
            start: midnight,
            end: midnight,
        })
        .collect(),
        overrides: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(hours: u32, minutes: u32) -> TimeOfDay {
        TimeOfDay { hours, minutes }
    }

    fn london_office() -> HoursOfOperation {
        HoursOfOperation {
            name: "Office".into(),
            description: String::new(),
            time_zone: "Europe/London".into(),
            config: vec![
                WeeklyRange {
                    day: Day::Monday,
                    start: t(9, 0),
                    end: t(17, 30),
                },
                WeeklyRange {
                    day: Day::Friday,
                    start: t(22, 0),
                    end: t(2, 0),
                },
            ],
            overrides: vec![HoursOverride {
                name: "Christmas".into(),
                start_date: NaiveDate::from_ymd_opt(2026, 12, 25).unwrap(),
                end_date: NaiveDate::from_ymd_opt(2026, 12, 26).unwrap(),
                override_type: OverrideType::Closed,
                ranges: vec![],
            }],
        }
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn weekly_ranges_in_local_time() {
        let h = london_office();
        // Monday 2026-07-06: London is UTC+1 in summer.
        assert!(!h.is_open(utc(2026, 7, 6, 7, 59))); // 08:59 local
        assert!(h.is_open(utc(2026, 7, 6, 8, 0))); // 09:00 local
        assert!(h.is_open(utc(2026, 7, 6, 16, 29))); // 17:29 local
        assert!(!h.is_open(utc(2026, 7, 6, 16, 30))); // 17:30 local: closed
                                                      // Monday 2026-01-05: UTC+0 in winter.
        assert!(h.is_open(utc(2026, 1, 5, 9, 0)));
        assert!(!h.is_open(utc(2026, 1, 5, 8, 59)));
        // Tuesday: no range.
        assert!(!h.is_open(utc(2026, 1, 6, 12, 0)));
    }

    #[test]
    fn ranges_past_midnight_and_overrides() {
        let h = london_office();
        // Friday 2026-01-09 23:00 and Saturday 01:59 are in the night range.
        assert!(h.is_open(utc(2026, 1, 9, 23, 0)));
        assert!(h.is_open(utc(2026, 1, 10, 1, 59)));
        assert!(!h.is_open(utc(2026, 1, 10, 2, 0)));
        // Christmas Day 2026 is a Friday: the override closes the night range.
        assert!(!h.is_open(utc(2026, 12, 25, 23, 0)));
    }

    #[test]
    fn validation_names_each_bad_field() {
        let mut h = london_office();
        h.time_zone = "Mars/Olympus".into();
        h.config[0].end = t(24, 0);
        let errors = h.validate().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["time_zone", "config[0].end.hours"]);
    }

    #[test]
    fn always_open_is_open() {
        let h = always_open("Basic Hours", "UTC");
        assert!(h.is_open(utc(2026, 3, 1, 0, 0)));
        assert!(h.is_open(utc(2026, 3, 4, 23, 59)));
    }
}
