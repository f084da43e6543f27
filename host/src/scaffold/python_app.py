"""{{tool}}: a Python tool for the Zava MCP host.

Build: bash components/{{dir}}/build.sh target/wasm/other-languages/{{file}}.wasm
Drop in: copy the .wasm into the served folder (components-dist/).
See components/README.md ("Write a tool in Python").
"""

from dataclasses import dataclass
from typing import Annotated

from zava_tool import Arg, Tool, log, scope, tool  # Tool: the WIT export

__all__ = ["Tool"]


@dataclass
class Greeting:
    greeting: str
    scope: str

    def __str__(self) -> str:
        return f"{self.greeting} You are calling as {self.scope}."


@tool(description="Greets someone and says whose data the caller may see.")
def {{tool}}(name: Annotated[str, Arg("Who to greet", min_length=1, max_length=100)]) -> Greeting:
    log(f"greeting {name}")
    return Greeting(greeting=f"Hello, {name}!", scope=str(scope()))
