// zava-tool.js — write MCP tools for the Zava host in JavaScript.
//
// Copy this file next to your tool's `index.js` (it has no dependencies
// besides the host's WIT imports) and write:
//
//   import { tool, number, string, optional, reply, ToolFailed } from './zava-tool.js';
//   export { toolExports as tool } from './zava-tool.js';   // the WIT `tool` export
//
//   tool({
//     name: 'my_tool',
//     description: 'What it does, for the model.',
//     input: {
//       discount_percent: number({ min: 0, max: 90, default: 0, description: '...' }),
//       category: optional(string({ description: '...' })),
//     },
//     output: { ... },                       // optional: builders or a JSON Schema
//   }, (args, ctx) => {                       // may be async
//     const rows = ctx.query('SELECT ... WHERE x = $1', [args.category]);
//     return { rows, scope: ctx.scope };      // structured output (with `output`)
//   });
//
// The schema is declared once: the builders produce the JSON Schema the host
// advertises AND check the arguments before the handler runs. Bad arguments
// become WIT `tool-error.invalid-arguments` (the assistant sees why and
// retries); a thrown `ToolFailed` (or a database error) becomes `failed`
// with its message; any other exception becomes `failed` with its message.
//
// How componentize-js maps the WIT (see its generated bindings):
//   - an exported interface is an object with camelCase functions
//     (`toolExports.listTools`, `toolExports.callTool`), sync or async;
//   - a `result<T, E>` export may return `{ tag: 'ok' | 'err', val }`
//     explicitly (done here, so nothing can escape as a trap);
//   - a `result` import returns `T` or throws an Error whose `payload` is `E`;
//   - variants are `{ tag: 'kebab-name', val }`, options are `undefined`/value,
//     records are objects with camelCase fields, s64 is a BigInt.

import { query as dbQuery } from 'zava:mcp/database@0.2.0';
import { current as currentScope, log as hostLog } from 'zava:mcp/caller@0.2.0';
import { log as clientLog, progress as clientProgress } from 'zava:mcp/client@0.2.0';

// ---------------------------------------------------------------- errors --

/** Throw from a handler: the call fails with this message (`tool-error.failed`). */
export class ToolFailed extends Error {
  constructor(message) {
    super(message);
    this.name = 'ToolFailed';
  }
}

/** Throw from a handler for arguments that are well-typed but do not make
 * sense together: `tool-error.invalid-arguments`. */
export class InvalidArguments extends Error {
  constructor(message) {
    super(message);
    this.name = 'InvalidArguments';
  }
}

/** A database error (a `ToolFailed`); `reason` is the WIT `db-error` case:
 * `rejected`, `timeout`, `failed` or `unavailable`. */
export class QueryFailed extends ToolFailed {
  constructor(reason, message) {
    super(message);
    this.name = 'QueryFailed';
    this.reason = reason;
  }
}

// ------------------------------------------------------- schema builders --
//
// A builder returns a Schema: `json(mode)` is its JSON Schema, `check(value,
// mode)` returns the (defaulted) value or throws SchemaError. `mode` is
// 'input' (the arguments: unknown object keys are refused, advertised as
// `additionalProperties: false`, defaults filled in) or 'output' (the
// structured result: extra keys allowed, values returned as they are).
// The checks build no strings unless something is wrong: in a fresh
// interpreter per call, that is most of their cost.

class SchemaError extends Error {
  /** `detail` follows the value's name ("must be ..."); `path` is filled in
   * from the inside out as the error passes through arrays and objects. */
  constructor(detail, { whole = false } = {}) {
    super(detail);
    this.detail = detail;
    this.whole = whole;
    this.path = [];
  }
  get text() {
    if (this.whole) return this.detail;
    let path = '';
    for (const step of this.path) path += typeof step === 'number' ? `[${step}]` : path ? `.${step}` : step;
    return `${path ? `\`${path}\`` : 'the arguments'} ${this.detail}`;
  }
}

const describe = (value) =>
  value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
const show = (value) => {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

class Schema {
  constructor(type, opts = {}) {
    this.type = type;
    this.opts = opts;
    this.optional = false;
    this.nullable = false;
  }

  /** Must be present (not optional and no default). */
  get required() {
    return !this.optional && this.opts.default === undefined;
  }

  json(mode) {
    const out = {};
    if (this.opts.title !== undefined) out.title = this.opts.title;
    if (this.opts.description !== undefined) out.description = this.opts.description;
    out.type = this.nullable ? [this.type, 'null'] : this.type;
    Object.assign(out, this.keywords(mode));
    if (this.opts.default !== undefined) out.default = this.opts.default;
    return out;
  }

  keywords() {
    return {};
  }

  check(value, mode) {
    if (value === undefined || value === null) {
      if (value === null && this.nullable) return null;
      if (this.opts.default !== undefined) return copyJson(this.opts.default);
      if (this.optional) return undefined;
      throw new SchemaError(value === null ? `must be ${this.noun()}, not null` : `is required (${this.noun()})`);
    }
    return this.checkValue(value, mode);
  }

  noun() {
    return `a ${this.type}`;
  }
}

const copyJson = (value) => (typeof value === 'object' && value !== null ? JSON.parse(JSON.stringify(value)) : value);

class NumberSchema extends Schema {
  keywords() {
    const k = {};
    if (this.opts.min !== undefined) k.minimum = this.opts.min;
    if (this.opts.max !== undefined) k.maximum = this.opts.max;
    return k;
  }
  noun() {
    const { min, max } = this.opts;
    const what = this.type === 'integer' ? 'an integer' : 'a number';
    if (min !== undefined && max !== undefined) return `${what} from ${min} to ${max}`;
    if (min !== undefined) return `${what} of at least ${min}`;
    if (max !== undefined) return `${what} of at most ${max}`;
    return what;
  }
  checkValue(value) {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new SchemaError(`must be ${this.noun()}, got ${describe(value)} (${show(value)})`);
    }
    const { min, max } = this.opts;
    if (
      (this.type === 'integer' && !Number.isInteger(value)) ||
      (min !== undefined && value < min) ||
      (max !== undefined && value > max)
    ) {
      throw new SchemaError(`must be ${this.noun()}, got ${value}`);
    }
    return value;
  }
}

class StringSchema extends Schema {
  constructor(opts) {
    super('string', opts);
    this.regex = opts.pattern !== undefined ? new RegExp(opts.pattern, 'u') : null;
    this.counts = opts.minLength !== undefined || opts.maxLength !== undefined;
  }
  keywords() {
    const k = {};
    if (this.opts.enum !== undefined) k.enum = [...this.opts.enum];
    if (this.opts.minLength !== undefined) k.minLength = this.opts.minLength;
    if (this.opts.maxLength !== undefined) k.maxLength = this.opts.maxLength;
    if (this.opts.pattern !== undefined) k.pattern = this.opts.pattern;
    if (this.opts.format !== undefined) k.format = this.opts.format;
    return k;
  }
  noun() {
    if (this.opts.enum) return `one of ${this.opts.enum.map((e) => JSON.stringify(e)).join(', ')}`;
    return 'a string';
  }
  checkValue(value) {
    if (typeof value !== 'string') {
      throw new SchemaError(`must be ${this.noun()}, got ${describe(value)} (${show(value)})`);
    }
    const { enum: choices, minLength, maxLength } = this.opts;
    if (choices && !choices.includes(value)) {
      throw new SchemaError(`must be ${this.noun()}, got ${show(value)}`);
    }
    if (this.counts) {
      // JSON Schema counts code points, not UTF-16 units.
      const length = [...value].length;
      if (minLength !== undefined && length < minLength) {
        throw new SchemaError(minLength === 1 ? 'must not be empty' : `must have at least ${minLength} characters`);
      }
      if (maxLength !== undefined && length > maxLength) {
        throw new SchemaError(`must have at most ${maxLength} characters (got ${length})`);
      }
    }
    if (this.regex && !this.regex.test(value)) {
      throw new SchemaError(`must match /${this.opts.pattern}/, got ${show(value)}`);
    }
    return value;
  }
}

class BooleanSchema extends Schema {
  checkValue(value) {
    if (typeof value !== 'boolean') {
      throw new SchemaError(`must be true or false, got ${describe(value)} (${show(value)})`);
    }
    return value;
  }
  noun() {
    return 'true or false';
  }
}

class ArraySchema extends Schema {
  constructor(items, opts) {
    super('array', opts);
    this.items = toSchema(items);
  }
  keywords(mode) {
    const k = { items: this.items.json(mode) };
    if (this.opts.minItems !== undefined) k.minItems = this.opts.minItems;
    if (this.opts.maxItems !== undefined) k.maxItems = this.opts.maxItems;
    return k;
  }
  noun() {
    return 'an array';
  }
  checkValue(value, mode) {
    if (!Array.isArray(value)) throw new SchemaError(`must be an array, got ${describe(value)}`);
    const { minItems, maxItems } = this.opts;
    if (minItems !== undefined && value.length < minItems) {
      throw new SchemaError(`must have at least ${minItems} items`);
    }
    if (maxItems !== undefined && value.length > maxItems) {
      throw new SchemaError(`must have at most ${maxItems} items (got ${value.length})`);
    }
    const items = this.items;
    const out = mode === 'input' ? new Array(value.length) : value;
    for (let i = 0; i < value.length; i++) {
      try {
        const checked = items.check(value[i], mode);
        if (mode === 'input') out[i] = checked;
      } catch (e) {
        if (e instanceof SchemaError) e.path.unshift(i);
        throw e;
      }
    }
    return out;
  }
}

class ObjectSchema extends Schema {
  constructor(properties, opts) {
    super('object', opts);
    this.properties = Object.fromEntries(
      Object.entries(properties).map(([key, schema]) => [key, toSchema(schema)]),
    );
    this.keys = Object.keys(this.properties);
  }
  keywords(mode) {
    const properties = {};
    const required = [];
    for (const key of this.keys) {
      properties[key] = this.properties[key].json(mode);
      if (this.properties[key].required) required.push(key);
    }
    const k = { properties };
    if (required.length) k.required = required;
    if (mode === 'input') k.additionalProperties = false;
    return k;
  }
  noun() {
    return 'an object';
  }
  checkValue(value, mode) {
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new SchemaError(`must be a JSON object, got ${describe(value)}`);
    }
    const keys = this.keys;
    const input = mode === 'input';
    if (input) {
      for (const key in value) {
        if (!hasOwn(this.properties, key)) {
          const error = new SchemaError(
            `unknown argument \`${key}\`${keys.length ? ` (expected ${keys.join(', ')})` : ' (this tool takes none)'}`,
            { whole: true },
          );
          throw error;
        }
      }
    }
    const out = input ? {} : value;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      try {
        const checked = this.properties[key].check(value[key], mode);
        if (input && checked !== undefined) out[key] = checked;
      } catch (e) {
        if (e instanceof SchemaError) e.path.unshift(key);
        throw e;
      }
    }
    return out;
  }
}

/** Any JSON Schema written by hand: advertised as is, not checked. */
class RawSchema extends Schema {
  constructor(json) {
    super(json.type, {});
    this.raw = json;
  }
  json() {
    return this.raw;
  }
  check(value) {
    return value;
  }
}

const hasOwn = (object, key) => Object.prototype.hasOwnProperty.call(object, key);

function toSchema(value) {
  if (value instanceof Schema) return value;
  // A hand-written JSON Schema ({ type: 'object', ... }).
  if (value && typeof value === 'object' && typeof value.type === 'string') return new RawSchema(value);
  // A plain object of builders: an object schema.
  if (value && typeof value === 'object') return new ObjectSchema(value, {});
  throw new TypeError(`not a schema: ${show(value)}`);
}

// Options each builder takes. A misspelt option is an error when the module
// loads (the build fails and says which), never a silently missing bound.
// JSON Schema's own names are accepted too (minimum/maximum).
const COMMON = ['description', 'title', 'default'];
const OPTIONS = {
  number: [...COMMON, 'min', 'max', 'minimum', 'maximum'],
  string: [...COMMON, 'minLength', 'maxLength', 'pattern', 'enum', 'format'],
  boolean: COMMON,
  array: [...COMMON, 'minItems', 'maxItems'],
  object: COMMON,
};

function options(kind, opts) {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${kind}(): options must be an object`);
  for (const key of Object.keys(opts)) {
    if (!OPTIONS[kind === 'integer' || kind === 'number' ? 'number' : kind].includes(key)) {
      throw new TypeError(`${kind}(): unknown option \`${key}\` (expected one of ${OPTIONS[kind === 'integer' ? 'number' : kind].join(', ')})`);
    }
  }
  if (opts.minimum !== undefined || opts.maximum !== undefined) {
    opts = { ...opts, min: opts.min ?? opts.minimum, max: opts.max ?? opts.maximum };
    delete opts.minimum;
    delete opts.maximum;
  }
  return opts;
}

/** A number; opts: min (minimum), max (maximum), default, description, title. */
export const number = (opts = {}) => new NumberSchema('number', options('number', opts));
/** An integer; opts as `number`. */
export const integer = (opts = {}) => new NumberSchema('integer', options('integer', opts));
/** A string; opts: minLength, maxLength, pattern, enum, format, default, description, title. */
export const string = (opts = {}) => new StringSchema(options('string', opts));
/** One of the given strings; opts as `string`. */
export const oneOf = (choices, opts = {}) => new StringSchema({ ...options('string', opts), enum: [...choices] });
/** true/false; opts: default, description, title. */
export const boolean = (opts = {}) => new BooleanSchema('boolean', options('boolean', opts));
/** A list of `items` (a builder or an object of builders); opts: minItems, maxItems, description. */
export const array = (items, opts = {}) => new ArraySchema(items, options('array', opts));
/** An object with the given properties (builders); opts: description, title. */
export const object = (properties, opts = {}) => new ObjectSchema(properties, options('object', opts));

/** May be absent (an argument the caller may leave out, an output field
 * that may be missing). */
export const optional = (schema) => withFlag(schema, 'optional');

/** May be null (for output fields: `"type": [type, "null"]`). */
export const nullable = (schema) => withFlag(schema, 'nullable');

/** A copy of `schema` (a builder, or a plain object of builders) with `flag` set. */
function withFlag(schema, flag) {
  const base = toSchema(schema);
  const copy = Object.assign(Object.create(Object.getPrototypeOf(base)), base);
  copy[flag] = true;
  return copy;
}

// --------------------------------------------------------------- results --

/** MCP content blocks (WIT `content`). */
export const content = {
  text: (text) => ({ tag: 'text', val: String(text) }),
  image: (data, mimeType) => ({ tag: 'image', val: { data: bytes(data), mimeType } }),
  audio: (data, mimeType) => ({ tag: 'audio', val: { data: bytes(data), mimeType } }),
  link: ({ uri, name, title, description, mimeType }) => ({
    tag: 'resource-link',
    val: { uri, name, title, description, mimeType },
  }),
  resource: ({ uri, mimeType, text, blob, meta }) => ({
    tag: 'resource',
    val: {
      uri,
      mimeType,
      body: blob !== undefined ? { tag: 'blob', val: bytes(blob) } : { tag: 'text', val: String(text) },
      meta: meta === undefined ? undefined : JSON.stringify(meta),
    },
  }),
};

function bytes(data) {
  return data instanceof Uint8Array ? data : new Uint8Array(data);
}

class Reply {
  constructor(fields) {
    Object.assign(this, fields);
  }
}

/**
 * A result with more than structured data: `text` (a line for the model,
 * shown first), `structured` (the object matching the output schema; also
 * sent as JSON text unless `json: false`), `content` (more content blocks).
 */
export const reply = ({ text, structured, content: blocks = [], json = true } = {}) =>
  new Reply({ text, structured, blocks, json });

function toOutput(def, result) {
  let r;
  if (result instanceof Reply) r = result;
  else if (typeof result === 'string') r = new Reply({ text: result, blocks: [], json: true });
  else if (def.output) r = new Reply({ structured: result, blocks: [], json: true });
  else r = new Reply({ text: JSON.stringify(result ?? null), blocks: [], json: true });

  let structured;
  if (def.output) {
    if (r.structured === undefined || r.structured === null || typeof r.structured !== 'object') {
      throw new ToolFailed(
        `tool \`${def.name}\` declares an output schema but its handler returned no structured object`,
      );
    }
    let value;
    try {
      value = def.output.check(r.structured, 'output');
    } catch (e) {
      if (e instanceof SchemaError) {
        throw new ToolFailed(`tool \`${def.name}\` returned output that does not match its output schema: ${e.text}`);
      }
      throw e;
    }
    structured = toJson(value);
  } else if (r.structured !== undefined) {
    structured = toJson(r.structured);
  }
  const blocks = [];
  if (r.text !== undefined) blocks.push(content.text(r.text));
  if (structured !== undefined && r.json) blocks.push(content.text(structured));
  blocks.push(...r.blocks);
  if (blocks.length === 0) blocks.push(content.text(''));
  return { content: blocks, structured };
}

/** JSON text; a BigInt becomes a number when exact, else a string (the
 * replacer is only paid for when there is one). */
function toJson(value) {
  try {
    return JSON.stringify(value);
  } catch (e) {
    if (e instanceof TypeError) return JSON.stringify(value, jsonSafe);
    throw e;
  }
}

/** JSON.stringify replacer: BigInt as a number when exact, else a string. */
function jsonSafe(_key, value) {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  return value;
}

// -------------------------------------------------------------- database --

/** Typed SQL parameters, for when a plain JS value is not enough. */
export const sql = {
  null: () => ({ tag: 'null' }),
  boolean: (b) => ({ tag: 'boolean', val: Boolean(b) }),
  int: (n) => ({ tag: 'int', val: BigInt(n) }),
  float: (n) => ({ tag: 'float', val: Number(n) }),
  numeric: (text) => ({ tag: 'numeric', val: String(text) }),
  text: (s) => ({ tag: 'text', val: String(s) }),
  date: (s) => ({ tag: 'date', val: String(s) }),
  timestamp: (s) => ({ tag: 'timestamp', val: s instanceof Date ? s.toISOString() : String(s) }),
  uuid: (s) => ({ tag: 'uuid', val: String(s) }),
  json: (v) => ({ tag: 'json', val: JSON.stringify(v) }),
  vector: (v) => ({ tag: 'vector', val: Array.from(v, Number) }),
};

const SQL_TAGS = new Set([
  'null', 'boolean', 'int', 'float', 'numeric', 'text', 'date', 'timestamp', 'uuid', 'json', 'vector',
]);

function toSqlValue(value, i) {
  if (value === null || value === undefined) return { tag: 'null' };
  switch (typeof value) {
    case 'boolean':
      return { tag: 'boolean', val: value };
    case 'bigint':
      return { tag: 'int', val: value };
    case 'number':
      if (!Number.isFinite(value)) throw new ToolFailed(`query parameter $${i + 1} is not a finite number`);
      // Integers travel as int, others as exact decimal text (PostgreSQL
      // infers the parameter's type from the statement).
      return Number.isSafeInteger(value) ? { tag: 'int', val: BigInt(value) } : { tag: 'numeric', val: String(value) };
    case 'string':
      return { tag: 'text', val: value };
    case 'object':
      if (value instanceof Date) return { tag: 'timestamp', val: value.toISOString() };
      if (typeof value.tag === 'string' && SQL_TAGS.has(value.tag)) return value;
      return { tag: 'json', val: toJson(value) };
    default:
      throw new ToolFailed(`query parameter $${i + 1} has an unsupported type (${typeof value})`);
  }
}

function fromSqlValue(v, numericAsString) {
  switch (v.tag) {
    case 'null':
      return null;
    case 'int':
      return v.val >= BigInt(Number.MIN_SAFE_INTEGER) && v.val <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(v.val)
        : v.val.toString();
    case 'numeric':
      return numericAsString ? v.val : Number(v.val);
    case 'json':
      return JSON.parse(v.val);
    case 'vector':
      return Array.from(v.val);
    default:
      // boolean, float, text, date, timestamp, uuid
      return v.val;
  }
}

const DB_MESSAGES = {
  rejected: (m) => `The query was rejected: ${m}`,
  timeout: () => 'The query ran longer than the server allows and was cancelled.',
  failed: (m) => `PostgreSQL reported an error: ${m}`,
  unavailable: (m) => `The database is unavailable right now: ${m}`,
};

/**
 * Runs ONE read-only SELECT as the caller (Row Level Security applies) and
 * returns its rows as objects keyed by column name. `int` columns become
 * numbers (strings beyond 2^53), `numeric` numbers (or their exact text
 * with `{ numericAsString: true }`), `json` parsed values, dates and
 * timestamps ISO text. The array also has `columns` ([{name, typeName}])
 * and `truncated` (more rows existed than `maxRows`, default 500).
 * A database error throws `QueryFailed` (the call fails with its message).
 *
 * Cost: every SQL value is lifted into JavaScript by interpreted binding
 * code (a few µs each); for hundreds of rows, select them as ONE json value
 * (`SELECT json_agg(...) FROM (...)`: one string, parsed natively).
 */
export function query(text, params = [], { maxRows = 500, numericAsString = false } = {}) {
  let set;
  try {
    set = dbQuery(text, params.map(toSqlValue), maxRows);
  } catch (e) {
    const payload = e && e.payload;
    if (payload && typeof payload.tag === 'string' && DB_MESSAGES[payload.tag]) {
      throw new QueryFailed(payload.tag, DB_MESSAGES[payload.tag](payload.val));
    }
    throw e;
  }
  const names = set.columns.map((c) => c.name);
  const rows = set.rows.map((values) => {
    const row = {};
    for (let i = 0; i < names.length; i++) row[names[i]] = fromSqlValue(values[i], numericAsString);
    return row;
  });
  Object.defineProperty(rows, 'columns', { value: set.columns });
  Object.defineProperty(rows, 'truncated', { value: set.truncated });
  return rows;
}

// ---------------------------------------------------------------- caller --

/** The caller's data scope: `head-office`, `store:<id>` or `unassigned`. */
export function scope() {
  const s = currentScope();
  return s.tag === 'store' ? `store:${s.val}` : s.tag;
}

const LOG_LEVELS = new Set(['debug', 'info', 'warn', 'error']);
const CLIENT_LEVELS = new Set(['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency']);

/** One line in the host's log (tagged with the tool name). */
export function log(level, message) {
  hostLog(LOG_LEVELS.has(level) ? level : 'info', String(message));
}

// console.* goes to the host's log (one line per call of console.log,
// tagged with the tool), while an export runs. The component is built
// without the engine's stdio (see build.mjs); outside an export (when the
// build pre-runs the module) console output is dropped.
let serving = false;

function format(part) {
  if (typeof part === 'string') return part;
  if (part instanceof Error) return part.stack ? `${part}\n${part.stack}` : String(part);
  try {
    const text = toJson(part);
    return text === undefined ? String(part) : text;
  } catch {
    return String(part);
  }
}

for (const [method, level] of [
  ['debug', 'debug'],
  ['log', 'info'],
  ['info', 'info'],
  ['warn', 'warn'],
  ['error', 'error'],
]) {
  try {
    globalThis.console[method] = (...parts) => {
      if (serving) log(level, parts.map(format).join(' '));
    };
  } catch {
    // A read-only console: keep the engine's.
  }
}

class Context {
  constructor(name) {
    this.name = name;
    this._scope = undefined;
  }
  /** `head-office`, `store:<id>` or `unassigned` (asked of the host once). */
  get scope() {
    if (this._scope === undefined) this._scope = scope();
    return this._scope;
  }
  /** The caller's store id, or null for head office and unassigned callers. */
  get storeId() {
    const s = this.scope;
    return s.startsWith('store:') ? Number(s.slice(6)) : null;
  }
  query(text, params, opts) {
    return query(text, params, opts);
  }
  log(level, message) {
    log(level, message);
  }
  /** A log notification to the calling client (if it asked for this level). */
  notify(message, level = 'info') {
    clientLog(CLIENT_LEVELS.has(level) ? level : 'info', this.name, String(message));
  }
  /** A progress notification (if the client sent a progress token). */
  progress(progress, total, message) {
    clientProgress(progress, total, message);
  }
}

// -------------------------------------------------------------- registry --

const tools = new Map();

/**
 * Registers a tool. `def`: name, description, title?, input (an object of
 * builders, or `object(...)`), output? (builders or a JSON Schema),
 * readOnly (default true), app?. `handler(args, ctx)` may be async; it
 * returns the structured object (with `output`), a string, or `reply(...)`.
 */
export function tool(def, handler) {
  if (typeof handler !== 'function') throw new TypeError(`tool ${def.name}: a handler function is required`);
  if (tools.has(def.name)) throw new TypeError(`tool ${def.name} is registered twice`);
  const input = def.input instanceof ObjectSchema ? def.input : new ObjectSchema(def.input || {}, {});
  const output = def.output === undefined ? undefined : toSchema(def.output);
  if (output && output.type !== 'object') throw new TypeError(`tool ${def.name}: output must be an object schema`);
  const entry = {
    name: def.name,
    input,
    output,
    handler,
    wit: {
      name: def.name,
      title: def.title,
      description: def.description,
      inputSchema: JSON.stringify(input.json('input')),
      outputSchema: output ? JSON.stringify(output.json('output')) : undefined,
      readOnly: def.readOnly ?? true,
      app: def.app,
    },
  };
  tools.set(def.name, entry);
  return entry;
}

const err = (tag, message) => ({ tag: 'err', val: { tag, val: String(message) } });

async function callTool(name, argumentsJson) {
  const entry = tools.get(name);
  if (!entry) return err('failed', `this component has no tool named \`${name}\``);
  let args;
  try {
    args = argumentsJson.trim() === '' ? {} : JSON.parse(argumentsJson);
  } catch (e) {
    return err('invalid-arguments', `the arguments are not valid JSON: ${e.message}`);
  }
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    return err('invalid-arguments', 'the arguments must be a JSON object');
  }
  try {
    args = entry.input.check(args, 'input');
  } catch (e) {
    if (e instanceof SchemaError) return err('invalid-arguments', e.text);
    return err('failed', messageOf(e));
  }
  try {
    const result = await entry.handler(args, new Context(name));
    return { tag: 'ok', val: toOutput(entry, result) };
  } catch (e) {
    if (e instanceof InvalidArguments) return err('invalid-arguments', e.message);
    return err('failed', messageOf(e));
  }
}

function messageOf(e) {
  if (e instanceof ToolFailed) return e.message;
  if (e instanceof Error) return e.message || e.name;
  if (e && e.payload !== undefined) return toJson(e.payload);
  return String(e);
}

/** The WIT `tool` export for every registered tool: re-export it from your
 * entry module as `tool` (`export { toolExports as tool } from './zava-tool.js'`). */
export const toolExports = {
  listTools() {
    return [...tools.values()].map((t) => t.wit);
  },
  async callTool(name, argumentsJson) {
    serving = true;
    try {
      return await callTool(name, argumentsJson);
    } catch (e) {
      // Nothing above should throw; if it does, fail the call, do not trap.
      return err('failed', messageOf(e));
    } finally {
      serving = false;
    }
  },
};
