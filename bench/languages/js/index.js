// store_sales_js: orders and revenue per store between two dates, as the
// caller may see them. The benchmark subject in JavaScript; its Rust and
// Python twins (bench/languages/) run the same SQL and answer the same.

import { tool, integer, string, array, reply, query, scope } from './zava-tool.js';

export { toolExports as tool } from './zava-tool.js';

const SQL =
  'SELECT s.store_id, s.store_name, count(DISTINCT o.order_id) AS orders, ' +
  'coalesce(sum(oi.total_amount), 0) AS revenue ' +
  'FROM retail.stores s ' +
  'JOIN retail.orders o ON o.store_id = s.store_id ' +
  'JOIN retail.order_items oi ON oi.order_id = o.order_id AND oi.store_id = o.store_id ' +
  'WHERE o.order_date >= $1::date AND o.order_date < $2::date + 1 ' +
  'GROUP BY s.store_id, s.store_name ' +
  'ORDER BY s.store_id';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

tool(
  {
    name: 'store_sales_js',
    description: 'Orders and revenue per store between two dates (benchmark subject, JavaScript).',
    input: {
      start: string({ description: 'First day, YYYY-MM-DD', pattern: DATE.source }),
      end: string({ description: 'Last day (included), YYYY-MM-DD', pattern: DATE.source }),
    },
    output: {
      scope: string({ description: 'Whose rows: head-office, store:<id> or unassigned' }),
      stores: array({
        store_id: integer(),
        store_name: string(),
        orders: integer(),
        revenue: string({ description: 'Exact decimal text' }),
      }),
      start: string(),
      end: string(),
    },
  },
  ({ start, end }) => {
    const stores = query(SQL, [start, end], { maxRows: 100, numericAsString: true }).map((r) => ({
      store_id: r.store_id,
      store_name: r.store_name,
      orders: r.orders,
      revenue: r.revenue,
    }));
    const s = scope();
    const lines = [`Sales from ${start} to ${end} (scope ${s}):`];
    for (const x of stores) lines.push(`- ${x.store_name}: ${x.orders} orders, revenue ${x.revenue}`);
    // The text says it all (as the Rust and Python twins answer): no JSON copy.
    return reply({ text: lines.join('\n'), structured: { scope: s, stores, start, end }, json: false });
  },
);
