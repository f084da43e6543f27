//! Python components (see mod.rs): `components/py-store-kpis`, built with
//! componentize-py, whose one tool `store_kpis` is a typed function under the
//! `zava_tool` helper (schemas derived from its type hints, arguments checked
//! before it runs), and the hostile fixture `host/tests/fixtures/py-hostile`
//! (`py_loop`, `py_alloc`, `py_raise`, `py_ok`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::pg::TestDb;
use crate::support::*;

use super::{POLICY, UNKNOWN, drop_in, server_with_db, structured, take_out};

const FIXTURE: &str = "py_store_kpis";
const TOOL: &str = "store_kpis";
const HOSTILE: &str = "py_hostile";

fn as_object(map: &serde_json::Map<String, Value>) -> Value {
    Value::Object(map.clone())
}

#[tokio::test]
async fn loads_and_lists_store_kpis_with_schemas_from_its_type_hints() {
    let server = TestServer::start_with_files(&[FIXTURE], &[("policy.toml", POLICY)], &[]).await;
    let client = server.client(HEAD_OFFICE).await;
    let tools = client.service.list_all_tools().await.expect("tools/list");
    let tool = tools
        .iter()
        .find(|t| t.name == TOOL)
        .unwrap_or_else(|| panic!("{TOOL} is listed: {tools:?}"));
    let description = tool.description.as_deref().unwrap_or("");
    assert!(description.contains("year-on-year"), "{description}");
    assert_eq!(tool.title.as_deref(), Some("Store KPIs for a period"));
    assert_eq!(
        tool.annotations.as_ref().and_then(|a| a.read_only_hint),
        Some(true)
    );

    // `period: Annotated[str, Arg(..., min_length=1, max_length=40)]` and
    // `top_categories: Annotated[int, Arg(..., minimum=1, maximum=10)] = 3`.
    let input = as_object(&tool.input_schema);
    assert_eq!(input["type"], "object");
    assert_eq!(input["additionalProperties"], false);
    assert_eq!(input["required"], json!(["period"]));
    let period = &input["properties"]["period"];
    assert_eq!(period["type"], "string");
    assert_eq!(period["minLength"], 1);
    assert_eq!(period["maxLength"], 40);
    assert!(period["description"].as_str().unwrap().contains("2025-Q3"));
    assert!(
        period["examples"]
            .as_array()
            .unwrap()
            .contains(&json!("last 90 days"))
    );
    let top = &input["properties"]["top_categories"];
    assert_eq!(top["type"], "integer");
    assert_eq!(top["minimum"], 1);
    assert_eq!(top["maximum"], 10);
    assert_eq!(top["default"], 3);

    // The return type, a dataclass of dataclasses, is the output schema.
    let output = as_object(tool.output_schema.as_ref().expect("an output schema"));
    assert_eq!(output["type"], "object");
    assert_eq!(
        output["required"],
        json!(["period", "scope", "stores", "total"])
    );
    let store = &output["properties"]["stores"]["items"];
    assert_eq!(store["type"], "object");
    for field in [
        "store_id",
        "store_name",
        "revenue",
        "orders",
        "average_basket",
        "top_categories",
        "previous_year",
        "revenue_change_pct",
        "orders_change_pct",
        "average_basket_change_pct",
    ] {
        assert!(
            store["required"]
                .as_array()
                .unwrap()
                .contains(&json!(field)),
            "{field} in {store}"
        );
    }
    assert_eq!(store["properties"]["orders"]["type"], "integer");
    // Decimal -> number; `Decimal | None` -> number or null.
    assert_eq!(store["properties"]["revenue"]["type"], "number");
    assert_eq!(
        store["properties"]["average_basket"]["type"],
        json!(["number", "null"])
    );
    let share = &store["properties"]["top_categories"]["items"]["properties"]["share"];
    assert_eq!(
        (share["minimum"].clone(), share["maximum"].clone()),
        (json!(0), json!(1))
    );
    // `datetime.date` -> a string in `date` format.
    assert_eq!(
        output["properties"]["period"]["properties"]["start"],
        json!({ "type": "string", "format": "date", "description": "First day" })
    );
    // `Kpis | None` -> an object schema or null.
    assert!(output["properties"]["total"]["type"] == json!(["object", "null"]));
    server.stop().await;
}

/// One store's figures in one period, as the superuser computes them.
#[derive(Debug, Default, Clone)]
struct Figures {
    revenue: f64,
    orders: i64,
    /// (category, revenue), highest revenue first (ties by name).
    categories: Vec<(String, f64)>,
}

/// Per store (`None`: all stores) for the days `first..=last`, straight
/// from the tables with the superuser (no Row Level Security), by another
/// route than the tool's query: per-store and per-category sums.
async fn truth(db: &TestDb, first: &str, last: &str) -> BTreeMap<Option<i32>, Figures> {
    let admin = db.admin().await;
    let mut figures: BTreeMap<Option<i32>, Figures> = BTreeMap::new();
    let rows = admin
        .query(
            "SELECT o.store_id, sum(oi.total_amount)::text, count(DISTINCT o.order_id)
               FROM retail.orders o JOIN retail.order_items oi ON oi.order_id = o.order_id
              WHERE o.order_date BETWEEN $1::text::date AND $2::text::date
              GROUP BY ROLLUP (o.store_id)",
            &[&first, &last],
        )
        .await
        .unwrap();
    for row in rows {
        let entry = figures.entry(row.get::<_, Option<i32>>(0)).or_default();
        entry.revenue = row.get::<_, String>(1).parse().unwrap();
        entry.orders = row.get(2);
    }
    let rows = admin
        .query(
            "SELECT o.store_id, c.category_name, sum(oi.total_amount)::text
               FROM retail.orders o
               JOIN retail.order_items oi ON oi.order_id = o.order_id
               JOIN retail.products p ON p.product_id = oi.product_id
               JOIN retail.categories c ON c.category_id = p.category_id
              WHERE o.order_date BETWEEN $1::text::date AND $2::text::date
              GROUP BY GROUPING SETS ((o.store_id, c.category_name), (c.category_name))",
            &[&first, &last],
        )
        .await
        .unwrap();
    for row in rows {
        let revenue: f64 = row.get::<_, String>(2).parse().unwrap();
        figures
            .entry(row.get::<_, Option<i32>>(0))
            .or_default()
            .categories
            .push((row.get(1), revenue));
    }
    for f in figures.values_mut() {
        f.categories
            .sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    }
    figures
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance
}

/// Checks one KPI block against the truth of both periods.
fn check(kpis: &Value, now: &Figures, before: &Figures, top: usize) {
    let name = kpis["store_name"].as_str().unwrap_or("?");
    let revenue = kpis["revenue"].as_f64().unwrap();
    assert!(
        close(revenue, now.revenue, 0.005),
        "{name}: revenue {revenue} vs {}",
        now.revenue
    );
    assert_eq!(kpis["orders"].as_i64(), Some(now.orders), "{name} orders");
    let basket = now.revenue / now.orders as f64;
    assert!(
        close(kpis["average_basket"].as_f64().unwrap(), basket, 0.0051),
        "{name}: basket {} vs {basket}",
        kpis["average_basket"]
    );
    let previous = &kpis["previous_year"];
    assert!(
        close(previous["revenue"].as_f64().unwrap(), before.revenue, 0.005),
        "{name}"
    );
    assert_eq!(previous["orders"].as_i64(), Some(before.orders), "{name}");
    let change = (now.revenue - before.revenue) / before.revenue * 100.0;
    assert!(
        close(kpis["revenue_change_pct"].as_f64().unwrap(), change, 0.051),
        "{name}: revenue change {} vs {change}",
        kpis["revenue_change_pct"]
    );
    let change = (now.orders - before.orders) as f64 / before.orders as f64 * 100.0;
    assert!(
        close(kpis["orders_change_pct"].as_f64().unwrap(), change, 0.051),
        "{name}"
    );

    let categories = kpis["top_categories"].as_array().unwrap();
    assert_eq!(categories.len(), top.min(now.categories.len()), "{name}");
    for (got, (category, revenue)) in categories.iter().zip(&now.categories) {
        assert_eq!(got["category"], category.as_str(), "{name}: {categories:?}");
        assert!(
            close(got["revenue"].as_f64().unwrap(), *revenue, 0.005),
            "{name}"
        );
        let share = revenue / now.revenue;
        assert!(
            close(got["share"].as_f64().unwrap(), share, 0.00006),
            "{name}: share"
        );
    }
}

#[tokio::test]
async fn one_store_for_a_manager_eight_and_a_total_for_head_office_equal_to_sql() {
    let db = TestDb::fresh().await;
    let server = server_with_db(&db, &[FIXTURE], &[]).await;
    let seattle = server.client(SEATTLE).await;
    let head_office = server.client(HEAD_OFFICE).await;
    let unassigned = server.client(UNKNOWN).await;

    for (period, top, (first, last), (prev_first, prev_last)) in [
        (
            "2025-Q3",
            3,
            ("2025-07-01", "2025-09-30"),
            ("2024-07-01", "2024-09-30"),
        ),
        (
            "2024",
            5,
            ("2024-01-01", "2024-12-31"),
            ("2023-01-01", "2023-12-31"),
        ),
        (
            "2025-02-10..2025-03-31",
            1,
            ("2025-02-10", "2025-03-31"),
            ("2024-02-10", "2024-03-31"),
        ),
    ] {
        let now = truth(&db, first, last).await;
        let before = truth(&db, prev_first, prev_last).await;
        let arguments = json!({ "period": period, "top_categories": top });

        // Seattle's manager: one store, no total.
        let result = seattle.call(TOOL, arguments.clone()).await;
        let answer = structured(&result);
        assert_eq!(answer["scope"], "store:1", "{answer}");
        assert_eq!(answer["period"]["start"], first);
        assert_eq!(answer["period"]["end"], last);
        assert_eq!(answer["period"]["previous_start"], prev_first);
        assert_eq!(answer["period"]["previous_end"], prev_last);
        let stores = answer["stores"].as_array().unwrap();
        assert_eq!(stores.len(), 1, "{answer}");
        assert_eq!(stores[0]["store_id"], 1);
        assert_eq!(stores[0]["store_name"], "Zava Retail Seattle");
        assert!(answer["total"].is_null());
        check(&stores[0], &now[&Some(1)], &before[&Some(1)], top);
        let text = text_of(&result);
        assert!(
            text.starts_with(&format!("Store KPIs for {period}"))
                && text.contains("Zava Retail Seattle"),
            "{text}"
        );

        // Head office: all eight stores and their total.
        let result = head_office.call(TOOL, arguments.clone()).await;
        let answer = structured(&result);
        assert_eq!(answer["scope"], "head-office");
        let stores = answer["stores"].as_array().unwrap();
        assert_eq!(stores.len(), 8, "{answer}");
        for (i, store) in stores.iter().enumerate() {
            let id = i as i32 + 1;
            assert_eq!(store["store_id"], id);
            check(store, &now[&Some(id)], &before[&Some(id)], top);
        }
        let total = &answer["total"];
        assert!(total["store_id"].is_null());
        assert_eq!(total["store_name"], "All 8 stores");
        check(total, &now[&None], &before[&None], top);
        assert!(text_of(&result).contains("All 8 stores"));

        // Mapped to no store: nothing to report, and no error.
        let answer = structured(&unassigned.call(TOOL, arguments).await);
        assert_eq!(answer["scope"], "unassigned");
        assert_eq!(answer["stores"], json!([]));
        assert!(answer["total"].is_null());
    }

    // "last N days" ends on the database's today, and the default is three
    // categories.
    let admin = db.admin().await;
    let row = admin
        .query_one(
            "SELECT (CURRENT_DATE - 89)::text, CURRENT_DATE::text,
                    ((CURRENT_DATE - 89) - interval '1 year')::date::text",
            &[],
        )
        .await
        .unwrap();
    let (first, last, prev_first): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    let answer = structured(
        &seattle
            .call(TOOL, json!({ "period": "Last 90 days" }))
            .await,
    );
    assert_eq!(answer["period"]["label"], "last 90 days");
    assert_eq!(answer["period"]["start"], first.as_str());
    assert_eq!(answer["period"]["end"], last.as_str());
    assert_eq!(answer["period"]["previous_start"], prev_first.as_str());
    let now = truth(&db, &first, &last).await;
    assert_eq!(
        answer["stores"][0]["orders"].as_i64(),
        Some(now.get(&Some(1)).map_or(0, |f| f.orders))
    );
    assert!(
        answer["stores"][0]["top_categories"]
            .as_array()
            .unwrap()
            .len()
            <= 3
    );
    server.stop().await;
}

#[tokio::test]
async fn hot_swaps_into_a_running_server() {
    let db = TestDb::fresh().await;
    let server = server_with_db(&db, &[], &[]).await;
    let mut client = server.client(SEATTLE).await;
    drop_in(&server, &mut client, FIXTURE, TOOL).await;
    let answer = structured(&client.call(TOOL, json!({ "period": "2025" })).await);
    assert_eq!(answer["scope"], "store:1");
    assert!(
        answer["stores"][0]["orders"].as_i64().unwrap() > 0,
        "{answer}"
    );

    take_out(&server, &mut client, FIXTURE, TOOL).await;
    server.stop().await;
}

#[tokio::test]
async fn bad_arguments_are_refused_as_invalid_arguments() {
    // No database: the arguments are checked before any query would run.
    let server = TestServer::start_with_files(&[FIXTURE], &[("policy.toml", POLICY)], &[]).await;
    let client = server.client(SEATTLE).await;
    for (arguments, says) in [
        (json!({}), "`period` is required: The period"),
        (
            json!({ "period": 2025 }),
            "`period` must be a string, got 2025",
        ),
        (
            json!({ "period": "" }),
            "`period` must have at least 1 character",
        ),
        (
            json!({ "period": "2025-Q3", "top_categories": 11 }),
            "`top_categories` must be at most 10, got 11",
        ),
        (
            json!({ "period": "2025-Q3", "top_categories": 0 }),
            "`top_categories` must be at least 1, got 0",
        ),
        (
            json!({ "period": "2025-Q3", "top_categories": 2.5 }),
            "`top_categories` must be an integer, got 2.5",
        ),
        (
            json!({ "period": "2025-Q3", "top_categories": "3" }),
            "`top_categories` must be an integer",
        ),
        (
            json!({ "period": "2025-Q3", "store": 1 }),
            "unknown argument `store` (expected: period, top_categories)",
        ),
        // Well-formed, but not a period the tool knows: the tool's own check.
        (
            json!({ "period": "next week" }),
            "unknown period 'next week': use a year",
        ),
        (json!({ "period": "2025-13" }), "month 13 does not exist"),
        (json!({ "period": "last 0 days" }), "from 1 to 3660"),
        (
            json!({ "period": "2025-09-30..2025-07-01" }),
            "ends (2025-07-01) before it starts",
        ),
    ] {
        let result = client.call(TOOL, arguments.clone()).await;
        assert!(is_error(&result), "{arguments} is refused");
        let text = text_of(&result);
        assert!(
            text.starts_with("invalid arguments:"),
            "{arguments}: {text}"
        );
        assert!(text.contains(says), "{arguments}: {text}");
    }
    // Good arguments (a whole number as 3.0 too) reach the function, whose
    // query fails cleanly (`failed`, not a crash): this server has no database.
    let result = client
        .call(TOOL, json!({ "period": "2025-Q3", "top_categories": 3.0 }))
        .await;
    assert!(is_error(&result));
    let text = text_of(&result);
    assert!(text.contains("database is unavailable"), "{text}");
    assert!(!text.contains("invalid arguments"), "{text}");
    server.stop().await;
}

async fn assert_ok(client: &McpClient) {
    let result = client.call("py_ok", json!({})).await;
    assert!(!is_error(&result), "the host keeps serving: {result:?}");
    assert_eq!(text_of(&result), "ok");
}

// A multi-threaded runtime, as `mcp-host serve` runs: on the test's default
// single thread, the spinning guest yields at every epoch tick but the I/O
// driver (shared with the test's client) is polled only every 61 task polls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_loop_is_stopped_at_the_deadline_while_other_calls_are_served() {
    let server = TestServer::start_with(&[HOSTILE], &["--call-timeout", "3s"]).await;
    let client = server.client(HEAD_OFFICE).await;
    let url = server.url.clone();
    let started = Instant::now();
    let looping = tokio::spawn(async move {
        let client = McpClient::connect(&url, HEAD_OFFICE).await;
        client.call("py_loop", json!({})).await
    });
    // While CPython spins, other calls are answered, each well within the
    // loop's deadline (in milliseconds on an idle machine).
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..5 {
        let call = Instant::now();
        assert_ok(&client).await;
        assert!(
            call.elapsed() < Duration::from_secs(2),
            "{:?}",
            call.elapsed()
        );
    }
    assert!(!looping.is_finished(), "py_loop is still running");
    let result = looping.await.unwrap();
    let took = started.elapsed();
    assert!(is_error(&result));
    assert!(
        text_of(&result).contains("ran longer than its 3 s limit"),
        "{}",
        text_of(&result)
    );
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(10),
        "stopped after {took:?}"
    );
    assert_ok(&client).await;
    server.stop().await;
}

#[tokio::test]
async fn a_python_allocation_is_stopped_at_the_memory_limit() {
    let server = TestServer::start_with(&[HOSTILE], &["--memory-limit-mib", "48"]).await;
    let client = server.client(HEAD_OFFICE).await;
    let result = client.call("py_alloc", json!({})).await;
    assert!(is_error(&result));
    assert!(
        text_of(&result).contains("needed more than its 48 MiB memory limit"),
        "{}",
        text_of(&result)
    );
    assert_ok(&client).await;
    // An exception the tool does not catch is a tool error with its message,
    // not a crash (the helper turns it into WIT `failed`).
    let result = client.call("py_raise", json!({})).await;
    assert!(is_error(&result));
    assert_eq!(text_of(&result), "ValueError: py_raise always raises");
    assert_ok(&client).await;
    server.stop().await;
}
