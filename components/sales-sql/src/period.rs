//! The `period` argument of the prompts: what a user types ("last 30 days",
//! "2025-Q3", "July 2025", ...) turned into a precise condition on a date
//! column, so that the prompt can tell the assistant exactly which rows to
//! aggregate instead of leaving "last quarter" to interpretation.
//!
//! Relative periods are written against `CURRENT_DATE`, so PostgreSQL (whose
//! date is fixed for the transaction) decides what "today" is; a component
//! has no business reading a clock for this. Absolute periods become date
//! literals built from the numbers we parsed, never from the user's text,
//! so nothing the user types reaches the SQL verbatim.

/// A period as a half-open or closed range on a date column.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    /// For people: "2025-Q3 (2025-07-01 to 2025-09-30)".
    pub label: String,
    lower: (&'static str, String),
    upper: (&'static str, String),
}

impl Period {
    /// The SQL condition on `column`, e.g.
    /// `o.order_date >= DATE '2025-07-01' AND o.order_date <= DATE '2025-09-30'`.
    pub fn condition(&self, column: &str) -> String {
        format!(
            "{column} {} {} AND {column} {} {}",
            self.lower.0, self.lower.1, self.upper.0, self.upper.1
        )
    }
}

/// Example values: the completion suggestions for `period`, and the help
/// text of a bad value.
pub const EXAMPLES: &[&str] = &[
    "last 7 days",
    "last 30 days",
    "last 90 days",
    "last 12 months",
    "this week",
    "last week",
    "this month",
    "last month",
    "this quarter",
    "last quarter",
    "this year",
    "last year",
    "year to date",
];

/// The accepted forms, for error messages.
pub const HELP: &str = "last N days|weeks|months|years (e.g. last 30 days), \
    this|last week|month|quarter|year, year to date, today, yesterday, a year (2025), \
    a quarter (2025-Q3), a month (2025-07 or July 2025), a day (2025-07-04) or a range of \
    days (2025-07-01..2025-09-30)";

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Parses a period, or says what is wrong with it.
pub fn parse(input: &str) -> Result<Period, String> {
    let normal = input
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let words = normal.strip_prefix("the ").unwrap_or(&normal);
    relative(words)
        .or_else(|| absolute(words))
        .transpose()?
        .ok_or_else(|| {
            format!(
                "`period` must take one of these forms: {HELP}; got `{}`",
                input.trim()
            )
        })
}

/// The last `n` calendar months, the current one (so far) included: what a
/// monthly trend shows.
pub fn last_calendar_months(n: u32) -> Period {
    let back = n.saturating_sub(1);
    Period {
        label: format!("the last {n} calendar months (this month so far included)"),
        lower: (
            ">=",
            format!("(date_trunc('month', CURRENT_DATE) - interval '{back} months')::date"),
        ),
        upper: ("<=", "CURRENT_DATE".into()),
    }
}

fn today_through(lower: String, label: String) -> Period {
    Period {
        label,
        lower: (">", lower),
        upper: ("<=", "CURRENT_DATE".into()),
    }
}

/// "last 30 days", "this quarter", "year to date", ... `None`: not relative.
fn relative(words: &str) -> Option<Result<Period, String>> {
    let words = match words {
        "ytd" => "year to date",
        "mtd" => "month to date",
        "qtd" => "quarter to date",
        w => w,
    };
    if let Some(unit) = words.strip_suffix(" to date") {
        return relative(&format!("this {unit}"));
    }
    match words {
        "today" => {
            return Some(Ok(Period {
                label: "today".into(),
                lower: (">=", "CURRENT_DATE".into()),
                upper: ("<=", "CURRENT_DATE".into()),
            }));
        }
        "yesterday" => {
            return Some(Ok(Period {
                label: "yesterday".into(),
                lower: (">=", "CURRENT_DATE - 1".into()),
                upper: ("<", "CURRENT_DATE".into()),
            }));
        }
        _ => {}
    }
    let mut parts = words.split(' ');
    let (first, second, third) = (parts.next()?, parts.next(), parts.next());
    if parts.next().is_some() {
        return None;
    }
    let first = match first {
        "past" | "previous" => "last",
        "current" => "this",
        f => f,
    };
    match (first, second, third) {
        // Rolling windows that end today: "last 30 days" is today and the
        // 29 days before it.
        ("last", Some(n), Some(unit)) => {
            let n: u32 = n.parse().ok()?;
            let unit = unit.strip_suffix('s').unwrap_or(unit);
            let max = match unit {
                "day" => 3650,
                "week" => 520,
                "month" => 120,
                "year" => 10,
                _ => return None,
            };
            // Checked before any arithmetic: `n` came from the user.
            if n == 0 || n > max {
                return Some(Err(format!(
                    "`period`: the number of {unit}s must be from 1 to {max}; got {n}"
                )));
            }
            let lower = match unit {
                "day" => format!("CURRENT_DATE - {n}"),
                "week" => format!("CURRENT_DATE - {}", n * 7),
                _ => format!("(CURRENT_DATE - interval '{n} {unit}s')::date"),
            };
            let plural = if n == 1 { "" } else { "s" };
            Some(Ok(today_through(
                lower,
                format!("the last {n} {unit}{plural} (up to and including today)"),
            )))
        }
        // Calendar units: the current one so far, or the whole previous one.
        (which @ ("this" | "last"), Some(unit), None) => {
            let unit = match unit {
                "week" | "month" | "quarter" | "year" => unit,
                _ => return None,
            };
            let start = format!("date_trunc('{unit}', CURRENT_DATE)::date");
            Some(Ok(if which == "this" {
                Period {
                    label: format!(
                        "this {unit} so far (from its first day up to and including today)"
                    ),
                    lower: (">=", start),
                    upper: ("<=", "CURRENT_DATE".into()),
                }
            } else {
                let step = if unit == "quarter" {
                    "3 months".to_string()
                } else {
                    format!("1 {unit}")
                };
                Period {
                    label: format!("last {unit} (the whole previous calendar {unit})"),
                    lower: (
                        ">=",
                        format!("(date_trunc('{unit}', CURRENT_DATE) - interval '{step}')::date"),
                    ),
                    upper: ("<", start),
                }
            }))
        }
        _ => None,
    }
}

/// Years, quarters, months, days and day ranges. `None`: not a date form.
fn absolute(words: &str) -> Option<Result<Period, String>> {
    if let Some((from, to)) = words.split_once("..").or_else(|| words.split_once(" to ")) {
        let from = from.trim().strip_prefix("from ").unwrap_or(from.trim());
        let (Some(start), Some(end)) = (day(from), day(to.trim())) else {
            return Some(Err(format!(
                "`period`: a range of days is written 2025-07-01..2025-09-30; got `{words}`"
            )));
        };
        let (start, end) = match (start, end) {
            (Ok(s), Ok(e)) => (s, e),
            (Err(e), _) | (_, Err(e)) => return Some(Err(e)),
        };
        if start > end {
            return Some(Err(format!(
                "`period`: the range ends ({}) before it starts ({})",
                iso(end),
                iso(start)
            )));
        }
        return Some(Ok(closed(
            format!("{} to {}", iso(start), iso(end)),
            start,
            end,
        )));
    }
    if let Some(d) = day(words) {
        return Some(d.map(|d| closed(iso(d), d, d)));
    }
    // A year: 2025.
    if let Some(y) = year(words) {
        return Some(Ok(closed(format!("the year {y}"), (y, 1, 1), (y, 12, 31))));
    }
    // A quarter: 2025-Q3, 2025 Q3, Q3 2025, Q3-2025.
    let quarter = words.split_once(['-', ' ', '/']).and_then(|(a, b)| {
        let q = |s: &str| s.strip_prefix('q').and_then(|n| n.parse::<u32>().ok());
        match (year(a), q(b), q(a), year(b)) {
            (Some(y), Some(q), ..) | (.., Some(q), Some(y)) => Some((y, q)),
            _ => None,
        }
    });
    if let Some((y, q)) = quarter {
        if !(1..=4).contains(&q) {
            return Some(Err(format!("`period`: a quarter is Q1 to Q4; got Q{q}")));
        }
        let (first, last) = (3 * q - 2, 3 * q);
        return Some(Ok(closed(
            format!("{y}-Q{q}"),
            (y, first, 1),
            (y, last, days_in_month(y, last)),
        )));
    }
    // A month: 2025-07, 2025/07, July 2025, Jul 2025.
    let month = words.split_once(['-', ' ', '/']).and_then(|(a, b)| {
        let named = |s: &str| {
            (s.len() >= 3)
                .then(|| MONTHS.iter().position(|m| m.starts_with(s)))
                .flatten()
                .map(|i| i as u32 + 1)
        };
        match (year(a), b.parse::<u32>().ok(), named(a), year(b)) {
            (Some(y), Some(m), ..) if b.len() <= 2 => Some((y, m)),
            (.., Some(m), Some(y)) => Some((y, m)),
            _ => None,
        }
    });
    if let Some((y, m)) = month {
        if !(1..=12).contains(&m) {
            return Some(Err(format!("`period`: a month is 01 to 12; got {m}")));
        }
        return Some(Ok(closed(
            format!("{y}-{m:02}"),
            (y, m, 1),
            (y, m, days_in_month(y, m)),
        )));
    }
    None
}

type Day = (i32, u32, u32);

fn closed(what: String, start: Day, end: Day) -> Period {
    let label = if start == end {
        what
    } else if what.contains(&iso(start)) {
        format!("{what} (inclusive)")
    } else {
        format!("{what} ({} to {})", iso(start), iso(end))
    };
    Period {
        label,
        lower: (">=", format!("DATE '{}'", iso(start))),
        upper: ("<=", format!("DATE '{}'", iso(end))),
    }
}

fn iso((y, m, d): Day) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

/// A four-digit year from 1900 to 2999 (the demo's orders are 2020-2026).
fn year(s: &str) -> Option<i32> {
    (s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
        .filter(|y| (1900..=2999).contains(y))
}

/// `YYYY-MM-DD`: `None` if it is not of that shape, an error if it is but
/// names no real day.
fn day(s: &str) -> Option<Result<Day, String>> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d) = (year(y)?, m.parse::<u32>().ok()?, d.parse::<u32>().ok()?);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return Some(Err(format!("`period`: {s} is not a date")));
    }
    Some(Ok((y, m, d)))
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(p: &str) -> String {
        parse(p).unwrap().condition("d")
    }

    #[test]
    fn relative_periods_are_computed_by_postgresql() {
        assert_eq!(
            cond("last 30 days"),
            "d > CURRENT_DATE - 30 AND d <= CURRENT_DATE"
        );
        assert_eq!(
            cond("Past  2 weeks"),
            "d > CURRENT_DATE - 14 AND d <= CURRENT_DATE"
        );
        assert_eq!(
            cond("the last 12 months"),
            "d > (CURRENT_DATE - interval '12 months')::date AND d <= CURRENT_DATE"
        );
        assert_eq!(
            cond("this month"),
            "d >= date_trunc('month', CURRENT_DATE)::date AND d <= CURRENT_DATE"
        );
        assert_eq!(cond("YTD"), cond("this year"));
        assert_eq!(
            cond("last quarter"),
            "d >= (date_trunc('quarter', CURRENT_DATE) - interval '3 months')::date \
             AND d < date_trunc('quarter', CURRENT_DATE)::date"
        );
        assert_eq!(
            cond("yesterday"),
            "d >= CURRENT_DATE - 1 AND d < CURRENT_DATE"
        );
        assert!(parse("last 0 days").is_err());
        assert!(parse("last 9999 years").is_err());
        assert!(parse("last 4000000000 weeks").is_err());
    }

    #[test]
    fn absolute_periods_become_date_literals() {
        let q3 = parse("2025-Q3").unwrap();
        assert_eq!(q3.label, "2025-Q3 (2025-07-01 to 2025-09-30)");
        assert_eq!(
            q3.condition("d"),
            "d >= DATE '2025-07-01' AND d <= DATE '2025-09-30'"
        );
        assert_eq!(parse("q3 2025").unwrap(), q3);
        assert_eq!(
            cond("2024"),
            "d >= DATE '2024-01-01' AND d <= DATE '2024-12-31'"
        );
        assert_eq!(
            cond("2024-02"),
            "d >= DATE '2024-02-01' AND d <= DATE '2024-02-29'"
        );
        assert_eq!(
            cond("Feb 2023"),
            "d >= DATE '2023-02-01' AND d <= DATE '2023-02-28'"
        );
        assert_eq!(
            cond("2025-07-04"),
            "d >= DATE '2025-07-04' AND d <= DATE '2025-07-04'"
        );
        assert_eq!(
            cond("2025-07-01..2025-09-30"),
            "d >= DATE '2025-07-01' AND d <= DATE '2025-09-30'"
        );
        assert_eq!(
            cond("from 2025-07-01 to 2025-09-30"),
            cond("2025-07-01..2025-09-30")
        );
    }

    #[test]
    fn bad_periods_say_what_is_accepted() {
        for bad in [
            "",
            "soon",
            "2025-Q5",
            "2025-13",
            "2025-02-30",
            "2025-09-30..2025-07-01",
            "'; DROP",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.starts_with("`period`"), "{bad}: {err}");
        }
        assert!(parse("soon").unwrap_err().contains("2025-Q3"));
    }
}
