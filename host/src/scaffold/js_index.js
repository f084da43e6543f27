// {{tool}}: a JavaScript tool for the Zava MCP host.
//
// Build: bash components/{{dir}}/build.sh target/wasm/other-languages/{{file}}.wasm
// Drop in: copy the .wasm into the served folder (components-dist/).
// See components/README.md ("Write a tool in JavaScript").

import { tool, string, scope } from './zava-tool.js';

// The WIT export `zava:mcp/tool@0.2.0` (every tool registered below).
export { toolExports as tool } from './zava-tool.js';

tool(
  {
    name: '{{tool}}',
    description: 'Greets someone and says whose data the caller may see.',
    input: { name: string({ description: 'Who to greet', minLength: 1, maxLength: 100 }) },
    output: { greeting: string(), scope: string() },
  },
  ({ name }) => ({ greeting: `Hello, ${name}!`, scope: scope() }),
);
