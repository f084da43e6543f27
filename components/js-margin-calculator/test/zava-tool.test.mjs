// The helper and product_margin under Node with a fake host (see
// fake-host.mjs): schemas, argument checks, error mapping, rows, margins.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import { dbError } from './fake-host.mjs';
import { tool as toolExports } from '../index.js';
import { tool, number, string, array, optional, ToolFailed, InvalidArguments, query } from '../zava-tool.js';

const host = globalThis.zavaHost;
beforeEach(() => host.reset());

const call = (name, args) => toolExports.callTool(name, JSON.stringify(args));

// product_margin's query answer as the database import returns it: one row,
// the products as a json array of arrays, and the count of matches.
function products(...rows) {
  return {
    columns: [
      { name: 'rows', typeName: 'json' },
      { name: 'total', typeName: 'int8' },
    ],
    rows: [
      [
        { tag: 'json', val: JSON.stringify(rows).replace(/"(\d+\.\d\d)"/g, '$1') },
        { tag: 'int', val: BigInt(rows.length) },
      ],
    ],
    truncated: false,
  };
}

test('product_margin is listed with JSON Schemas built from the declaration', () => {
  const [def] = toolExports.listTools().filter((t) => t.name === 'product_margin');
  assert.ok(def.readOnly);
  const input = JSON.parse(def.inputSchema);
  assert.equal(input.type, 'object');
  assert.equal(input.additionalProperties, false);
  assert.deepEqual(input.properties.discount_percent, {
    description: 'Hypothetical discount off the list price, in percent (0-90)',
    type: 'number',
    minimum: 0,
    maximum: 90,
    default: 0,
  });
  assert.equal(input.required, undefined);
  const output = JSON.parse(def.outputSchema);
  assert.ok(output.required.includes('scope'));
  assert.deepEqual(output.properties.rows.items.properties.margin_percent.type, ['number', 'null']);
  assert.equal(output.additionalProperties, undefined);
});

test('bad arguments are invalid-arguments with a message naming the argument', async () => {
  for (const [args, message] of [
    [{ discount_percent: 95 }, '`discount_percent` must be a number from 0 to 90, got 95'],
    [{ discount_percent: '15' }, '`discount_percent` must be a number from 0 to 90, got a string ("15")'],
    [{ category: 7 }, '`category` must be a string, got a number (7)'],
    [{ limit: 0.5 }, '`limit` must be an integer from 1 to 500, got 0.5'],
    [{ sort: 'price' }, '`sort` must be one of "name", "margin_percent", "margin", got "price"'],
    [{ product: '' }, '`product` must not be empty'],
    [{ extra: 1 }, 'unknown argument `extra` (expected product, category, discount_percent, sort, limit)'],
  ]) {
    assert.deepEqual(await call('product_margin', args), {
      tag: 'err',
      val: { tag: 'invalid-arguments', val: message },
    });
  }
  assert.deepEqual(await toolExports.callTool('product_margin', '[1]'), {
    tag: 'err',
    val: { tag: 'invalid-arguments', val: 'the arguments must be a JSON object' },
  });
  assert.equal(host.queries.length, 0, 'the handler never ran');
  // null counts as absent for an optional or defaulted argument (models send it).
  host.answer = () => products();
  const result = await call('product_margin', { category: null, discount_percent: null });
  assert.equal(result.tag, 'ok');
  assert.deepEqual(host.queries[0].params[0], { tag: 'numeric', val: '0' });
});

test('margins are exact, the summary names what sells below cost, the scope is the caller', async () => {
  host.scope = { tag: 'store', val: 3 };
  host.answer = () =>
    products(
      [1, 'HT-1', 'Hammer', 'Hand Tools', '14.99', '24.99', '12.50'],
      [2, 'HT-2', 'Saw', 'Hand Tools', '10.00', '30.00', '15.00'],
    );
  const result = await call('product_margin', { category: 'hand', discount_percent: 50 });
  assert.equal(result.tag, 'ok');
  const out = JSON.parse(result.val.structured);
  assert.equal(out.scope, 'store:3');
  assert.deepEqual(out.rows[0], {
    product_id: 1,
    sku: 'HT-1',
    product_name: 'Hammer',
    category: 'Hand Tools',
    unit_cost: 14.99,
    list_price: 24.99,
    margin: 10,
    margin_percent: 40.02, // 10.00 / 24.99 = 40.016...%
    discounted_price: 12.5,
    discounted_margin: -2.49,
    discounted_margin_percent: -19.92,
  });
  assert.deepEqual(out.summary.below_cost, ['Hammer']);
  assert.equal(result.val.content[0].val, out.summary.text);
  assert.match(out.summary.text, /1 would sell below cost: Hammer/);
  // The filter went to the database as a literal, case-insensitive pattern.
  const [{ params }] = host.queries;
  assert.deepEqual(params, [
    { tag: 'numeric', val: '50' },
    { tag: 'null' },
    { tag: 'text', val: '%hand%' },
    { tag: 'int', val: 50n },
  ]);
});

test('a database error fails the call with its message', async () => {
  host.answer = () => {
    throw dbError('unavailable', 'no database is configured');
  };
  assert.deepEqual(await call('product_margin', {}), {
    tag: 'err',
    val: { tag: 'failed', val: 'The database is unavailable right now: no database is configured' },
  });
});

test('ToolFailed, InvalidArguments and other exceptions map to WIT tool errors', async () => {
  tool({ name: 't_failed', description: 'x', input: {} }, () => {
    throw new ToolFailed('nothing to do');
  });
  tool({ name: 't_invalid', description: 'x', input: { a: optional(number()) } }, () => {
    throw new InvalidArguments('a and b do not go together');
  });
  tool({ name: 't_bug', description: 'x', input: {} }, async () => null.boom);
  tool({ name: 't_output', description: 'x', input: {}, output: { n: number() } }, () => ({ n: 'one' }));
  tool({ name: 't_nested', description: 'x', input: {}, output: { items: array({ x: number() }) } }, () => ({
    items: [{ x: 1 }, { x: 'a' }],
  }));
  tool({ name: 't_text', description: 'x', input: { who: string({ default: 'you' }) } }, (a) => {
    console.log('greeting', a.who, { n: 1 });
    return `hello ${a.who}`;
  });
  const err = (tag, val) => ({ tag: 'err', val: { tag, val } });
  assert.deepEqual(await call('t_failed', {}), err('failed', 'nothing to do'));
  assert.deepEqual(await call('t_invalid', {}), err('invalid-arguments', 'a and b do not go together'));
  const bug = await call('t_bug', {});
  assert.equal(bug.val.tag, 'failed');
  assert.match(bug.val.val, /null/);
  assert.deepEqual(
    await call('t_output', {}),
    err('failed', 'tool `t_output` returned output that does not match its output schema: `n` must be a number, got a string ("one")'),
  );
  assert.deepEqual(
    await call('t_nested', {}),
    err('failed', 'tool `t_nested` returned output that does not match its output schema: `items[1].x` must be a number, got a string ("a")'),
  );
  assert.deepEqual(await call('t_text', {}), {
    tag: 'ok',
    val: { content: [{ tag: 'text', val: 'hello you' }], structured: undefined },
  });
  assert.deepEqual(host.logs, [['info', 'greeting you {"n":1}']]);
  assert.deepEqual(await call('nope', {}), err('failed', 'this component has no tool named `nope`'));
});

test('query returns rows as objects with columns and truncated', () => {
  host.answer = () => ({
    columns: [
      { name: 'n', typeName: 'int8' },
      { name: 'big', typeName: 'int8' },
      { name: 'x', typeName: 'numeric' },
      { name: 'j', typeName: 'jsonb' },
      { name: 'd', typeName: 'date' },
    ],
    rows: [
      [
        { tag: 'int', val: 7n },
        { tag: 'int', val: 9007199254740993n },
        { tag: 'numeric', val: '12.50' },
        { tag: 'json', val: '{"a":[1]}' },
        { tag: 'date', val: '2026-01-31' },
      ],
    ],
    truncated: true,
  });
  const rows = query('SELECT ...', [1, 1.5, 'a', null, true, new Date(0), 2n], { maxRows: 3 });
  assert.deepEqual(rows, [{ n: 7, big: '9007199254740993', x: 12.5, j: { a: [1] }, d: '2026-01-31' }]);
  assert.equal(rows.truncated, true);
  assert.equal(rows.columns.length, 5);
  assert.deepEqual(host.queries[0].params, [
    { tag: 'int', val: 1n },
    { tag: 'numeric', val: '1.5' },
    { tag: 'text', val: 'a' },
    { tag: 'null' },
    { tag: 'boolean', val: true },
    { tag: 'timestamp', val: '1970-01-01T00:00:00.000Z' },
    { tag: 'int', val: 2n },
  ]);
  assert.equal(query('SELECT ...', [], { numericAsString: true })[0].x, '12.50');
});

test('builders take JSON Schema bound names too, and refuse misspelt options', async () => {
  const { number: n, string: str } = await import('../zava-tool.js');
  assert.deepEqual(n({ minimum: 0, maximum: 90 }).json('input'), { type: 'number', minimum: 0, maximum: 90 });
  assert.throws(() => n({ minimun: 0 }), /number\(\): unknown option `minimun` \(expected one of description, title, default, min, max, minimum, maximum\)/);
  assert.throws(() => str({ max: 3 }), /string\(\): unknown option `max`/);
});
