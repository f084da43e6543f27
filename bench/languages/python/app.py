"""`store_sales_python`: orders and revenue per store between two dates, as
the caller may see them. The benchmark subject in Python; its Rust and
JavaScript twins (bench/languages/) run the same SQL and answer the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from zava_tool import Tool, query, scope, tool

__all__ = ["Tool", "store_sales_python"]

SQL = (
    "SELECT s.store_id, s.store_name, count(DISTINCT o.order_id) AS orders, "
    "coalesce(sum(oi.total_amount), 0) AS revenue "
    "FROM retail.stores s "
    "JOIN retail.orders o ON o.store_id = s.store_id "
    "JOIN retail.order_items oi ON oi.order_id = o.order_id AND oi.store_id = o.store_id "
    "WHERE o.order_date >= $1::date AND o.order_date < $2::date + 1 "
    "GROUP BY s.store_id, s.store_name "
    "ORDER BY s.store_id"
)


@dataclass
class StoreSales:
    store_id: int
    store_name: str
    orders: int
    revenue: Annotated[str, "Exact decimal text"]


@dataclass
class Sales:
    scope: Annotated[str, "Whose rows: head-office, store:<id> or unassigned"]
    stores: list[StoreSales]
    start: dt.date
    end: dt.date

    def __str__(self) -> str:
        lines = [f"Sales from {self.start} to {self.end} (scope {self.scope}):"]
        lines += [f"- {s.store_name}: {s.orders} orders, revenue {s.revenue}" for s in self.stores]
        return "\n".join(lines)


@tool(description="Orders and revenue per store between two dates (benchmark subject, Python).")
def store_sales_python(
    start: Annotated[dt.date, "First day"], end: Annotated[dt.date, "Last day (included)"]
) -> Sales:
    rows = query(SQL, start.isoformat(), end.isoformat(), max_rows=100)
    stores = [
        StoreSales(r["store_id"], r["store_name"], r["orders"], str(r["revenue"])) for r in rows
    ]
    s = scope()
    who = "head-office" if s.head_office else f"store:{s.store_id}" if s.store_id is not None else "unassigned"
    return Sales(who, stores, start, end)
