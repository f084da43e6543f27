"""The `period` argument of `store_kpis`, parsed into dates (or a day count)
the query takes as parameters: nothing the user types reaches the SQL text.

Accepted, case and spacing aside:

- a year: ``2025``
- a quarter: ``2025-Q3`` (or ``2025Q3``, ``2025 q3``)
- a month: ``2025-07``
- a range of days, both included: ``2025-07-01..2025-09-30``
- ``last N days`` (1 to 3660), today included; "today" is the database's
  ``CURRENT_DATE``, so the component reads no clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

HELP = (
    'a year ("2025"), a quarter ("2025-Q3"), a month ("2025-07"), a range of days '
    '("2025-07-01..2025-09-30", both included) or "last N days" (1 to 3660, today included)'
)

EXAMPLES = ("2025-Q3", "2025-07", "2025", "2025-07-01..2025-09-30", "last 90 days")

MAX_DAYS = 3660
# Years whose start, end and year-earlier dates Python and PostgreSQL both hold.
FIRST_YEAR, LAST_YEAR = 1000, 9998


# Compiled at import, i.e. at build time: componentize-py snapshots them, so
# a call (a fresh instance) does not compile regular expressions again.
_YEAR = re.compile(r"(\d{4})")
_QUARTER = re.compile(r"(\d{4}) ?-? ?q([1-4])")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_DAYS = re.compile(r"(\d{4}-\d{2}-\d{2}) ?\.\. ?(\d{4}-\d{2}-\d{2})")
_LAST = re.compile(r"last (\d{1,5}) days?")


@dataclasses.dataclass(frozen=True)
class Period:
    """Either absolute dates, `start` to `end` (the day after the last), or
    the last `days` days up to the database's today."""

    label: str
    start: dt.date | None = None
    end: dt.date | None = None
    days: int | None = None


def _year(text: str) -> int:
    year = int(text)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"year {year} is out of range ({FIRST_YEAR}-{LAST_YEAR})")
    return year


def _next_month(year: int, month: int) -> dt.date:
    return dt.date(year + month // 12, month % 12 + 1, 1)


def parse(text: str) -> Period:
    """Parses a period; `ValueError` says what is accepted."""
    words = " ".join(text.lower().split())
    try:
        if m := _YEAR.fullmatch(words):
            year = _year(m[1])
            return Period(f"{year}", dt.date(year, 1, 1), dt.date(year + 1, 1, 1))
        if m := _QUARTER.fullmatch(words):
            year, quarter = _year(m[1]), int(m[2])
            first = 3 * quarter - 2
            return Period(f"{year}-Q{quarter}", dt.date(year, first, 1), _next_month(year, first + 2))
        if m := _MONTH.fullmatch(words):
            year, month = _year(m[1]), int(m[2])
            if not 1 <= month <= 12:
                raise ValueError(f"month {month} does not exist")
            return Period(f"{year}-{month:02}", dt.date(year, month, 1), _next_month(year, month))
        if m := _DAYS.fullmatch(words):
            first, last = dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2])
            _year(str(first.year)), _year(str(last.year))
            if last < first:
                raise ValueError(f"the range ends ({last}) before it starts ({first})")
            return Period(f"{first}..{last}", first, last + dt.timedelta(days=1))
        if m := _LAST.fullmatch(words):
            days = int(m[1])
            if not 1 <= days <= MAX_DAYS:
                raise ValueError(f"last N days takes N from 1 to {MAX_DAYS}")
            return Period(f"last {days} days", days=days)
    except ValueError as problem:
        raise ValueError(f"period {text!r}: {problem}") from None
    raise ValueError(f"unknown period {text!r}: use {HELP}")
