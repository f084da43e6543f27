"""Unit tests of the helper and the period parser, run natively (not in the
component) against componentize-py's stub bindings:

    componentize-py -d wit -w tool-component bindings /tmp/zava-bindings
    PYTHONPATH=/tmp/zava-bindings:components/py-store-kpis \
        python3 -m unittest discover -s components/py-store-kpis/tests

(`components/py-store-kpis/tests/run.sh` does both.) The database and caller
imports are replaced by fakes; the integration tests in
host/tests/languages/python.rs run the real component.
"""

from __future__ import annotations

import datetime as dt
import json
import unittest
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Literal, Optional, TypedDict

import zava_tool
from componentize_py_types import Err
from wit_world.exports import tool as wit_tool
from wit_world.imports import types as wit_types
from zava_tool import Arg, InvalidArguments, ToolFailed, json_schema, tool

import period


@dataclass
class Point:
    """A point."""

    x: int
    label: Annotated[str, "What it is"] = "here"


class Movie(TypedDict):
    title: str
    year: Annotated[int, Arg(minimum=1888)]


@dataclass
class Answer:
    total: Decimal
    when: dt.date
    points: list[Point] = field(default_factory=list)

    def __str__(self) -> str:
        return f"total {self.total}"


@tool(description="Everything the helper can describe.", name="kitchen_sink")
def kitchen_sink(
    name: Annotated[str, Arg("Who", min_length=2, pattern=r"^[a-z]+$")],
    count: Annotated[int, Arg(minimum=1, maximum=5)] = 1,
    ratio: float = 0.5,
    flag: bool = False,
    mode: Literal["fast", "slow"] = "fast",
    tags: Optional[list[str]] = None,
    point: Point | None = None,
    day: dt.date | None = None,
) -> Answer:
    return Answer(
        total=Decimal("10.50") * count,
        when=day or dt.date(2025, 1, 2),
        points=[point] if point else [],
    )


@tool
def plain(text: str) -> str:
    """Echoes its text."""
    if text == "fail":
        raise ToolFailed("asked to fail")
    if text == "boom":
        raise KeyError("boom")
    return text


def call(name: str, arguments: object) -> wit_tool.ToolOutput:
    return zava_tool.Tool().call_tool(name, json.dumps(arguments))


def refusal(name: str, arguments: object) -> object:
    try:
        call(name, arguments)
    except Err as error:
        return error.value
    raise AssertionError("the call was not refused")


class SchemaTest(unittest.TestCase):
    def test_input_schema_comes_from_the_signature(self) -> None:
        (definition,) = [d for d in zava_tool.Tool().list_tools() if d.name == "kitchen_sink"]
        schema = json.loads(definition.input_schema)
        self.assertEqual(schema["required"], ["name"])
        self.assertFalse(schema["additionalProperties"])
        p = schema["properties"]
        self.assertEqual(
            p["name"], {"type": "string", "description": "Who", "minLength": 2, "pattern": "^[a-z]+$"}
        )
        self.assertEqual(p["count"], {"type": "integer", "minimum": 1, "maximum": 5, "default": 1})
        self.assertEqual(p["ratio"], {"type": "number", "default": 0.5})
        self.assertEqual(p["flag"], {"type": "boolean", "default": False})
        self.assertEqual(p["mode"], {"type": "string", "enum": ["fast", "slow"], "default": "fast"})
        self.assertEqual(
            p["tags"], {"type": ["array", "null"], "items": {"type": "string"}, "default": None}
        )
        self.assertEqual(p["point"]["type"], ["object", "null"])
        self.assertEqual(p["point"]["required"], ["x"])
        self.assertEqual(p["point"]["description"], "A point.")
        self.assertEqual(p["point"]["properties"]["label"]["description"], "What it is")
        self.assertEqual(p["day"], {"type": ["string", "null"], "format": "date", "default": None})

    def test_output_schema_comes_from_the_return_type(self) -> None:
        (definition,) = [d for d in zava_tool.Tool().list_tools() if d.name == "kitchen_sink"]
        schema = json.loads(definition.output_schema)
        self.assertEqual(schema["required"], ["total", "when"])
        self.assertEqual(schema["properties"]["total"], {"type": "number"})
        self.assertEqual(schema["properties"]["points"]["items"]["type"], "object")
        (plain_def,) = [d for d in zava_tool.Tool().list_tools() if d.name == "plain"]
        self.assertIsNone(plain_def.output_schema)
        self.assertEqual(plain_def.description, "Echoes its text.")
        self.assertTrue(plain_def.read_only)

    def test_typeddict_and_unsupported_types(self) -> None:
        schema = json_schema(Movie)
        self.assertEqual(schema["required"], ["title", "year"])
        self.assertEqual(schema["properties"]["year"], {"type": "integer", "minimum": 1888})
        self.assertEqual(json_schema(dict[str, int]), {"type": "object", "additionalProperties": {"type": "integer"}})
        self.assertEqual(json_schema(Literal[1, "a"]), {"type": ["integer", "string"], "enum": [1, "a"]})
        with self.assertRaises(TypeError):
            json_schema(set)
        with self.assertRaises(TypeError):
            json_schema(dict[int, str])

    def test_a_bad_tool_fails_at_import(self) -> None:
        with self.assertRaises(TypeError):

            @tool(description="x", name="untyped")
            def untyped(a) -> str:  # type: ignore[no-untyped-def]
                return ""

        with self.assertRaises(ValueError):

            @tool(description="x", name="bad name!")
            def bad() -> str:
                return ""


class CallTest(unittest.TestCase):
    def test_arguments_are_converted_and_the_result_serialised(self) -> None:
        out = call("kitchen_sink", {"name": "ann", "count": 2.0, "point": {"x": 3}, "day": "2025-03-04"})
        self.assertEqual(out.content[0].value, "total 21.00")
        self.assertEqual(
            json.loads(out.structured),
            {"total": 21, "when": "2025-03-04", "points": [{"x": 3, "label": "here"}]},
        )
        out = call("kitchen_sink", {"name": "ann", "count": 3})
        self.assertEqual(json.loads(out.structured)["total"], 31.5)

    def test_bad_arguments_are_invalid_arguments(self) -> None:
        for arguments, message in [
            ({}, "`name` is required: Who"),
            ({"name": "a"}, "`name` must have at least 2 characters"),
            ({"name": "Ann"}, "`name` must match ^[a-z]+$"),
            ({"name": "ann", "count": 9}, "`count` must be at most 5, got 9"),
            ({"name": "ann", "count": True}, "`count` must be an integer, got true"),
            ({"name": "ann", "ratio": "x"}, "`ratio` must be a number"),
            ({"name": "ann", "mode": "warp"}, '`mode` must be one of "fast", "slow", got "warp"'),
            ({"name": "ann", "tags": ["a", 1]}, "`tags[1]` must be a string, got 1"),
            ({"name": "ann", "point": {"y": 1}}, "`point.x` is required"),
            ({"name": "ann", "point": {"x": 1, "z": 2}}, "unknown argument `point.z`"),
            ({"name": "ann", "day": "2025-02-30"}, "`day` must be a date"),
            ({"name": "ann", "extra": 1}, "unknown argument `extra` (expected: name, count,"),
            ([1], "arguments must be a JSON object"),
        ]:
            with self.subTest(arguments=arguments):
                error = refusal("kitchen_sink", arguments)
                self.assertIsInstance(error, wit_tool.ToolError_InvalidArguments)
                self.assertIn(message, error.value)

    def test_failures_are_failed_not_traps(self) -> None:
        logged = []
        zava_tool.wit_caller.log = lambda level, message: logged.append(message)
        error = refusal("plain", {"text": "fail"})
        self.assertEqual(error, wit_tool.ToolError_Failed("asked to fail"))
        error = refusal("plain", {"text": "boom"})
        self.assertEqual(error, wit_tool.ToolError_Failed("KeyError: 'boom'"))
        self.assertIn("in plain", logged[-1])
        self.assertEqual(call("plain", {"text": "hi"}).content[0].value, "hi")
        error = refusal("nope", {})
        self.assertIsInstance(error, wit_tool.ToolError_InvalidArguments)


class QueryTest(unittest.TestCase):
    def test_parameters_and_values(self) -> None:
        seen = {}

        def fake(sql: str, params: list, max_rows: int) -> wit_types.RowSet:
            seen.update(sql=sql, params=params, max_rows=max_rows)
            return wit_types.RowSet(
                columns=[wit_types.Column(n, t) for n, t in [("n", "numeric"), ("d", "date"), ("j", "jsonb"), ("x", "int8")]],
                rows=[[
                    wit_types.SqlValue_Numeric("12.30"),
                    wit_types.SqlValue_Date("2025-01-02"),
                    wit_types.SqlValue_Json('{"a": [1]}'),
                    wit_types.SqlValue_Null(),
                ]],
                truncated=True,
            )

        zava_tool.wit_database.query = fake
        rows = zava_tool.query("SELECT", 1, "a", None, True, 1.5, Decimal("2.5"), dt.date(2025, 1, 2), [1], max_rows=7)
        self.assertEqual(rows, [{"n": Decimal("12.30"), "d": dt.date(2025, 1, 2), "j": {"a": [1]}, "x": None}])
        self.assertTrue(rows.truncated)
        self.assertEqual(rows.columns[0], ("n", "numeric"))
        self.assertEqual(seen["max_rows"], 7)
        self.assertEqual(
            seen["params"],
            [
                wit_types.SqlValue_Int(1),
                wit_types.SqlValue_Text("a"),
                wit_types.SqlValue_Null(),
                wit_types.SqlValue_Boolean(True),
                wit_types.SqlValue_Float(1.5),
                wit_types.SqlValue_Numeric("2.5"),
                wit_types.SqlValue_Date("2025-01-02"),
                wit_types.SqlValue_Json("[1]"),
            ],
        )

    def test_database_errors_are_tool_failures(self) -> None:
        def fake(sql: str, params: list, max_rows: int) -> wit_types.RowSet:
            raise Err(wit_types.DbError_Rejected("only SELECT"))

        zava_tool.wit_database.query = fake
        with self.assertRaises(zava_tool.DatabaseError) as caught:
            zava_tool.query("DELETE FROM x")
        self.assertEqual(caught.exception.kind, "rejected")
        self.assertEqual(str(caught.exception), "The query was rejected: only SELECT")


class PeriodTest(unittest.TestCase):
    def test_forms(self) -> None:
        d = dt.date
        self.assertEqual(period.parse("2025"), period.Period("2025", d(2025, 1, 1), d(2026, 1, 1)))
        self.assertEqual(period.parse(" 2025-q4 "), period.Period("2025-Q4", d(2025, 10, 1), d(2026, 1, 1)))
        self.assertEqual(period.parse("2025Q1").end, d(2025, 4, 1))
        self.assertEqual(period.parse("2025-12"), period.Period("2025-12", d(2025, 12, 1), d(2026, 1, 1)))
        self.assertEqual(period.parse("2024-02").end, d(2024, 3, 1))
        self.assertEqual(
            period.parse("2025-07-01..2025-09-30"),
            period.Period("2025-07-01..2025-09-30", d(2025, 7, 1), d(2025, 10, 1)),
        )
        self.assertEqual(period.parse("Last 90 Days"), period.Period("last 90 days", days=90))
        self.assertEqual(period.parse("last 1 day").days, 1)

    def test_refusals(self) -> None:
        for text, message in [
            ("next week", "unknown period"),
            ("2025-00", "month 0 does not exist"),
            ("2025-Q5", "unknown period"),
            ("0999", "out of range"),
            ("last 0 days", "from 1 to 3660"),
            ("last 4000 days", "from 1 to 3660"),
            ("2025-02-30..2025-03-01", "day is out of range"),
            ("2025-03-01..2025-02-01", "before it starts"),
        ]:
            with self.subTest(text=text), self.assertRaises(ValueError) as caught:
                period.parse(text)
            self.assertIn(message, str(caught.exception))


if __name__ == "__main__":
    unittest.main()
