"""`store_kpis`: a period's sales KPIs per store, as the caller may see them.

Revenue, orders, average basket, the top categories by revenue (with their
share) and the change from the same period a year earlier, for each store in
the caller's scope (a store manager: their store; head office: every store,
plus the total). One query, with the period's dates as parameters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

import period as periods
from zava_tool import Arg, InvalidArguments, Tool, ToolFailed, query, scope, tool

__all__ = ["Tool", "store_kpis"]

CENT = Decimal("0.01")

# $1, $2: first day and the day after the last (absolute periods), or NULL;
# $3: N of "last N days", or NULL; $4: the one store to report, or NULL for
# every store (head office). Row Level Security limits the rows whatever $4
# says; $4 only picks which stores get a line (also one without sales).
# Three kinds of row: the two periods' bounds, the stores, and the sales
# summed per (period, store, category) with grouping sets for the store,
# category and overall totals (store and category are never NULL in the
# data, so a NULL there is a total); categories of the earlier period are
# not needed.
SQL = """
WITH bounds AS (
    SELECT coalesce($1::date, CURRENT_DATE - ($3::int - 1)) AS lo,
           coalesce($2::date, CURRENT_DATE + 1) AS hi
), periods AS (
    SELECT 'current' AS period, lo, hi FROM bounds
    UNION ALL
    SELECT 'previous', (lo - interval '1 year')::date, (hi - interval '1 year')::date FROM bounds
), stores AS (
    SELECT store_id, store_name FROM retail.stores
    WHERE $4::int IS NULL OR store_id = $4::int
), lines AS (
    SELECT p.period, o.store_id, o.order_id, c.category_name, oi.total_amount
    FROM periods p
    JOIN retail.orders o ON o.order_date >= p.lo AND o.order_date < p.hi
    JOIN stores s ON s.store_id = o.store_id
    JOIN retail.order_items oi ON oi.order_id = o.order_id AND oi.store_id = o.store_id
    JOIN retail.products pr ON pr.product_id = oi.product_id
    JOIN retail.categories c ON c.category_id = pr.category_id
)
SELECT 'period' AS kind, period, NULL::int AS store_id, NULL::text AS name,
       lo, hi, NULL::numeric AS revenue, NULL::bigint AS orders
FROM periods
UNION ALL
SELECT 'store', NULL, store_id, store_name, NULL, NULL, NULL, NULL FROM stores
UNION ALL
SELECT 'sales', period, store_id, category_name, NULL, NULL,
       sum(total_amount), count(DISTINCT order_id)
FROM lines
GROUP BY GROUPING SETS ((period, store_id, category_name), (period, store_id),
                        (period, category_name), (period))
HAVING period = 'current' OR category_name IS NULL
"""


@dataclass
class PeriodRange:
    """The period reported and the one it is compared with (days included)."""

    label: str
    start: Annotated[dt.date, "First day"]
    end: Annotated[dt.date, "Last day"]
    previous_start: Annotated[dt.date, "First day of the same period a year earlier"]
    previous_end: Annotated[dt.date, "Last day of the same period a year earlier"]


@dataclass
class Sales:
    """One period's figures."""

    revenue: Annotated[Decimal, "Sum of order line totals (after discounts)"]
    orders: int
    average_basket: Annotated[Decimal | None, "Revenue per order; null without orders"]


@dataclass
class CategoryShare:
    category: str
    revenue: Decimal
    share: Annotated[float, Arg("Share of the store's revenue in the period", minimum=0, maximum=1)]


@dataclass
class Kpis:
    """One store's KPIs (or all the caller's stores together: the total)."""

    store_id: Annotated[int | None, "null for the total"]
    store_name: str
    revenue: Decimal
    orders: int
    average_basket: Annotated[Decimal | None, "Revenue per order; null without orders"]
    top_categories: Annotated[list[CategoryShare], "By revenue, highest first"]
    previous_year: Annotated[Sales, "The same period a year earlier"]
    revenue_change_pct: Annotated[float | None, "Year-on-year change, percent; null if there was no revenue"]
    orders_change_pct: Annotated[float | None, "Year-on-year change, percent; null if there were no orders"]
    average_basket_change_pct: Annotated[float | None, "Year-on-year change, percent"]


@dataclass
class StoreKpis:
    """Sales KPIs per store the caller sees, with the total when there are several."""

    period: PeriodRange
    scope: Annotated[str, "Whose rows: head-office, store:<id> or unassigned"]
    stores: list[Kpis]
    total: Annotated[Kpis | None, "All the caller's stores together; null when it sees one store"]

    def __str__(self) -> str:
        p = self.period
        lines = [
            f"Store KPIs for {p.label} ({p.start} to {p.end}), compared with "
            f"{p.previous_start} to {p.previous_end}; scope {self.scope}."
        ]
        if not self.stores:
            lines.append("The caller is not assigned to a store: there are no sales to report.")
        lines += [f"- {k.store_name}: {_summary(k)}" for k in self.stores]
        if self.total is not None:
            lines.append(f"- {self.total.store_name}: {_summary(self.total)}")
        return "\n".join(lines)


def _money(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def _change(pct: float | None) -> str:
    return "no sales a year earlier" if pct is None else f"{pct:+.1f}% YoY"


def _summary(k: Kpis) -> str:
    top = ", ".join(f"{c.category} {c.share:.1%}" for c in k.top_categories) or "none"
    return (
        f"revenue {_money(k.revenue)} ({_change(k.revenue_change_pct)}), "
        f"{k.orders:,} orders ({_change(k.orders_change_pct)}), "
        f"average basket {_money(k.average_basket)} ({_change(k.average_basket_change_pct)}); "
        f"top categories: {top}"
    )


def _pct(now: Decimal | int | None, before: Decimal | int | None) -> float | None:
    if now is None or not before:
        return None
    return round(float((Decimal(now) - Decimal(before)) / Decimal(before) * 100), 1)


def _share(part: Decimal, whole: Decimal) -> float:
    return round(float(part / whole), 4) if whole else 0.0


def _sales(figures: tuple[Decimal, int]) -> Sales:
    revenue, orders = figures
    basket = (revenue / orders).quantize(CENT, ROUND_HALF_UP) if orders else None
    return Sales(revenue=revenue, orders=orders, average_basket=basket)


@tool(
    title="Store KPIs for a period",
    description=(
        "Sales KPIs for a period, per store the caller may see: revenue, orders, average "
        "basket (revenue per order), the top categories by revenue with their share, and the "
        "year-on-year change against the same period a year earlier. A store manager gets "
        "their store; head office gets every store and the total. Use it for 'how did we do "
        "in Q3', 'compare stores this year', 'what sells best in July'. Period forms: "
        + periods.HELP
        + "."
    ),
)
def store_kpis(
    period: Annotated[
        str,
        Arg(
            "The period: " + periods.HELP,
            min_length=1,
            max_length=40,
            examples=periods.EXAMPLES,
        ),
    ],
    top_categories: Annotated[
        int, Arg("How many categories to list per store, by revenue", minimum=1, maximum=10)
    ] = 3,
) -> StoreKpis:
    try:
        asked = periods.parse(period)
    except ValueError as problem:
        raise InvalidArguments(str(problem)) from None
    who = scope()
    # Head office: every store; a manager: theirs; unassigned: none (0).
    only = None if who.head_office else (who.store_id or 0)
    rows = query(SQL, asked.start, asked.end, asked.days, only, max_rows=5000)
    if rows.truncated:
        raise ToolFailed("the summary has more rows than the server returns; ask for fewer stores")

    bounds = {r["period"]: (r["lo"], r["hi"]) for r in rows if r["kind"] == "period"}
    stores = sorted((r["store_id"], r["name"]) for r in rows if r["kind"] == "store")
    sales = {
        (r["period"], r["store_id"], r["name"]): (r["revenue"], r["orders"])
        for r in rows
        if r["kind"] == "sales"
    }

    def kpis(store_id: int | None, name: str) -> Kpis:
        now = _sales(sales.get(("current", store_id, None), (Decimal(0), 0)))
        before = _sales(sales.get(("previous", store_id, None), (Decimal(0), 0)))
        categories = sorted(
            (
                (revenue, category)
                for (when, where, category), (revenue, _) in sales.items()
                if when == "current" and where == store_id and category is not None
            ),
            key=lambda rc: (-rc[0], rc[1]),
        )[:top_categories]
        return Kpis(
            store_id=store_id,
            store_name=name,
            revenue=now.revenue,
            orders=now.orders,
            average_basket=now.average_basket,
            top_categories=[
                CategoryShare(category=c, revenue=r, share=_share(r, now.revenue))
                for r, c in categories
            ],
            previous_year=before,
            revenue_change_pct=_pct(now.revenue, before.revenue),
            orders_change_pct=_pct(now.orders, before.orders),
            average_basket_change_pct=_pct(now.average_basket, before.average_basket),
        )

    day = dt.timedelta(days=1)
    (lo, hi), (prev_lo, prev_hi) = bounds["current"], bounds["previous"]
    return StoreKpis(
        period=PeriodRange(
            label=asked.label,
            start=lo,
            end=hi - day,
            previous_start=prev_lo,
            previous_end=prev_hi - day,
        ),
        scope=str(who),
        stores=[kpis(store_id, name) for store_id, name in stores],
        total=kpis(None, f"All {len(stores)} stores") if len(stores) > 1 else None,
    )
