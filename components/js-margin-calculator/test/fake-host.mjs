// Runs the tool's JavaScript under plain Node, without building a component:
// the `zava:mcp/*` imports resolve to fakes that the tests drive through
// `globalThis.zavaHost`. Usage (from the component's folder):
//   node --import ./test/fake-host.mjs --test test/
import { register } from 'node:module';

const modules = {
  'zava:mcp/database@0.2.0': `export const query = (...a) => globalThis.zavaHost.query(...a);`,
  'zava:mcp/caller@0.2.0': `export const current = () => globalThis.zavaHost.scope;
export const log = (level, message) => globalThis.zavaHost.logs.push([level, message]);`,
  'zava:mcp/client@0.2.0': `export const log = (level, logger, message) => globalThis.zavaHost.notices.push([level, logger, message]);
export const progress = () => {};`,
};

const hooks = `
const modules = ${JSON.stringify(modules)};
export async function resolve(specifier, context, next) {
  if (specifier in modules) return { url: 'zava-fake:' + specifier, shortCircuit: true };
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (url.startsWith('zava-fake:')) {
    return { format: 'module', source: modules[url.slice('zava-fake:'.length)], shortCircuit: true };
  }
  return next(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);

/** A database error as the componentize-js bindings throw it. */
export function dbError(tag, val) {
  const e = new Error(`${tag}`);
  Object.defineProperty(e, 'payload', { value: val === undefined ? { tag } : { tag, val } });
  return e;
}

globalThis.zavaHost = {
  scope: { tag: 'head-office' },
  logs: [],
  notices: [],
  queries: [],
  answer: () => ({ columns: [], rows: [], truncated: false }),
  query(sql, params, maxRows) {
    this.queries.push({ sql, params, maxRows });
    return this.answer(sql, params, maxRows);
  },
  reset() {
    this.scope = { tag: 'head-office' };
    this.logs = [];
    this.notices = [];
    this.queries = [];
    this.answer = () => ({ columns: [], rows: [], truncated: false });
  },
};
