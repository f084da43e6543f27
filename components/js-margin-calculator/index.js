// product_margin: unit cost, list price and margin of Zava products, now and
// at a hypothetical discount ("what is my margin on X if I discount it 15%?").
//
// Products and categories are shared reference data, so every caller sees
// the same rows; the answer still says whose scope it ran in.

import {
  tool,
  number,
  integer,
  string,
  oneOf,
  optional,
  nullable,
  array,
  boolean,
  reply,
} from './zava-tool.js';

// The WIT export `zava:mcp/tool@0.2.0` (listTools/callTool for every tool
// registered below).
export { toolExports as tool } from './zava-tool.js';

const money = (description) => number({ description });

const ROW = {
  product_id: integer(),
  sku: string(),
  product_name: string(),
  category: string(),
  unit_cost: money('What the store pays per unit'),
  list_price: money('Base (list) price per unit'),
  margin: money('list_price - unit_cost'),
  margin_percent: nullable(number({ description: 'margin / list_price * 100, 2 decimals' })),
  discounted_price: money('list_price less discount_percent, rounded to cents'),
  discounted_margin: money('discounted_price - unit_cost (negative: sold below cost)'),
  discounted_margin_percent: nullable(
    number({ description: 'discounted_margin / discounted_price * 100, 2 decimals' }),
  ),
};

// Orders the database applies (so that `limit` keeps the right rows): by
// name, or by margin % / margin at the discount, lowest (worst) first.
const SORTS = {
  name: 'product_name',
  margin_percent: '(sale_price - cost) / nullif(sale_price, 0) ASC NULLS FIRST, product_name',
  margin: 'sale_price - cost ASC, product_name',
};

// The database returns the catalogue figures and the discounted price
// (rounded to the cent in `numeric`, exactly); the margins are worked out
// here in integer cents, so they are exact too.
//
// The rows come back as ONE json value (an array of arrays) rather than a
// row-set: lifting thousands of separate SQL values through the generated
// component bindings costs ~10 µs each in the interpreter, JSON.parse of
// one string almost nothing. `total` counts every match ($4 is the limit).
const SQL = `
WITH matched AS (
  SELECT p.product_id, p.sku, p.product_name, c.category_name AS category,
         p.cost, p.base_price,
         round(p.base_price * (100 - $1::numeric) / 100, 2) AS sale_price
    FROM retail.products p
    JOIN retail.categories c ON c.category_id = p.category_id
   WHERE ($2::text IS NULL OR p.product_name ILIKE $2::text OR p.sku ILIKE $2::text)
     AND ($3::text IS NULL OR c.category_name ILIKE $3::text)
), ranked AS (
  SELECT *, row_number() OVER (ORDER BY %ORDER%) AS n FROM matched
)
SELECT coalesce(json_agg(json_build_array(product_id, sku, product_name, category,
                                          cost, base_price, sale_price) ORDER BY n)
                  FILTER (WHERE n <= $4), '[]'::json) AS rows,
       count(*) AS total
  FROM ranked`;

/** `%text%` for ILIKE, with the caller's own `%`, `_` and `\` taken literally. */
const contains = (text) => (text === undefined ? null : `%${text.replace(/[\\%_]/g, '\\$&')}%`);

/** A money amount (at most 2 decimals) in integer cents. */
const cents = (amount) => Math.round(amount * 100);

/** part / whole * 100, rounded to 2 decimals half away from zero (as
 * PostgreSQL's round(numeric, 2)), in integer arithmetic; null if whole is 0. */
function percent(partCents, wholeCents) {
  if (wholeCents === 0) return null;
  const num = Math.abs(partCents) * 10000;
  const hundredths = Math.floor((2 * num + wholeCents) / (2 * wholeCents));
  return (partCents < 0 ? -hundredths : hundredths) / 100;
}

function priced([product_id, sku, product_name, category, cost, base_price, sale_price]) {
  const costC = cents(cost);
  const listC = cents(base_price);
  const saleC = cents(sale_price);
  return {
    product_id,
    sku,
    product_name,
    category,
    unit_cost: costC / 100,
    list_price: listC / 100,
    margin: (listC - costC) / 100,
    margin_percent: percent(listC - costC, listC),
    discounted_price: saleC / 100,
    discounted_margin: (saleC - costC) / 100,
    discounted_margin_percent: percent(saleC - costC, saleC),
  };
}

const round2 = (x) => Math.round(x * 100) / 100;
const mean = (xs) => (xs.length ? round2(xs.reduce((a, b) => a + b, 0) / xs.length) : null);
const pct = (x) => `${x.toFixed(2)}%`;

tool(
  {
    name: 'product_margin',
    title: 'Product margin calculator',
    description:
      'Unit cost, list price, margin and margin % of Zava products, at the current list price and at ' +
      'a hypothetical discount (e.g. "what is my margin on cordless drills if I discount them 15%?"). ' +
      'Filter by product name or SKU and/or by category (case-insensitive, partial match); with no ' +
      'filter it covers all products. Returns one row per product and a summary: average margin now ' +
      'and after the discount, the lowest margin, and which products would sell below cost.',
    input: {
      product: optional(
        string({
          minLength: 1,
          maxLength: 100,
          description: 'Part of a product name or SKU, e.g. "drill" or "PT-"',
        }),
      ),
      category: optional(
        string({
          minLength: 1,
          maxLength: 100,
          description: 'Part of a category name, e.g. "Power Tools"',
        }),
      ),
      discount_percent: number({
        min: 0,
        max: 90,
        default: 0,
        description: 'Hypothetical discount off the list price, in percent (0-90)',
      }),
      sort: oneOf(Object.keys(SORTS), {
        default: 'name',
        description:
          'Row order: by name, or by margin % / margin at the discount, lowest (worst) first',
      }),
      limit: integer({ min: 1, max: 500, default: 50, description: 'Most products to return' }),
    },
    output: {
      scope: string({
        description: "The caller's data scope: head-office, store:<store_id> or unassigned",
      }),
      discount_percent: number(),
      filter: {
        product: nullable(string()),
        category: nullable(string()),
      },
      rows: array(ROW),
      row_count: integer(),
      total_matches: integer({ description: 'Products matching the filter (rows stop at `limit`)' }),
      truncated: boolean({ description: 'More products matched than `limit`' }),
      summary: {
        text: string(),
        avg_margin_percent: nullable(number({ description: 'Mean margin % at list price' })),
        avg_discounted_margin_percent: nullable(
          number({ description: 'Mean margin % at the discounted price' }),
        ),
        lowest: nullable({
          product_name: string(),
          discounted_margin_percent: nullable(number()),
        }),
        below_cost: array(string(), { description: 'Products the discount would sell below cost' }),
      },
    },
  },
  (args, ctx) => {
    const { product, category, discount_percent: discount, sort, limit } = args;
    const [{ rows: found, total }] = ctx.query(
      SQL.replace('%ORDER%', SORTS[sort]),
      [{ tag: 'numeric', val: String(discount) }, contains(product), contains(category), limit],
    );
    const rows = found.map(priced);
    const truncated = total > rows.length;

    const summary = summarize(rows, { product, category, discount, total });
    return reply({
      text: summary.text,
      structured: {
        scope: ctx.scope,
        discount_percent: discount,
        filter: { product: product ?? null, category: category ?? null },
        rows,
        row_count: rows.length,
        total_matches: total,
        truncated,
        summary,
      },
    });
  },
);

function summarize(rows, { product, category, discount, total }) {
  const what = [
    product !== undefined ? `matching "${product}"` : null,
    category !== undefined ? `in categories matching "${category}"` : null,
  ]
    .filter(Boolean)
    .join(' ');
  if (rows.length === 0) {
    return {
      text: `No products ${what || 'found'}.`,
      avg_margin_percent: null,
      avg_discounted_margin_percent: null,
      lowest: null,
      below_cost: [],
    };
  }
  const now = mean(rows.map((r) => r.margin_percent).filter((x) => x !== null));
  const after = mean(rows.map((r) => r.discounted_margin_percent).filter((x) => x !== null));
  const lowest = rows.reduce((a, b) =>
    (b.discounted_margin_percent ?? -Infinity) < (a.discounted_margin_percent ?? -Infinity) ? b : a,
  );
  const below = rows.filter((r) => r.discounted_margin < 0).map((r) => r.product_name);

  const counted =
    total > rows.length
      ? `The first ${rows.length} of ${total} products`
      : `${rows.length} product${rows.length === 1 ? '' : 's'}`;
  let text = `${counted}${what ? ` ${what}` : ''}: average margin ${pct(now)} at list price`;
  if (discount > 0) text += `, ${pct(after)} at ${discount}% off`;
  text += ` (lowest${discount > 0 ? ' after the discount' : ''}: ${lowest.product_name} at ${
    lowest.discounted_margin_percent === null ? 'n/a' : pct(lowest.discounted_margin_percent)
  }).`;
  if (below.length) {
    const names = below.slice(0, 5).join(', ') + (below.length > 5 ? `, and ${below.length - 5} more` : '');
    text += ` ${below.length} would sell below cost: ${names}.`;
  } else if (discount > 0) {
    text += ' None would sell below cost.';
  }
  return {
    text,
    avg_margin_percent: now,
    avg_discounted_margin_percent: after,
    lowest: { product_name: lowest.product_name, discounted_margin_percent: lowest.discounted_margin_percent },
    below_cost: below,
  };
}
