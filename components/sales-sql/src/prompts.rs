//! Prompts: the classic sample's questions as ready-made requests the user
//! picks (VS Code shows them as slash commands). Each one becomes a user
//! message that tells the assistant precisely what to do — which tables and
//! columns, the exact date condition, one read-only SELECT through
//! `execute_sales_query`, a result shaped for a chart — followed by the
//! schemas of those tables as embedded resources (the same caller-scoped
//! documents `zava://schema/{table}` returns), so the assistant need not
//! call `get_multiple_table_schemas` first.
//!
//! Arguments are checked here, not left to the assistant: a store or a
//! category must exist *and be visible to the caller*, numbers must be in
//! range, a period must parse. The values that end up in the suggested SQL
//! are ids from the database and numbers we parsed, never the user's text.

use crate::choices::{self, Store};
use crate::period::{self, Period};
use crate::query_tool;
use crate::resources;
use crate::rows;
use crate::schema;
use zava_tool::caller::{self, Scope};
use zava_tool::prompts::{PromptArgument, PromptDef, PromptMessage, PromptResult, Role};
use zava_tool::types::{Content, RequestError};

/// What a prompt argument holds; decides how it is checked and completed.
#[derive(Clone, Copy)]
enum Kind {
    Period,
    Store,
    Category,
    /// A whole number in `min..=max`.
    Count {
        min: u32,
        max: u32,
        suggestions: &'static [&'static str],
    },
}

struct Arg {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    required: bool,
    kind: Kind,
}

struct Spec {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    arguments: &'static [Arg],
}

const LIMIT: Kind = Kind::Count {
    min: 1,
    max: 100,
    suggestions: &["5", "10", "20", "50"],
};
const MONTHS: Kind = Kind::Count {
    min: 1,
    max: 120,
    suggestions: &["6", "12", "24", "36"],
};
const THRESHOLD: Kind = Kind::Count {
    min: 0,
    max: 100_000,
    suggestions: &["0", "5", "10", "20"],
};
const DEFAULT_LIMIT: u32 = 10;
const DEFAULT_MONTHS: u32 = 12;
const DEFAULT_THRESHOLD: u32 = 10;
const DEFAULT_COMPARISON_PERIOD: &str = "last 12 months";

const STORE_ARG: Arg = Arg {
    name: "store",
    title: "Store",
    description: "Only this store, e.g. Zava Retail Seattle (or just Seattle). Leave empty for \
        every store you can see; a store manager sees only their own store.",
    required: false,
    kind: Kind::Store,
};

const PROMPTS: &[Spec] = &[
    Spec {
        name: "top_products_by_revenue",
        title: "Top products by revenue",
        description: "Rank the products that brought in the most revenue in a period \
            (e.g. last 30 days, 2025-Q3), in the stores you can see.",
        arguments: &[
            Arg {
                name: "period",
                title: "Period",
                description: "The period, e.g. last 30 days, last quarter, 2025-Q3, July 2025, \
                    2025, year to date, 2025-07-01..2025-09-30",
                required: true,
                kind: Kind::Period,
            },
            Arg {
                name: "limit",
                title: "How many",
                description: "How many products to show (1-100, default 10)",
                required: false,
                kind: LIMIT,
            },
        ],
    },
    Spec {
        name: "best_selling_categories",
        title: "Best-selling categories this month",
        description: "Which product categories sell best this month so far, by revenue and \
            units, in the stores you can see (or one of them).",
        arguments: &[STORE_ARG],
    },
    Spec {
        name: "monthly_revenue_trend",
        title: "Monthly revenue trend",
        description: "Revenue and orders month by month over the last months, for every \
            store you can see or one of them: a line chart.",
        arguments: &[
            STORE_ARG,
            Arg {
                name: "months",
                title: "Months",
                description: "How many calendar months, this one included (1-120, default 12)",
                required: false,
                kind: MONTHS,
            },
        ],
    },
    Spec {
        name: "store_comparison",
        title: "Compare the stores",
        description: "Revenue, orders, average order value and gross profit per store over a \
            period. Head office sees every store; a store manager sees only their own store, \
            and the prompt says so.",
        arguments: &[Arg {
            name: "period",
            title: "Period",
            description: "The period, e.g. last 12 months (the default), this year, 2025-Q3",
            required: false,
            kind: Kind::Period,
        }],
    },
    Spec {
        name: "low_stock",
        title: "Low stock",
        description: "Products whose stock level is at or below a threshold, optionally in one \
            category and one store, lowest first.",
        arguments: &[
            Arg {
                name: "category",
                title: "Category",
                description: "Only this product category, e.g. Power Tools",
                required: false,
                kind: Kind::Category,
            },
            STORE_ARG,
            Arg {
                name: "threshold",
                title: "Threshold",
                description: "Show stock levels at or below this (0 = out of stock; default 10)",
                required: false,
                kind: THRESHOLD,
            },
        ],
    },
];

pub fn list() -> Vec<PromptDef> {
    PROMPTS
        .iter()
        .map(|p| PromptDef {
            name: p.name.into(),
            title: Some(p.title.into()),
            description: p.description.into(),
            arguments: p
                .arguments
                .iter()
                .map(|a| PromptArgument {
                    name: a.name.into(),
                    title: Some(a.title.into()),
                    description: Some(a.description.into()),
                    required: a.required,
                })
                .collect(),
        })
        .collect()
}

fn spec(name: &str) -> Result<&'static Spec, RequestError> {
    PROMPTS.iter().find(|p| p.name == name).ok_or_else(|| {
        RequestError::NotFound(format!(
            "no prompt `{name}`; the prompts are {}",
            PROMPTS
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

fn invalid(message: impl Into<String>) -> RequestError {
    RequestError::InvalidArguments(message.into())
}

/// The arguments of one `get-prompt`, checked against the prompt's spec.
struct Args<'a> {
    spec: &'static Spec,
    given: Vec<(&'static str, &'a str)>,
}

impl<'a> Args<'a> {
    fn check(spec: &'static Spec, given: &'a [(String, String)]) -> Result<Self, RequestError> {
        let mut checked: Vec<(&'static str, &'a str)> = Vec::new();
        for (name, value) in given {
            let Some(arg) = spec.arguments.iter().find(|a| a.name == name) else {
                return Err(invalid(format!(
                    "prompt `{}` has no argument `{name}`; {}",
                    spec.name,
                    expected(spec)
                )));
            };
            if checked.iter().any(|(n, _)| *n == arg.name) {
                return Err(invalid(format!("argument `{name}` is given twice")));
            }
            // Clients send an empty string for an optional argument the
            // user left blank: that means "not given".
            if !value.trim().is_empty() {
                checked.push((arg.name, value.trim()));
            }
        }
        for arg in spec.arguments.iter().filter(|a| a.required) {
            if !checked.iter().any(|(n, _)| *n == arg.name) {
                return Err(invalid(format!(
                    "prompt `{}` needs `{}`: {}",
                    spec.name, arg.name, arg.description
                )));
            }
        }
        Ok(Args {
            spec,
            given: checked,
        })
    }

    fn raw(&self, name: &str) -> Option<&'a str> {
        debug_assert!(self.spec.arguments.iter().any(|a| a.name == name));
        self.given.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    fn period(&self, name: &str) -> Result<Option<Period>, RequestError> {
        self.raw(name)
            .map(period::parse)
            .transpose()
            .map_err(invalid)
    }

    fn count(&self, name: &str) -> Result<Option<u32>, RequestError> {
        let Some(raw) = self.raw(name) else {
            return Ok(None);
        };
        let Some(Arg {
            kind: Kind::Count { min, max, .. },
            ..
        }) = self.spec.arguments.iter().find(|a| a.name == name)
        else {
            unreachable!("count() is asked only for Count arguments");
        };
        match raw.parse::<u32>() {
            Ok(n) if (*min..=*max).contains(&n) => Ok(Some(n)),
            _ => Err(invalid(format!(
                "`{name}` must be a whole number from {min} to {max}; got `{raw}`"
            ))),
        }
    }

    fn store(&self) -> Result<Option<Store>, RequestError> {
        let Some(raw) = self.raw("store") else {
            return Ok(None);
        };
        match choices::resolve_store(raw).map_err(rows::request_error)? {
            Ok(store) => Ok(Some(store)),
            Err(message) => Err(invalid(message)),
        }
    }

    fn category(&self) -> Result<Option<choices::Category>, RequestError> {
        let Some(raw) = self.raw("category") else {
            return Ok(None);
        };
        match choices::resolve_category(raw).map_err(rows::request_error)? {
            Ok(category) => Ok(Some(category)),
            Err(message) => Err(invalid(message)),
        }
    }
}

fn expected(spec: &Spec) -> String {
    if spec.arguments.is_empty() {
        "it takes none".into()
    } else {
        format!(
            "its arguments are {}",
            spec.arguments
                .iter()
                .map(|a| a.name)
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// What a prompt asks, before the schemas are attached.
struct Request {
    description: String,
    /// What to find out, in a sentence or two (argument values included).
    task: String,
    /// The query the assistant should run (or adapt).
    sql: String,
    /// How the result should look, for a chart.
    shape: &'static str,
    /// The tables whose schemas are attached.
    tables: &'static [&'static str],
}

pub fn get(name: &str, arguments: &[(String, String)]) -> Result<PromptResult, RequestError> {
    let spec = spec(name)?;
    let args = Args::check(spec, arguments)?;
    let request = match spec.name {
        "top_products_by_revenue" => top_products(&args)?,
        "best_selling_categories" => best_categories(&args)?,
        "monthly_revenue_trend" => monthly_trend(&args)?,
        "store_comparison" => store_comparison(&args)?,
        "low_stock" => low_stock(&args)?,
        other => unreachable!("prompt `{other}` is listed but not built"),
    };
    let schemas = schema::describe_each(request.tables).map_err(rows::request_error)?;
    let mut messages = vec![user(Content::Text(instruction(&request)))];
    messages.extend(schemas.into_iter().map(|(table, document)| {
        user(Content::Resource(resources::schema_contents(
            table, &document,
        )))
    }));
    Ok(PromptResult {
        description: Some(request.description),
        messages,
    })
}

fn user(content: Content) -> PromptMessage {
    PromptMessage {
        role: Role::User,
        content,
    }
}

/// The user message: the task, then the rules every answer follows.
fn instruction(r: &Request) -> String {
    let tool = query_tool::NAME;
    let tables = r
        .tables
        .iter()
        .map(|t| format!("retail.{t}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{task}\n\n\
         Call the `{tool}` tool with exactly one read-only PostgreSQL SELECT (WITH ... SELECT is \
         fine; no other statement, no `;`). Qualify every table with `retail.`. This query does it \
         (adapt it only if the schemas below show it needs to):\n\n\
         ```sql\n{sql}\n```\n\n\
         Shape the result for a chart: {shape} Aggregate in SQL, so the result stays small; money \
         comes back as exact decimal strings.\n\n\
         The schemas of {tables} are attached below as resources (zava://schema/<table>), as you \
         are allowed to see them ({scope}). Use only the columns and values they list. If the \
         query fails, read the error, fix the SQL and call `{tool}` again. If it returns no rows, \
         say so and give the range of order dates you can see (orders: valid_values.date_range).\n\n\
         Then answer in a few sentences: the headline figures and what stands out.",
        task = r.task,
        sql = r.sql,
        shape = r.shape,
        scope = schema::caller_scope(),
    )
}

/// `WHERE` additions for an optional store, on `column`.
fn store_filter(store: &Option<Store>, column: &str) -> String {
    store
        .as_ref()
        .map(|s| format!("\n  AND {column} = {}", s.id))
        .unwrap_or_default()
}

fn at_store(store: &Option<Store>) -> String {
    match store {
        Some(s) => format!(" at {}", s.name),
        None => " in every store you can see".into(),
    }
}

fn top_products(args: &Args) -> Result<Request, RequestError> {
    let period = args.period("period")?.expect("required argument");
    let limit = args.count("limit")?.unwrap_or(DEFAULT_LIMIT);
    Ok(Request {
        description: format!("Top {limit} products by revenue, {}", period.label),
        task: format!(
            "Show the top {limit} products by revenue for {} in the Zava retail data, in every \
             store you can see. Revenue is SUM(retail.order_items.total_amount) (line totals after \
             discount) and units are SUM(quantity); the period applies to retail.orders.order_date.",
            period.label
        ),
        sql: format!(
            "SELECT p.product_name, SUM(oi.total_amount) AS revenue, SUM(oi.quantity) AS units\n\
             FROM retail.order_items oi\n\
             JOIN retail.orders o ON o.order_id = oi.order_id AND o.store_id = oi.store_id\n\
             JOIN retail.products p ON p.product_id = oi.product_id\n\
             WHERE {}\n\
             GROUP BY p.product_name\n\
             ORDER BY revenue DESC\n\
             LIMIT {limit}",
            period.condition("o.order_date")
        ),
        shape: "one label column (product_name) followed by numeric columns (revenue, units), \
            highest revenue first: a bar chart.",
        tables: &["order_items", "orders", "products"],
    })
}

fn best_categories(args: &Args) -> Result<Request, RequestError> {
    let store = args.store()?;
    let period = period::parse("this month").expect("a built-in period");
    Ok(Request {
        description: format!("Best-selling categories this month{}", at_store(&store)),
        task: format!(
            "Show which product categories sell best {}{}: revenue \
             (SUM(retail.order_items.total_amount)), units (SUM(quantity)) and orders per \
             category, ranked by revenue.",
            period.label,
            at_store(&store)
        ),
        sql: format!(
            "SELECT c.category_name, SUM(oi.total_amount) AS revenue, SUM(oi.quantity) AS units,\n       \
                    COUNT(DISTINCT oi.order_id) AS orders\n\
             FROM retail.order_items oi\n\
             JOIN retail.orders o ON o.order_id = oi.order_id AND o.store_id = oi.store_id\n\
             JOIN retail.products p ON p.product_id = oi.product_id\n\
             JOIN retail.categories c ON c.category_id = p.category_id\n\
             WHERE {}{}\n\
             GROUP BY c.category_name\n\
             ORDER BY revenue DESC",
            period.condition("o.order_date"),
            store_filter(&store, "oi.store_id")
        ),
        shape: "one label column (category_name) followed by numeric columns (revenue, units, \
            orders), highest revenue first: a bar chart.",
        tables: &["order_items", "orders", "products", "categories"],
    })
}

fn monthly_trend(args: &Args) -> Result<Request, RequestError> {
    let store = args.store()?;
    let months = args.count("months")?.unwrap_or(DEFAULT_MONTHS);
    let period = period::last_calendar_months(months);
    Ok(Request {
        description: format!("Monthly revenue, last {months} months{}", at_store(&store)),
        task: format!(
            "Show the monthly revenue trend for {}{}: revenue \
             (SUM(retail.order_items.total_amount)) and orders per calendar month of \
             retail.orders.order_date. The current month is not over yet: say so when you \
             compare it with the others.",
            period.label,
            at_store(&store)
        ),
        sql: format!(
            "SELECT date_trunc('month', o.order_date)::date AS month,\n       \
                    SUM(oi.total_amount) AS revenue, COUNT(DISTINCT o.order_id) AS orders\n\
             FROM retail.orders o\n\
             JOIN retail.order_items oi ON oi.order_id = o.order_id AND oi.store_id = o.store_id\n\
             WHERE {}{}\n\
             GROUP BY 1\n\
             ORDER BY 1",
            period.condition("o.order_date"),
            store_filter(&store, "o.store_id")
        ),
        shape: "one date column (month: the first day of each month) followed by numeric \
            columns (revenue, orders), in date order: a line chart.",
        tables: &["orders", "order_items", "stores"],
    })
}

fn store_comparison(args: &Args) -> Result<Request, RequestError> {
    let period = match args.period("period")? {
        Some(p) => p,
        None => period::parse(DEFAULT_COMPARISON_PERIOD).expect("a built-in period"),
    };
    // Row Level Security decides what the query returns; the prompt only
    // tells the assistant (and so the user) what to expect from it.
    let who = match caller::current() {
        Scope::HeadOffice => {
            "You are head office: you see every store, so compare them all.".to_string()
        }
        Scope::Store(id) => {
            let name = choices::visible_stores()
                .map_err(rows::request_error)?
                .into_iter()
                .find(|s| s.id == i64::from(id))
                .map(|s| s.name)
                .unwrap_or_else(|| format!("store_id {id}"));
            format!(
                "Note: you are the manager of {name}, and Row Level Security shows you only your \
                 own store's orders, so this comparison has a single row: {name}. Report its \
                 figures and tell the user that only head office sees the other stores."
            )
        }
        Scope::Unassigned => "Note: you are not assigned to a store, so Row Level Security shows \
            you no orders and the query will return no rows; tell the user so."
            .to_string(),
    };
    Ok(Request {
        description: format!("Store comparison, {}", period.label),
        task: format!(
            "Compare the Zava stores over {}: revenue (SUM(retail.order_items.total_amount)), \
             orders, average order value and gross profit (SUM(total_amount - quantity * \
             retail.products.cost)) per store. {who}",
            period.label
        ),
        sql: format!(
            "SELECT s.store_name, SUM(oi.total_amount) AS revenue,\n       \
                    COUNT(DISTINCT oi.order_id) AS orders,\n       \
                    round(SUM(oi.total_amount) / COUNT(DISTINCT oi.order_id), 2) AS avg_order_value,\n       \
                    SUM(oi.total_amount - oi.quantity * p.cost) AS gross_profit\n\
             FROM retail.order_items oi\n\
             JOIN retail.orders o ON o.order_id = oi.order_id AND o.store_id = oi.store_id\n\
             JOIN retail.stores s ON s.store_id = oi.store_id\n\
             JOIN retail.products p ON p.product_id = oi.product_id\n\
             WHERE {}\n\
             GROUP BY s.store_name\n\
             ORDER BY revenue DESC",
            period.condition("o.order_date")
        ),
        shape: "one label column (store_name) followed by numeric columns (revenue, orders, \
            avg_order_value, gross_profit), highest revenue first: a bar chart.",
        tables: &["stores", "orders", "order_items", "products"],
    })
}

fn low_stock(args: &Args) -> Result<Request, RequestError> {
    let category = args.category()?;
    let store = args.store()?;
    let threshold = args.count("threshold")?.unwrap_or(DEFAULT_THRESHOLD);
    let in_category = category
        .as_ref()
        .map(|c| format!(" in category {}", c.name))
        .unwrap_or_default();
    let mut filters = String::new();
    if let Some(c) = &category {
        filters.push_str(&format!("\n  AND p.category_id = {}", c.id));
    }
    filters.push_str(&store_filter(&store, "i.store_id"));
    Ok(Request {
        description: format!(
            "Stock at or below {threshold}{in_category}{}",
            at_store(&store)
        ),
        task: format!(
            "List the products that are low on stock: retail.inventory.stock_level at or below \
             {threshold}{in_category}{}. A stock_level of 0 means out of stock; Row Level Security \
             shows you the inventory of the stores you may see.",
            at_store(&store)
        ),
        sql: format!(
            "SELECT p.product_name, s.store_name, c.category_name, i.stock_level\n\
             FROM retail.inventory i\n\
             JOIN retail.products p ON p.product_id = i.product_id\n\
             JOIN retail.categories c ON c.category_id = p.category_id\n\
             JOIN retail.stores s ON s.store_id = i.store_id\n\
             WHERE i.stock_level <= {threshold}{filters}\n\
             ORDER BY i.stock_level, p.product_name, s.store_name\n\
             LIMIT 200"
        ),
        shape: "one label column (product_name), the descriptive columns store_name and \
            category_name, then the numeric stock_level, lowest first: a bar chart. If 200 rows \
            come back there are more: say so and suggest a lower threshold or one category.",
        tables: &["inventory", "products", "categories", "stores"],
    })
}

/// Suggested values for one argument of one prompt, as the caller may see them.
pub fn complete(name: &str, argument: &str, value: &str) -> Result<Vec<String>, RequestError> {
    let spec = spec(name)?;
    let Some(arg) = spec.arguments.iter().find(|a| a.name == argument) else {
        return Err(invalid(format!(
            "prompt `{name}` has no argument `{argument}`; {}",
            expected(spec)
        )));
    };
    match arg.kind {
        Kind::Store => choices::complete_store(value).map_err(rows::request_error),
        Kind::Category => choices::complete_category(value).map_err(rows::request_error),
        Kind::Period => Ok(starting_with(period::EXAMPLES, value)),
        Kind::Count { suggestions, .. } => Ok(starting_with(suggestions, value)),
    }
}

/// Fixed suggestions that start with what was typed (case-insensitive).
fn starting_with(values: &[&str], typed: &str) -> Vec<String> {
    let typed = typed.trim_start().to_lowercase();
    values
        .iter()
        .filter(|v| v.to_lowercase().starts_with(&typed))
        .map(|v| v.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_five_prompts_are_listed_with_their_arguments() {
        let listed = list();
        let names: Vec<_> = listed.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "top_products_by_revenue",
                "best_selling_categories",
                "monthly_revenue_trend",
                "store_comparison",
                "low_stock"
            ]
        );
        for p in &listed {
            assert!(!p.description.is_empty());
            assert!(p.arguments.iter().all(|a| a.description.is_some()));
        }
        assert!(
            listed[0]
                .arguments
                .iter()
                .any(|a| a.name == "period" && a.required)
        );
    }

    #[test]
    fn arguments_are_checked_before_anything_runs() {
        let top = spec("top_products_by_revenue").ok().unwrap();
        let err = |pairs: &[(&str, &str)]| match Args::check(top, &given(pairs)) {
            Err(RequestError::InvalidArguments(m)) => m,
            _ => panic!("expected invalid arguments for {pairs:?}"),
        };
        assert!(err(&[]).contains("needs `period`"));
        assert!(err(&[("period", "  ")]).contains("needs `period`"));
        assert!(err(&[("period", "2025"), ("colour", "red")]).contains("no argument `colour`"));
        assert!(err(&[("period", "2025"), ("period", "2024")]).contains("twice"));

        let pairs = given(&[("period", "2025-Q3"), ("limit", "500")]);
        let args = Args::check(top, &pairs).ok().unwrap();
        assert!(
            matches!(args.count("limit"), Err(RequestError::InvalidArguments(m)) if m.contains("1 to 100"))
        );
        let pairs = given(&[("period", "someday")]);
        let args = Args::check(top, &pairs).ok().unwrap();
        assert!(matches!(
            args.period("period"),
            Err(RequestError::InvalidArguments(_))
        ));
        let pairs = given(&[("period", "2025-Q3"), ("limit", "")]);
        let args = Args::check(top, &pairs).ok().unwrap();
        assert_eq!(args.count("limit").ok().unwrap(), None);
        assert!(matches!(spec("nope"), Err(RequestError::NotFound(_))));
    }

    #[test]
    fn fixed_suggestions_follow_the_prefix() {
        assert_eq!(starting_with(period::EXAMPLES, "LAST q"), ["last quarter"]);
        assert_eq!(starting_with(&["5", "10", "20"], "1"), ["10"]);
        assert!(matches!(
            complete("low_stock", "period", ""),
            Err(RequestError::InvalidArguments(_))
        ));
    }
}
