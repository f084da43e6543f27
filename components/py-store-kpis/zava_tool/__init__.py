"""Typed Python tools for the Zava MCP host (WIT `zava:mcp@0.2.0`, world
`tool-component`), built with componentize-py.

Write a tool as a decorated function with type hints::

    from dataclasses import dataclass
    from typing import Annotated
    from zava_tool import Arg, Tool, ToolFailed, query, tool  # Tool: the WIT export

    @dataclass
    class Count:
        orders: int

    @tool(description="Counts the caller's orders on one day.")
    def count_orders(day: Annotated[str, Arg("A day, YYYY-MM-DD", pattern=r"^\\d{4}-\\d{2}-\\d{2}$")]) -> Count:
        rows = query("SELECT count(*) AS n FROM retail.orders WHERE order_date = $1::date", day)
        return Count(orders=rows[0]["n"])

The module componentize-py builds (the "app") must have a `Tool` attribute:
importing `Tool` from here is all it takes; it serves every decorated
function (`list-tools` and `call-tool` of the WIT `tool` interface).

Schemas come from the type hints (see `json_schema`):

- input: one property per parameter; `str`, `int`, `float`, `bool`,
  `Decimal`, `date`, `datetime`, `Optional[X]`/`X | None`, `list[X]`,
  `dict[str, X]`, `Literal[...]`, dataclasses and TypedDicts, each optionally
  `Annotated[X, "description"]` or `Annotated[X, Arg(description, minimum=...,
  maximum=..., min_length=..., pattern=..., ...)]`. A parameter with a default
  is not required (its default is shown); unknown arguments are refused.
- output: the return type, a dataclass or TypedDict (an object schema), is the
  output schema; the result becomes `structuredContent`, and the text block is
  `str(result)` if its class defines `__str__`, else the JSON. A tool
  returning `str` has no output schema and answers with that text.

Calls: the arguments are checked against the input schema before the function
runs (a mismatch is WIT `invalid-arguments`, with a message naming the
argument and the rule), then converted to the hinted types (a whole 3.0 for
an `int` becomes 3; a dict for a dataclass becomes the dataclass). In the
function, `raise InvalidArguments("...")` for input that is well-formed but
unusable, `raise ToolFailed("...")` for a failure the assistant should read;
any other exception becomes `failed` with its type and message (and the
frames it passed in the host log) rather than a trap. `MemoryError` is the
exception: it is left to trap so the host reports the memory limit it hit.
The result is checked against the output schema too (a mismatch is `failed`).

`query(sql, *params, max_rows=...)` runs one read-only statement as the caller
(database import) and returns rows as dicts. Values: PostgreSQL NULL -> None,
boolean -> bool, integers -> int, float4/float8 -> float, numeric ->
`decimal.Decimal` (exact: sum money without rounding; results serialise as
JSON numbers), date -> `datetime.date`, timestamp -> `datetime.datetime`,
json/jsonb -> parsed JSON, uuid and text -> str, vector -> list[float].
Parameters take the same Python types (str -> text, dict/list -> json); cast
placeholders in SQL when PostgreSQL cannot infer a type (`$1::date`).

The host gives no filesystem: a call that opens a file (`open`, `traceback`
printing source lines, importing a module for the first time) is stopped
("it called wasi:filesystem/..."). Import what a tool needs at the top of its
module: componentize-py runs the imports at build time and snapshots them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import json
import math
import re
import types
import typing
from decimal import Decimal
from typing import Annotated, Any, Callable, Literal, Union

import wit_world
from componentize_py_types import Err
from wit_world.exports import tool as wit_tool
from wit_world.imports import caller as wit_caller
from wit_world.imports import database as wit_database
from wit_world.imports import types as wit_types

__all__ = [
    "Arg",
    "DatabaseError",
    "InvalidArguments",
    "Rows",
    "Scope",
    "Tool",
    "ToolFailed",
    "json_schema",
    "log",
    "query",
    "scope",
    "tool",
]


# --- errors ------------------------------------------------------------------


class ToolFailed(Exception):
    """The tool ran and failed; the assistant reads the message (WIT `failed`)."""


class InvalidArguments(Exception):
    """The arguments do not fit; the message says how to fix them (WIT `invalid-arguments`)."""


class DatabaseError(ToolFailed):
    """A `query` failed; `kind` is the WIT `db-error` case: rejected, timeout, failed, unavailable."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# --- schema derivation -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Arg:
    """JSON Schema details for an `Annotated` parameter or field."""

    description: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    min_items: int | None = None
    max_items: int | None = None
    examples: tuple[Any, ...] = ()

    def schema(self) -> dict[str, Any]:
        """The JSON Schema keywords this adds."""
        if self.pattern is not None:
            # A bad pattern fails the build; a good one is compiled now, at
            # build time, into `re`'s cache, which componentize-py snapshots
            # (every call is a fresh instance: it would compile it again).
            re.compile(self.pattern)
        keywords = {
            "description": self.description,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "exclusiveMinimum": self.exclusive_minimum,
            "exclusiveMaximum": self.exclusive_maximum,
            "minLength": self.min_length,
            "maxLength": self.max_length,
            "pattern": self.pattern,
            "minItems": self.min_items,
            "maxItems": self.max_items,
            "examples": list(self.examples) or None,
        }
        return {k: v for k, v in keywords.items() if v is not None}


_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    Decimal: {"type": "number"},
    dt.date: {"type": "string", "format": "date"},
    dt.datetime: {"type": "string", "format": "date-time"},
    type(None): {"type": "null"},
    Any: {},
}


def _json_type(value: Any) -> str:
    """The JSON Schema type of a Python constant (for `Literal` enums)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` or null."""
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    if isinstance(schema.get("type"), str):
        schema["type"] = [schema["type"], "null"]
        return schema
    if isinstance(schema.get("type"), list):
        schema["type"] = [*schema["type"], "null"]
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


def _class_doc(cls: type) -> str | None:
    """A class's own docstring (not the one `dataclass` makes up)."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    return doc if doc and not doc.startswith(cls.__name__ + "(") else None


def _object_schema(cls: type, seen: tuple[type, ...]) -> dict[str, Any]:
    """A dataclass or TypedDict as an object schema."""
    if cls in seen:
        raise TypeError(f"zava_tool cannot describe the recursive type {cls.__name__}")
    hints = typing.get_type_hints(cls, include_extras=True)
    properties: dict[str, Any] = {}
    required: list[str] = []
    if dataclasses.is_dataclass(cls):
        for f in dataclasses.fields(cls):
            properties[f.name] = json_schema(hints[f.name], seen + (cls,))
            if "description" in f.metadata:
                properties[f.name]["description"] = f.metadata["description"]
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                required.append(f.name)
    else:
        for name, hint in hints.items():
            properties[name] = json_schema(hint, seen + (cls,))
        required = [n for n in hints if n in cls.__required_keys__]
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    if doc := _class_doc(cls):
        schema["description"] = doc
    return schema


def json_schema(hint: Any, seen: tuple[type, ...] = ()) -> dict[str, Any]:
    """The JSON Schema of a type hint (see the module docstring for what is supported)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        schema = json_schema(args[0], seen)
        for meta in args[1:]:
            if isinstance(meta, str):
                schema["description"] = meta
            elif isinstance(meta, Arg):
                schema.update(meta.schema())
        return schema
    if hint in _SCALARS:
        return dict(_SCALARS[hint])
    if origin is Literal:
        kinds = sorted({_json_type(v) for v in args})
        return {"type": kinds[0] if len(kinds) == 1 else kinds, "enum": list(args)}
    if origin is Union or origin is types.UnionType:
        present = [a for a in args if a is not type(None)]
        if len(present) == 1:
            schema = json_schema(present[0], seen)
        else:
            schema = {"anyOf": [json_schema(a, seen) for a in present]}
        return _nullable(schema) if len(present) < len(args) else schema
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            raise TypeError(f"zava_tool describes only tuple[X, ...], not {hint!r}")
        return {"type": "array", "items": json_schema(args[0], seen) if args else {}}
    if origin is dict or hint is dict:
        if args and args[0] is not str:
            raise TypeError(f"JSON object keys are strings: {hint!r}")
        return {"type": "object", "additionalProperties": json_schema(args[1], seen) if args else {}}
    if isinstance(hint, type) and (dataclasses.is_dataclass(hint) or typing.is_typeddict(hint)):
        return _object_schema(hint, seen)
    raise TypeError(f"zava_tool cannot describe {hint!r} in JSON Schema")


# --- validation against the schema ------------------------------------------

_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}

_NOUNS = {
    "string": "a string",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "null": "null",
    "array": "an array",
    "object": "an object",
}

_FORMATS: dict[str, Callable[[str], Any]] = {
    "date": dt.date.fromisoformat,
    "date-time": dt.datetime.fromisoformat,
}


def _many(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def validate(schema: dict[str, Any], value: Any, path: str = "") -> None:
    """Raises `InvalidArguments` when `value` breaks `schema` (the subset
    `json_schema` emits: type, enum, bounds, lengths, pattern, format, items,
    properties/required/additionalProperties, anyOf). `path` names the value
    in messages, e.g. `top_categories` or `filters[0].name`."""
    where = f"`{path}`" if path else "the arguments"
    if "anyOf" in schema:
        problems = []
        for option in schema["anyOf"]:
            try:
                validate(option, value, path)
                break
            except InvalidArguments as problem:
                problems.append(str(problem))
        else:
            raise InvalidArguments(" or ".join(problems))
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_TYPE_CHECKS[k](value) for k in kinds):
            wanted = " or ".join(_NOUNS[k] for k in kinds)
            raise InvalidArguments(f"{where} must be {wanted}, got {_show(value)}")
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(_show(v) for v in schema["enum"])
        raise InvalidArguments(f"{where} must be one of {choices}, got {_show(value)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for key, fails, words in (
            ("minimum", lambda b: value < b, "at least"),
            ("maximum", lambda b: value > b, "at most"),
            ("exclusiveMinimum", lambda b: value <= b, "more than"),
            ("exclusiveMaximum", lambda b: value >= b, "less than"),
        ):
            if key in schema and fails(schema[key]):
                raise InvalidArguments(f"{where} must be {words} {schema[key]}, got {_show(value)}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            raise InvalidArguments(f"{where} must have at least {_many(schema['minLength'], 'character')}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise InvalidArguments(f"{where} must have at most {_many(schema['maxLength'], 'character')}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise InvalidArguments(f"{where} must match {schema['pattern']}, got {_show(value)}")
        if schema.get("format") in _FORMATS:
            try:
                _FORMATS[schema["format"]](value)
            except ValueError:
                raise InvalidArguments(f"{where} must be a {schema['format']}, got {_show(value)}") from None
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            raise InvalidArguments(f"{where} must have at least {_many(schema['minItems'], 'item')}")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise InvalidArguments(f"{where} must have at most {_many(schema['maxItems'], 'item')}")
        for i, item in enumerate(value):
            validate(schema.get("items", {}), item, f"{path}[{i}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        inner = f"{path}." if path else ""
        for name in schema.get("required", []):
            if name not in value:
                about = properties.get(name, {}).get("description")
                raise InvalidArguments(f"`{inner}{name}` is required" + (f": {about}" if about else ""))
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                validate(properties[name], item, f"{inner}{name}")
            elif extra is False:
                known = ", ".join(properties) or "none"
                raise InvalidArguments(f"unknown argument `{inner}{name}` (expected: {known})")
            elif isinstance(extra, dict):
                validate(extra, item, f"{inner}{name}")


def _convert(hint: Any, value: Any) -> Any:
    """A validated JSON value as the hinted Python type."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        return _convert(args[0], value)
    if value is None:
        return None
    if hint is int:
        return int(value)
    if hint is float:
        return float(value)
    if hint is Decimal:
        return Decimal(str(value))
    if hint is dt.date:
        return dt.date.fromisoformat(value)
    if hint is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if origin is Union or origin is types.UnionType:
        for option in args:
            if option is type(None):
                continue
            try:
                validate(json_schema(option), value)
            except InvalidArguments:
                continue
            return _convert(option, value)
        return value
    if origin in (list, tuple, set, frozenset):
        return (origin or list)(_convert(args[0], v) for v in value) if args else value
    if origin is dict and args:
        return {k: _convert(args[1], v) for k, v in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint, include_extras=True)
        return hint(**{k: _convert(hints[k], v) for k, v in value.items()})
    if isinstance(hint, type) and typing.is_typeddict(hint):
        hints = typing.get_type_hints(hint, include_extras=True)
        return {k: _convert(hints[k], v) for k, v in value.items()}
    return value


def to_json(value: Any) -> Any:
    """A result as JSON-ready values: dataclasses as objects, `Decimal` as a
    number, dates as ISO 8601 text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolFailed(f"the tool produced a number JSON cannot hold: {value}")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


# --- tools -------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


@dataclasses.dataclass
class _Spec:
    """One decorated function and what the host is told about it."""

    fn: Callable[..., Any]
    definition: wit_tool.ToolDef
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    hints: dict[str, Any]

    def call(self, arguments: Any) -> wit_tool.ToolOutput:
        if not isinstance(arguments, dict):
            raise InvalidArguments(f"arguments must be a JSON object, got {_show(arguments)}")
        validate(self.input_schema, arguments)
        result = self.fn(**{k: _convert(self.hints[k], v) for k, v in arguments.items()})
        if self.output_schema is None:
            return wit_tool.ToolOutput(content=[wit_types.Content_Text(str(result))], structured=None)
        structured = to_json(result)
        try:
            validate(self.output_schema, structured, "result")
        except InvalidArguments as problem:
            raise ToolFailed(f"the tool's result does not match its output schema: {problem}") from None
        data = json.dumps(structured, ensure_ascii=False, allow_nan=False)
        own_str = type(result).__str__ is not object.__str__ and not isinstance(result, dict)
        text = str(result) if own_str else data
        return wit_tool.ToolOutput(content=[wit_types.Content_Text(text)], structured=data)


_TOOLS: dict[str, _Spec] = {}


def tool(
    fn: Callable[..., Any] | None = None,
    *,
    description: str | None = None,
    name: str | None = None,
    title: str | None = None,
    read_only: bool = True,
) -> Any:
    """Registers a function as an MCP tool (usable bare, `@tool`, or with
    arguments). `description` defaults to the docstring, `name` to the
    function's name. Schemas are derived when the module is imported, that is
    at build time: a hint zava_tool cannot describe fails the build."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        tool_name = name or fn.__name__
        if not _NAME.match(tool_name):
            raise ValueError(f"tool name {tool_name!r} must be 1-128 characters of A-Za-z0-9_.-")
        if tool_name in _TOOLS:
            raise ValueError(f"two tools are named {tool_name!r}")
        about = description or inspect.cleandoc(fn.__doc__ or "")
        if not about:
            raise ValueError(f"tool {tool_name!r} needs a description (or a docstring)")
        hints = typing.get_type_hints(fn, include_extras=True)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for param in inspect.signature(fn).parameters.values():
            if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                raise TypeError(f"{tool_name}: parameter {param.name} must be a named parameter")
            if param.name not in hints:
                raise TypeError(f"{tool_name}: parameter {param.name} needs a type hint")
            schema = json_schema(hints[param.name])
            if param.default is param.empty:
                required.append(param.name)
            else:
                schema["default"] = to_json(param.default)
            properties[param.name] = schema
        input_schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            input_schema["required"] = required
        input_schema["additionalProperties"] = False
        returns = hints.get("return", str)
        output_schema = None if returns is str else json_schema(returns)
        if output_schema is not None and output_schema.get("type") != "object":
            raise TypeError(f"{tool_name}: return a dataclass or TypedDict (an object), or str")
        _TOOLS[tool_name] = _Spec(
            fn=fn,
            definition=wit_tool.ToolDef(
                name=tool_name,
                title=title,
                description=about,
                input_schema=json.dumps(input_schema),
                output_schema=None if output_schema is None else json.dumps(output_schema),
                read_only=read_only,
                app=None,
            ),
            input_schema=input_schema,
            output_schema=output_schema,
            hints=hints,
        )
        return fn

    return register(fn) if fn is not None else register


class Tool(wit_world.exports.Tool):
    """The WIT `tool` export: every function decorated with `@tool`."""

    def list_tools(self) -> list[wit_tool.ToolDef]:
        return [spec.definition for spec in _TOOLS.values()]

    def call_tool(self, name: str, arguments: str) -> wit_tool.ToolOutput:
        spec = _TOOLS.get(name)
        try:
            if spec is None:
                raise InvalidArguments(f"this component has no tool `{name}`")
            try:
                parsed = json.loads(arguments or "{}")
            except ValueError as error:
                raise InvalidArguments(f"the arguments are not JSON: {error}") from None
            return spec.call(parsed)
        except InvalidArguments as error:
            raise Err(wit_tool.ToolError_InvalidArguments(str(error))) from None
        except ToolFailed as error:
            raise Err(wit_tool.ToolError_Failed(str(error))) from None
        except MemoryError:
            raise  # a trap: the host reports the memory limit
        except Exception as error:
            log(f"{name} failed: {type(error).__name__}: {error}\n{_frames(error)}", "error")
            raise Err(wit_tool.ToolError_Failed(f"{type(error).__name__}: {error}")) from None


def _frames(error: BaseException) -> str:
    """Where an exception passed, innermost last. Not `traceback`: it reads
    source files (linecache), and a filesystem call traps in this host."""
    frames = []
    tb = error.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append(f"  {code.co_filename}:{tb.tb_lineno} in {code.co_name}")
        tb = tb.tb_next
    return "\n".join(frames)


# --- the caller and the database ---------------------------------------------


@dataclasses.dataclass(frozen=True)
class Scope:
    """Whose data the caller sees: `head_office`, or `store_id`, or neither (unassigned)."""

    head_office: bool
    store_id: int | None

    def __str__(self) -> str:
        if self.head_office:
            return "head-office"
        return "unassigned" if self.store_id is None else f"store:{self.store_id}"


def scope() -> Scope:
    """The caller's data scope (the database applies it whatever SQL says)."""
    current = wit_caller.current()
    if isinstance(current, wit_caller.Scope_HeadOffice):
        return Scope(head_office=True, store_id=None)
    if isinstance(current, wit_caller.Scope_Store):
        return Scope(head_office=False, store_id=current.value)
    return Scope(head_office=False, store_id=None)


_LEVELS = {
    "debug": wit_caller.Level.DEBUG,
    "info": wit_caller.Level.INFO,
    "warn": wit_caller.Level.WARN,
    "error": wit_caller.Level.ERROR,
}


def log(message: str, level: Literal["debug", "info", "warn", "error"] = "info") -> None:
    """One line in the host's log, tagged with the tool's name."""
    wit_caller.log(_LEVELS[level], message)


class Rows(list[dict[str, Any]]):
    """Rows as dicts, plus `columns` [(name, PostgreSQL type)] and `truncated`
    (more rows existed than `max_rows` allowed)."""

    def __init__(self, rows: list[dict[str, Any]], columns: list[tuple[str, str]], truncated: bool) -> None:
        super().__init__(rows)
        self.columns = columns
        self.truncated = truncated


def _param(value: Any) -> wit_types.SqlValue:
    """A Python value as a WIT `sql-value` parameter."""
    if value is None:
        return wit_types.SqlValue_Null()
    if isinstance(value, bool):
        return wit_types.SqlValue_Boolean(value)
    if isinstance(value, int):
        return wit_types.SqlValue_Int(value)
    if isinstance(value, float):
        return wit_types.SqlValue_Float(value)
    if isinstance(value, Decimal):
        return wit_types.SqlValue_Numeric(str(value))
    if isinstance(value, str):
        return wit_types.SqlValue_Text(value)
    if isinstance(value, dt.datetime):
        return wit_types.SqlValue_Timestamp(value.isoformat())
    if isinstance(value, dt.date):
        return wit_types.SqlValue_Date(value.isoformat())
    if isinstance(value, (dict, list)):
        return wit_types.SqlValue_Json(json.dumps(to_json(value)))
    raise TypeError(f"cannot pass {type(value).__name__} as a SQL parameter")


_FROM_SQL: dict[type, Callable[[Any], Any]] = {
    wit_types.SqlValue_Numeric: Decimal,
    wit_types.SqlValue_Date: dt.date.fromisoformat,
    wit_types.SqlValue_Timestamp: dt.datetime.fromisoformat,
    wit_types.SqlValue_Json: json.loads,
}


def _value(value: wit_types.SqlValue) -> Any:
    """A WIT `sql-value` as a Python value (see the module docstring)."""
    if isinstance(value, wit_types.SqlValue_Null):
        return None
    convert = _FROM_SQL.get(type(value))
    return value.value if convert is None else convert(value.value)


_DB_ERRORS = {
    wit_types.DbError_Rejected: ("rejected", "The query was rejected: {}"),
    wit_types.DbError_Timeout: ("timeout", "The query ran longer than the server allows and was cancelled"),
    wit_types.DbError_Failed: ("failed", "PostgreSQL reported an error: {}"),
    wit_types.DbError_Unavailable: ("unavailable", "The database is unavailable right now: {}"),
}


def query(sql: str, *params: Any, max_rows: int = 1000) -> Rows:
    """Runs ONE read-only statement as the caller (`$1`, `$2`... are `params`)
    and returns at most `max_rows` rows (the host may cap it lower). Raises
    `DatabaseError` (a `ToolFailed`) if the database refuses or fails."""
    try:
        result = wit_database.query(sql, [_param(p) for p in params], max_rows)
    except Err as error:
        kind, message = _DB_ERRORS[type(error.value)]
        detail = getattr(error.value, "value", "")
        raise DatabaseError(kind, message.format(detail)) from None
    names = [c.name for c in result.columns]
    rows = [dict(zip(names, map(_value, row))) for row in result.rows]
    return Rows(rows, [(c.name, c.type_name) for c in result.columns], result.truncated)
