#!/usr/bin/env python3
"""infra/check.py: structural sanity check of the Bicep files, for machines
without the Bicep CLI (stdlib only). Not a compiler; it catches the mistakes
that are easy to make by hand:

- unbalanced (), [], {} outside strings and comments, unterminated strings
  and comments, `${...}` interpolations that do not close;
- a `module` whose path does not exist, a module `params:` key the module
  does not declare, a required module parameter (no default) not passed,
  `<module>.outputs.<name>` naming an output the module does not have;
- an identifier used but never declared (param, var, resource, module,
  loop variable, lambda parameter) and an unknown function name;
- duplicate keys in one object, a file that does not start with a comment;
- parameters deploy.sh passes that main.bicep does not declare.

Unused params/vars and @secure() params with a default are warnings.

Usage: python3 infra/check.py [file.bicep ...]   (default: infra/**/*.bicep)
Exit status 1 when there are errors.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent

KEYWORDS = {
    "param", "var", "resource", "module", "output", "targetScope", "metadata",
    "type", "func", "import", "existing", "if", "for", "in", "true", "false",
    "null", "with", "as", "using", "extension", "assert",
}
TYPES = {"string", "int", "bool", "object", "array", "any"}
NAMESPACES = {"sys", "az"}
FUNCTIONS = {
    # az / sys functions (https://learn.microsoft.com/azure/azure-resource-manager/bicep/bicep-functions)
    "any", "array", "base64", "base64ToJson", "base64ToString", "bool", "coalesce",
    "concat", "contains", "dataUri", "dataUriToString", "dateTimeAdd",
    "dateTimeFromEpoch", "dateTimeToEpoch", "deployer", "deployment", "empty", "endsWith",
    "environment", "extensionResourceId", "filter", "first", "flatten", "format",
    "getSecret", "groupBy", "guid", "indexOf", "int", "intersection", "items", "join", "json",
    "last", "lastIndexOf", "length", "listKeys", "listAccountSas", "listServiceSas",
    "listSecrets", "loadFileAsBase64", "loadJsonContent", "loadYamlContent",
    "loadTextContent", "managementGroup", "managementGroupResourceId", "map",
    "mapValue", "max", "min", "newGuid", "objectKeys", "padLeft", "pickZones",
    "range", "readEnvironmentVariable", "reduce", "reference", "replace",
    "resourceGroup", "resourceId", "shallowMerge", "skip", "sort", "split",
    "startsWith", "string", "subscription", "subscriptionResourceId", "substring",
    "take", "tenant", "tenantResourceId", "toLower", "toObject", "toUpper", "trim",
    "tryGet", "union", "uniqueString", "uri", "uriComponent", "uriComponentToString",
    "utcNow",
    # decorators
    "secure", "description", "minLength", "maxLength", "minValue", "maxValue",
    "allowed", "metadata", "batchSize", "export", "discriminator", "sealed",
}


@dataclass
class Tok:
    kind: str  # ident, punct, number, string
    value: str | None
    line: int
    first_on_line: bool = False


@dataclass
class Param:
    name: str
    has_default: bool
    secure: bool
    line: int


@dataclass
class Module:
    name: str
    path: str
    line: int
    body_start: int  # token index of the body's "{"


@dataclass
class BicepFile:
    path: Path
    tokens: list[Tok] = field(default_factory=list)
    params: dict[str, Param] = field(default_factory=dict)
    outputs: set[str] = field(default_factory=set)
    symbols: dict[str, str] = field(default_factory=dict)  # name -> kind
    modules: list[Module] = field(default_factory=list)
    decl_indices: set[int] = field(default_factory=set)


class Report:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, path: Path, line: int, msg: str) -> None:
        self.errors.append(f"{rel(path)}:{line}: error: {msg}")

    def warn(self, path: Path, line: int, msg: str) -> None:
        self.warnings.append(f"{rel(path)}:{line}: warning: {msg}")


def rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(HERE.parent))
    except ValueError:
        return str(path)


PAIRS = {")": "(", "]": "[", "}": "{"}
IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MULTI_PUNCT = ("=>", "==", "!=", ">=", "<=", "&&", "||", "??", "::", ".?", "?.")


def lex(path: Path, src: str, report: Report) -> list[Tok]:
    """Tokens of one file; reports unbalanced brackets and bad strings."""
    toks: list[Tok] = []
    brackets: list[tuple[str, int, bool]] = []  # (opener, line, is_interpolation)
    modes = ["code"]
    # (index after the quote, line, interpolated, first token on its line)
    string_start: list[tuple[int, int, bool, bool]] = []
    i, n, line = 0, len(src), 1
    line_has_token = False

    def push(kind: str, value: str | None) -> None:
        nonlocal line_has_token
        toks.append(Tok(kind, value, line, not line_has_token))
        line_has_token = True

    while i < n:
        ch = src[i]
        if modes[-1] == "string":
            if ch == "\\":
                i += 2
                continue
            if ch == "\n":
                report.error(path, line, "unterminated string (single-quoted strings end on their line)")
                modes.pop()
                string_start.pop()
                continue
            if ch == "'":
                start, sline, interpolated, first = string_start.pop()
                modes.pop()
                value = None if interpolated else src[start:i]
                toks.append(Tok("string", value, sline, first))
                i += 1
                continue
            if src.startswith("${", i):
                s = string_start[-1]
                string_start[-1] = (s[0], s[1], True, s[3])
                brackets.append(("{", line, True))
                modes.append("code")
                i += 2
                continue
            i += 1
            continue

        # code
        if ch == "\n":
            line += 1
            line_has_token = False
            i += 1
            continue
        if ch.isspace():
            i += 1
            continue
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                report.error(path, line, "unterminated /* comment")
                break
            line += src.count("\n", i, j)
            i = j + 2
            continue
        if ch == "#" and not line_has_token:  # #disable-next-line and friends
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if src.startswith("'''", i):
            j = src.find("'''", i + 3)
            if j < 0:
                report.error(path, line, "unterminated ''' string")
                break
            push("string", src[i + 3 : j])
            line += src.count("\n", i, j)
            i = j + 3
            continue
        if ch == "'":
            modes.append("string")
            string_start.append((i + 1, line, False, not line_has_token))
            line_has_token = True
            i += 1
            continue
        m = IDENT_RE.match(src, i)
        if m:
            push("ident", m.group())
            i = m.end()
            continue
        if ch.isdigit():
            j = i
            while j < n and (src[j].isdigit() or src[j] == "."):
                j += 1
            push("number", src[i:j])
            i = j
            continue
        if ch in "([{":
            brackets.append((ch, line, False))
            push("punct", ch)
            i += 1
            continue
        if ch in ")]}":
            if not brackets:
                report.error(path, line, f"unmatched '{ch}'")
                i += 1
                continue
            opener, oline, interp = brackets.pop()
            if opener != PAIRS[ch]:
                report.error(path, line, f"'{ch}' closes '{opener}' opened on line {oline}")
            if interp:
                modes.pop()  # back into the string
            else:
                push("punct", ch)
            i += 1
            continue
        for op in MULTI_PUNCT:
            if src.startswith(op, i):
                push("punct", op)
                i += len(op)
                break
        else:
            push("punct", ch)
            i += 1
    if modes[-1] == "string":
        report.error(path, string_start[-1][1], "unterminated string")
    for opener, oline, interp in brackets:
        what = "'${'" if interp else f"'{opener}'"
        report.error(path, oline, f"{what} is never closed")
    return toks


def is_p(tok: Tok | None, value: str) -> bool:
    return tok is not None and tok.kind == "punct" and tok.value == value


def is_i(tok: Tok | None, value: str | None = None) -> bool:
    return tok is not None and tok.kind == "ident" and (value is None or tok.value == value)


def at(toks: list[Tok], k: int) -> Tok | None:
    return toks[k] if 0 <= k < len(toks) else None


def matching(toks: list[Tok], k: int) -> int:
    """Index of the bracket closing the one at k (or len(toks))."""
    depth = 0
    for j in range(k, len(toks)):
        t = toks[j]
        if t.kind == "punct" and t.value in "([{":
            depth += 1
        elif t.kind == "punct" and t.value in ")]}":
            depth -= 1
            if depth == 0:
                return j
    return len(toks)


def parse(path: Path, report: Report) -> BicepFile:
    f = BicepFile(path)
    src = path.read_text(encoding="utf-8")
    first = next((l for l in src.splitlines() if l.strip()), "")
    if not first.lstrip().startswith("//"):
        report.error(path, 1, "the file should start with a comment saying what it is")
    f.tokens = toks = lex(path, src, report)

    depth = 0
    decorators: list[str] = []
    for k, t in enumerate(toks):
        if t.kind == "punct" and t.value in "([{":
            depth += 1
        elif t.kind == "punct" and t.value in ")]}":
            depth -= 1
        if is_p(t, "@") and is_i(at(toks, k + 1)):
            decorators.append(toks[k + 1].value or "")
            continue
        if t.kind != "ident":
            continue
        nxt = at(toks, k + 1)
        statement = t.first_on_line and is_i(nxt) and not is_p(at(toks, k + 2), ":")
        if depth == 0 and statement and t.value in ("param", "var", "output", "module", "resource", "type", "func"):
            name = nxt.value or ""
            f.decl_indices.add(k + 1)
            if t.value == "param":
                # param NAME TYPE [= default]: a default follows on the same line
                has_default = any(
                    is_p(x, "=") for x in toks[k + 2 : k + 6] if x.line == t.line
                )
                f.params[name] = Param(name, has_default, "secure" in decorators, t.line)
                f.symbols[name] = "param"
            elif t.value == "output":
                f.outputs.add(name)
            elif t.value == "module":
                mpath = at(toks, k + 2)
                # The body: the first "{" after "=" (past `if (...)` / `[for ...:`).
                eq = next((j for j in range(k + 3, len(toks)) if is_p(toks[j], "=")), len(toks))
                body = next((j for j in range(eq, len(toks)) if is_p(toks[j], "{")), len(toks))
                if mpath is None or mpath.kind != "string" or mpath.value is None:
                    report.error(path, t.line, f"module {name}: the path must be a plain string")
                else:
                    f.modules.append(Module(name, mpath.value, t.line, body))
                f.symbols[name] = "module"
            else:
                f.symbols[name] = t.value
            decorators = []
        elif depth > 0 and statement and t.value == "resource" and at(toks, k + 2) is not None \
                and toks[k + 2].kind == "string":
            f.decl_indices.add(k + 1)  # nested (child) resource
            f.symbols[nxt.value or ""] = "resource"
        elif t.value == "for" and not is_p(nxt, ":"):
            # for x in ... | for (x, i) in ...
            if is_i(nxt):
                f.decl_indices.add(k + 1)
                f.symbols.setdefault(nxt.value or "", "loop")
            elif is_p(nxt, "("):
                j = k + 2
                while j < len(toks) and not is_p(toks[j], ")"):
                    if is_i(toks[j]):
                        f.decl_indices.add(j)
                        f.symbols.setdefault(toks[j].value or "", "loop")
                    j += 1
        elif is_p(nxt, "=>"):
            f.decl_indices.add(k)  # lambda parameter
            f.symbols.setdefault(t.value or "", "lambda")
    # (a, b) => ...
    for k, t in enumerate(toks):
        if is_p(t, "=>") and is_p(at(toks, k - 1), ")"):
            j = k - 2
            while j >= 0 and not is_p(toks[j], "("):
                if is_i(toks[j]):
                    f.decl_indices.add(j)
                    f.symbols.setdefault(toks[j].value or "", "lambda")
                j -= 1
    return f


def check_references(f: BicepFile, report: Report) -> None:
    toks = f.tokens
    used: dict[str, int] = {}
    for k, t in enumerate(toks):
        if t.kind != "ident" or k in f.decl_indices:
            continue
        name = t.value or ""
        prev, nxt = at(toks, k - 1), at(toks, k + 1)
        if is_p(prev, ".") or is_p(prev, "?.") or is_p(prev, ".?") or is_p(prev, "::") or is_p(prev, "@"):
            continue
        if is_p(nxt, ":") and (t.first_on_line or is_p(prev, "{") or is_p(prev, ",")):
            continue  # object key
        if name in KEYWORDS and name not in ("metadata",):
            continue
        if is_p(nxt, "("):
            if name not in FUNCTIONS and f.symbols.get(name) != "func":
                report.error(f.path, t.line, f"unknown function {name}()")
            continue
        if name in KEYWORDS or name in TYPES or name in NAMESPACES:
            continue
        if name not in f.symbols:
            report.error(f.path, t.line, f"'{name}' is used but not declared")
            continue
        used[name] = used.get(name, 0) + 1
    for p in f.params.values():
        if p.name not in used:
            report.warn(f.path, p.line, f"param {p.name} is declared but never used")
        if p.secure and p.has_default:
            report.warn(f.path, p.line, f"@secure() param {p.name} has a default value")
    for k in f.decl_indices:
        t = toks[k]
        if f.symbols.get(t.value or "") == "var" and (t.value or "") not in used:
            report.warn(f.path, t.line, f"var {t.value} is declared but never used")


def check_duplicate_keys(f: BicepFile, report: Report) -> None:
    """Keys at the start of a line inside one object must be distinct."""
    stack: list[tuple[str, dict[str, int]]] = []
    toks = f.tokens
    for k, t in enumerate(toks):
        if t.kind == "punct" and t.value in "([{":
            stack.append((t.value, {}))
        elif t.kind == "punct" and t.value in ")]}":
            if stack:
                stack.pop()
        elif stack and stack[-1][0] == "{" and t.first_on_line and t.kind in ("ident", "string") \
                and is_p(at(toks, k + 1), ":"):
            key = t.value or ""
            seen = stack[-1][1]
            if key in seen:
                report.error(f.path, t.line, f"duplicate key '{key}' (first on line {seen[key]})")
            else:
                seen[key] = t.line


def module_params(f: BicepFile, m: Module) -> tuple[dict[str, int], int]:
    """Keys of the module body's `params: { ... }` object, and its line."""
    toks = f.tokens
    end = matching(toks, m.body_start)
    depth = 0
    for j in range(m.body_start, end):
        t = toks[j]
        if t.kind == "punct" and t.value in "([{":
            depth += 1
        elif t.kind == "punct" and t.value in ")]}":
            depth -= 1
        if depth == 1 and is_i(t, "params") and is_p(at(toks, j + 1), ":") and is_p(at(toks, j + 2), "{"):
            pend = matching(toks, j + 2)
            keys: dict[str, int] = {}
            d = 0
            for q in range(j + 2, pend):
                u = toks[q]
                if u.kind == "punct" and u.value in "([{":
                    d += 1
                elif u.kind == "punct" and u.value in ")]}":
                    d -= 1
                elif d == 1 and u.kind in ("ident", "string") and is_p(at(toks, q + 1), ":") \
                        and (u.first_on_line or is_p(at(toks, q - 1), "{") or is_p(at(toks, q - 1), ",")):
                    keys[u.value or ""] = u.line
            return keys, t.line
    return {}, m.line


def check_modules(f: BicepFile, files: dict[Path, BicepFile], report: Report) -> list[Path]:
    found: list[Path] = []
    for m in f.modules:
        target = (f.path.parent / m.path).resolve()
        if not target.is_file():
            report.error(f.path, m.line, f"module {m.name}: {m.path} does not exist")
            continue
        found.append(target)
        if target not in files:
            files[target] = parse(target, report)
        mod = files[target]
        keys, pline = module_params(f, m)
        for key, kline in keys.items():
            if key not in mod.params:
                report.error(f.path, kline, f"module {m.name}: {m.path} has no param '{key}'")
        for p in mod.params.values():
            if not p.has_default and p.name not in keys:
                report.error(f.path, pline, f"module {m.name}: required param '{p.name}' of {m.path} is not passed")
        toks = f.tokens
        for k, t in enumerate(toks):
            if is_i(t, m.name) and is_p(at(toks, k + 1), ".") and is_i(at(toks, k + 2), "outputs") \
                    and is_p(at(toks, k + 3), ".") and is_i(at(toks, k + 4)):
                out = toks[k + 4].value or ""
                if out not in mod.outputs:
                    report.error(f.path, t.line, f"module {m.name}: {m.path} has no output '{out}'")
    return found


def check_deploy_script(main: BicepFile, report: Report) -> None:
    script = HERE / "deploy.sh"
    if not script.is_file() or main.path.name != "main.bicep":
        return
    text = script.read_text(encoding="utf-8")
    names: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        for m in re.finditer(r'["\s(]([a-z][A-Za-z0-9]+)=(?:"|\$)', line):
            if "params" in line or "--parameters" in line or line.strip().startswith('"'):
                names.setdefault(m.group(1), lineno)
        for m in re.finditer(r'"([a-z][A-Za-z0-9]+)": \{ "value"', line):
            names.setdefault(m.group(1), lineno)
    for name, lineno in names.items():
        if name not in main.params:
            report.errors.append(f"infra/deploy.sh:{lineno}: error: passes '{name}', which main.bicep does not declare")


def main(argv: list[str]) -> int:
    report = Report()
    roots = [Path(a).resolve() for a in argv] or [HERE / "main.bicep"]
    files: dict[Path, BicepFile] = {}
    queue = list(roots)
    while queue:
        path = queue.pop(0)
        if path not in files:
            files[path] = parse(path, report)
        queue.extend(p for p in check_modules(files[path], files, report) if p not in queue)
    # Every .bicep under infra/ is checked, referenced or not.
    if not argv:
        for path in sorted(HERE.rglob("*.bicep")):
            if path.resolve() not in files:
                report.warn(path, 1, "not referenced from main.bicep")
                files[path.resolve()] = parse(path.resolve(), report)
    for f in files.values():
        check_references(f, report)
        check_duplicate_keys(f, report)
        if f.path.name == "main.bicep":
            check_deploy_script(f, report)
    for line in report.warnings + report.errors:
        print(line)
    print(f"check.py: {len(files)} file(s), {len(report.errors)} error(s), {len(report.warnings)} warning(s)")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
