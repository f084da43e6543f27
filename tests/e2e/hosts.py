"""Running the real `mcp-host` binary for the end-to-end tests: start it on a
free loopback port with a log file, wait until it is ready, stop it.

Environment:
  MCP_HOST_BIN      the binary      (default <repo>/target/debug/mcp-host)
  MCP_FIXTURES_DIR  fixture .wasm   (default <repo>/target/wasm/fixtures)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest

REPO = Path(__file__).resolve().parents[2]
HOST_BIN = Path(os.environ.get("MCP_HOST_BIN", REPO / "target/debug/mcp-host"))
FIXTURES_DIR = Path(os.environ.get("MCP_FIXTURES_DIR", REPO / "target/wasm/fixtures"))

HEAD_OFFICE = "00000000-0000-0000-0000-000000000000"
SEATTLE = "f47ac10b-58cc-4372-a567-0e02b2c3d479"  # store_id 1
BELLEVUE = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"  # store_id 2 (see seed/generate.rs)
IDENTITY_HEADER = "x-rls-user-id"
STARTUP_TIMEOUT_S = 120.0  # includes initdb, migrations and the demo data

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LISTENING_ADDR = re.compile(r"addr\W+(127\.0\.0\.1:\d+)")


@dataclass
class Host:
    base: str  # http://127.0.0.1:PORT
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def mcp_url(self) -> str:
        return f"{self.base}/mcp"

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no log>"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def components_folder(root: Path, names: tuple[str, ...]) -> Path:
    """A components folder holding the named fixture components."""
    folder = root / "components"
    folder.mkdir(exist_ok=True)
    for name in names:
        source = FIXTURES_DIR / name
        if not source.is_file():
            pytest.fail(f"fixture component {source} not found (set MCP_FIXTURES_DIR)")
        shutil.copy(source, folder / name)
    return folder


def private_pg_data() -> Path:
    """A folder for an embedded cluster: it runs as an unprivileged user when
    we are root, so its parents must be world-searchable (pytest's are not)."""
    return Path(tempfile.mkdtemp(prefix="zava-e2e-pg-", dir="/tmp"))


def start(args: list[str], log: Path, port: int = 0) -> Host:
    """`mcp-host serve --identity dev-header <args>` on `port` (0: any)."""
    if not HOST_BIN.is_file():
        pytest.fail(f"mcp-host binary not found at {HOST_BIN} (set MCP_HOST_BIN)")
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                str(HOST_BIN),
                "serve",
                "--identity",
                "dev-header",
                "--listen",
                f"127.0.0.1:{port}",
                "--log-format",
                "json",
                *args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return _wait_until_ready(process, log)


@contextmanager
def running(args: list[str], log: Path, port: int = 0) -> Iterator[Host]:
    host = start(args, log, port)
    try:
        yield host
    finally:
        host.stop()


def _wait_until_ready(process: subprocess.Popen[bytes], log: Path) -> Host:
    """Reads the bound address from the log, then polls /readyz; bounded."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    base: str | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"mcp-host exited early with code {process.returncode}:\n"
                + Host("", log, process).log_tail()
            )
        if base is None:
            text = _ANSI.sub("", log.read_text(errors="replace"))
            for line in text.splitlines():
                if "mcp-host listening" in line and (m := _LISTENING_ADDR.search(line)):
                    base = f"http://{m.group(1)}"
                    break
        if base is not None:
            try:
                if httpx2.get(f"{base}/readyz", timeout=2).status_code == 200:
                    return Host(base, log, process)
            except httpx2.HTTPError:
                pass
        time.sleep(0.1)
    process.kill()
    pytest.fail(
        f"mcp-host not ready within {STARTUP_TIMEOUT_S:.0f}s:\n" + Host("", log, process).log_tail()
    )


def embedded_connection(pg_data: Path) -> list[str]:
    """`serve` flags that reach the embedded cluster another host started in
    `pg_data` (its socket and gate secret), as further replicas would."""
    secret = json.loads((pg_data / "secrets.json").read_text())["rls_secret"]
    return [
        "--query-database-url",
        f"host={pg_data / 'run'} port=5432 user=zava_query dbname=zava",
        "--rls-secret",
        secret,
    ]


def audit_lines(path: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []
