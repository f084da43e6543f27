//! JavaScript components (see mod.rs): `components/js-margin-calculator`,
//! built with componentize-js, whose one tool `product_margin` is written
//! with the `zava-tool.js` helper (schemas declared once, arguments checked
//! before the handler runs).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::pg::TestDb;
use crate::support::*;

use super::{UNKNOWN, drop_in, server_with_db, structured, take_out};

const FIXTURE: &str = "js_margin_calculator";
const TOOL: &str = "product_margin";

#[tokio::test]
async fn loads_and_lists_product_margin_with_its_schemas() {
    let server = TestServer::start(&[FIXTURE]).await;
    let client = server.client(HEAD_OFFICE).await;
    let tools = client.service.list_all_tools().await.expect("tools/list");
    let tool = tools
        .iter()
        .find(|t| t.name == TOOL)
        .unwrap_or_else(|| panic!("{TOOL} is listed: {tools:?}"));
    assert!(
        tool.description
            .as_deref()
            .unwrap_or("")
            .contains("discount")
    );

    let input = Value::Object((*tool.input_schema).clone());
    assert_eq!(input["type"], "object");
    assert_eq!(input["additionalProperties"], false);
    let discount = &input["properties"]["discount_percent"];
    assert_eq!(discount["type"], "number");
    assert_eq!(discount["minimum"], 0);
    assert_eq!(discount["maximum"], 90);
    assert_eq!(discount["default"], 0);
    assert!(discount["description"].is_string());
    assert_eq!(input["properties"]["product"]["type"], "string");
    assert_eq!(input["properties"]["category"]["type"], "string");
    // Every argument is optional (absent or defaulted).
    assert!(input.get("required").is_none(), "{input}");

    let output = Value::Object((**tool.output_schema.as_ref().expect("output schema")).clone());
    assert_eq!(output["type"], "object");
    for field in ["scope", "rows", "summary", "discount_percent", "truncated"] {
        assert!(
            output["required"]
                .as_array()
                .unwrap()
                .contains(&json!(field)),
            "{field}"
        );
    }
    let row = &output["properties"]["rows"]["items"]["properties"];
    for field in [
        "unit_cost",
        "list_price",
        "margin",
        "margin_percent",
        "discounted_margin_percent",
    ] {
        assert!(row.get(field).is_some(), "rows have {field}: {row}");
    }
    assert_eq!(
        tool.annotations.as_ref().and_then(|a| a.read_only_hint),
        Some(true)
    );
    server.stop().await;
}

/// What the tool should answer for `category`, computed by the superuser
/// straight from the tables: product id -> (cost, price, margin, margin %,
/// discounted price, discounted margin, discounted margin %).
async fn truth(db: &TestDb, category: &str, discount: &str) -> BTreeMap<i64, Vec<f64>> {
    let admin = db.admin().await;
    let sql = "SELECT p.product_id::int8,
                      p.cost::text, p.base_price::text, (p.base_price - p.cost)::text,
                      round((p.base_price - p.cost) * 100 / p.base_price, 2)::text,
                      s.price::text, (s.price - p.cost)::text,
                      round((s.price - p.cost) * 100 / s.price, 2)::text
                 FROM retail.products p
                 JOIN retail.categories c ON c.category_id = p.category_id
                 CROSS JOIN LATERAL (SELECT round(p.base_price * (100 - $2::text::numeric) / 100, 2) AS price) s
                WHERE c.category_name = $1";
    admin
        .query(sql, &[&category, &discount])
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let numbers = (1..8)
                .map(|i| r.get::<_, String>(i).parse::<f64>().unwrap())
                .collect();
            (r.get::<_, i64>(0), numbers)
        })
        .collect()
}

fn answered(answer: &Value) -> BTreeMap<i64, Vec<f64>> {
    answer["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let numbers = [
                "unit_cost",
                "list_price",
                "margin",
                "margin_percent",
                "discounted_price",
                "discounted_margin",
                "discounted_margin_percent",
            ]
            .iter()
            .map(|f| row[f].as_f64().unwrap_or_else(|| panic!("{f} in {row}")))
            .collect();
            (row["product_id"].as_i64().unwrap(), numbers)
        })
        .collect()
}

#[tokio::test]
async fn answers_as_a_store_manager_and_as_head_office_with_exact_margins() {
    let db = TestDb::fresh().await;
    let admin = db.admin().await;
    let category: String = admin
        .query_one(
            "SELECT c.category_name FROM retail.categories c
               JOIN retail.products p ON p.category_id = c.category_id
              GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let server = server_with_db(&db, &[FIXTURE], &[]).await;
    let seattle = server.client(SEATTLE).await;
    let head_office = server.client(HEAD_OFFICE).await;
    let unassigned = server.client(UNKNOWN).await;

    for discount in ["0", "15", "62.5"] {
        let arguments = json!({
            "category": category,
            "discount_percent": discount.parse::<f64>().unwrap(),
            "limit": 500,
        });
        let store = structured(&seattle.call(TOOL, arguments.clone()).await);
        let office = structured(&head_office.call(TOOL, arguments.clone()).await);
        let nobody = structured(&unassigned.call(TOOL, arguments).await);
        assert_eq!(store["scope"], "store:1");
        assert_eq!(office["scope"], "head-office");
        assert_eq!(nobody["scope"], "unassigned");
        // Shared reference data: the same rows whoever asks.
        for field in ["rows", "summary", "row_count", "truncated"] {
            assert_eq!(store[field], office[field], "{field} at {discount}%");
            assert_eq!(store[field], nobody[field], "{field} at {discount}%");
        }

        let expected = truth(&db, &category, discount).await;
        assert!(expected.len() >= 5, "{category} has products");
        assert_eq!(answered(&store), expected, "margins at {discount}% off");
        assert_eq!(store["row_count"], expected.len());
        assert_eq!(store["total_matches"], expected.len());
        assert_eq!(store["truncated"], false);

        let below_cost = expected.values().filter(|n| n[5] < 0.0).count();
        assert_eq!(
            store["summary"]["below_cost"].as_array().unwrap().len(),
            below_cost,
            "below cost at {discount}%: {}",
            store["summary"]
        );
        if discount == "62.5" {
            assert!(below_cost > 0, "a deep discount sells something below cost");
        }
        let mean = expected.values().map(|n| n[3]).sum::<f64>() / expected.len() as f64;
        let avg = store["summary"]["avg_margin_percent"].as_f64().unwrap();
        assert!((avg - mean).abs() < 0.006, "average {avg} vs {mean}");
    }
    // The first content block is the summary line for the model.
    let result = seattle
        .call(
            TOOL,
            json!({ "category": category, "discount_percent": 15 }),
        )
        .await;
    assert!(text_of(&result).contains("15% off"), "{}", text_of(&result));

    // `limit` keeps the first rows of the order asked for, and says so.
    let page = structured(
        &seattle
            .call(TOOL, json!({ "category": category, "discount_percent": 15, "sort": "margin_percent", "limit": 3 }))
            .await,
    );
    let all = truth(&db, &category, "15").await;
    let mut worst: Vec<f64> = all.values().map(|n| n[6]).collect();
    worst.sort_by(f64::total_cmp);
    let firsts: Vec<f64> = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["discounted_margin_percent"].as_f64().unwrap())
        .collect();
    assert_eq!(firsts, worst[..3], "{page}");
    assert_eq!(page["row_count"], 3);
    assert_eq!(page["total_matches"], all.len());
    assert_eq!(page["truncated"], true);
    let summary = page["summary"]["text"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!("The first 3 of {} products", all.len())),
        "{summary}"
    );

    // A name filter: partial and case-insensitive, on the name or the SKU.
    let (name, sku): (String, String) = {
        let row = admin
            .query_one(
                "SELECT product_name, sku FROM retail.products ORDER BY product_id LIMIT 1",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    for filter in [name.to_uppercase(), sku.to_lowercase()] {
        let answer = structured(
            &seattle
                .call(TOOL, json!({ "product": filter, "discount_percent": 10 }))
                .await,
        );
        assert!(
            answer["rows"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["product_name"] == name.as_str()),
            "{filter}: {answer}"
        );
    }
    // `%` and `_` in a filter are literal characters, not wildcards.
    let answer = structured(&seattle.call(TOOL, json!({ "product": "%" })).await);
    assert_eq!(answer["row_count"], 0, "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn hot_swaps_into_a_running_server() {
    let db = TestDb::fresh().await;
    let server = server_with_db(&db, &[], &[]).await;
    let mut client = server.client(SEATTLE).await;
    drop_in(&server, &mut client, FIXTURE, TOOL).await;
    let answer = structured(
        &client
            .call(TOOL, json!({ "product": "hammer", "discount_percent": 20 }))
            .await,
    );
    assert_eq!(answer["scope"], "store:1");
    assert!(answer["row_count"].as_u64().unwrap() > 0, "{answer}");

    take_out(&server, &mut client, FIXTURE, TOOL).await;
    server.stop().await;
}

#[tokio::test]
async fn bad_arguments_are_refused_before_the_handler_runs() {
    // No database: the arguments are checked before any query would run.
    let server = TestServer::start(&[FIXTURE]).await;
    let client = server.client(SEATTLE).await;
    for (arguments, says) in [
        (
            json!({ "discount_percent": 95 }),
            "`discount_percent` must be a number from 0 to 90, got 95",
        ),
        (json!({ "discount_percent": -1 }), "from 0 to 90"),
        (
            json!({ "discount_percent": "15" }),
            "`discount_percent` must be a number",
        ),
        (json!({ "category": 7 }), "`category` must be a string"),
        (json!({ "product": "" }), "`product` must not be empty"),
        (json!({ "limit": 2.5 }), "`limit` must be an integer"),
        (json!({ "sort": "price" }), "`sort` must be one of"),
        (json!({ "discount": 15 }), "unknown argument `discount`"),
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
    // Good arguments reach the handler, whose query fails cleanly (`failed`,
    // not a crash) because this server has no database.
    let result = client.call(TOOL, json!({ "discount_percent": 15 })).await;
    assert!(is_error(&result));
    let text = text_of(&result);
    assert!(text.contains("database is unavailable"), "{text}");
    assert!(!text.contains("invalid arguments"), "{text}");
    server.stop().await;
}

/// The helper's and the tool's own tests, under plain Node with a fake host
/// (`components/js-margin-calculator/test/`): schema building, messages,
/// error mapping, row conversion, exact margins.
#[test]
fn the_helper_passes_its_node_tests() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../components/js-margin-calculator");
    let output = std::process::Command::new("node")
        .current_dir(&dir)
        .args(["--import", "./test/fake-host.mjs", "--test", "test/"])
        .output()
        .expect("node runs (it builds JavaScript components too)");
    assert!(
        output.status.success(),
        "node --test failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
