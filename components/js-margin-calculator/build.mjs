// Builds this folder's index.js into a WebAssembly component with
// componentize-js (StarlingMonkey inside). Usage:
//   node build.mjs OUT.wasm [WIT_DIR]      (WIT_DIR defaults to ../../wit)
// build.sh calls it; it decides whether a build is needed at all.
//
// Needs COMPONENTIZE_JS_DIR: a folder whose node_modules holds
// @bytecodealliance/componentize-js (scripts/tools.sh installs one).

import { writeFile, rename, readFile } from 'node:fs/promises';
import { join, resolve, dirname } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? 'out.wasm');
const toolsDir = process.env.COMPONENTIZE_JS_DIR;
if (!toolsDir) {
  console.error('COMPONENTIZE_JS_DIR is not set (source target/tools/env, or run scripts/tools.sh)');
  process.exit(2);
}
const pkg = join(toolsDir, 'node_modules/@bytecodealliance/componentize-js');
const { componentize } = await import(pathToFileURL(join(pkg, 'src/componentize.js')).href);

// The engine features this component does without (componentize-js's
// `disableFeatures`). What is left imports only WASI the host links
// (wasi:io, wasi:clocks, wasi:random, wasi:cli/stderr):
// - http, fetch-event: outbound `fetch` and incoming requests would import
//   wasi:http, which the host withholds;
// - stdio: the engine's console opens stdout through the WASI preview1
//   adapter, which calls wasi:filesystem/preopens first: a withheld import,
//   so the first console.log would crash the call. zava-tool.js sends
//   console.* to the host's log (`caller.log`) instead.
// Kept: clocks (Date, setTimeout) and random (Math.random, crypto).
const DISABLED_FEATURES = ['http', 'fetch-event', 'stdio'];

const { component } = await componentize({
  sourcePath: join(here, 'index.js'),
  witPath: resolve(process.argv[3] ?? join(here, '../../wit')),
  worldName: 'tool-component',
  disableFeatures: DISABLED_FEATURES,
});
const tmp = `${out}.tmp-${process.pid}`;
await writeFile(tmp, component);
await rename(tmp, out);
const version = JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8')).version;
console.error(`componentize-js ${version}: ${out} (${component.length} bytes)`);
