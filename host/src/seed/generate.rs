//! The Zava demo data, generated deterministically from a seed: stores and
//! their managers, customers, the catalogue, inventory, and seven years of
//! orders with yearly growth and Washington State seasonality per category.
//!
//! Output is COPY text per table, in load order, one function per table
//! (orders and their lines together: they share a random stream). The data
//! lives beside this file: products in `catalog.json`, customers' names in
//! `names.json`.

use serde::Deserialize;
use time::{Date, Month};

use super::SeedError;
use super::catalog::{CATEGORIES, Catalog, Product};
use super::ids::IdPermutation;
use super::rng::Rng;

/// The classic sample's stores and their managers' RLS user ids.
pub const STORES: &[(&str, bool, &str)] = &[
    (
        "Zava Retail Seattle",
        false,
        "f47ac10b-58cc-4372-a567-0e02b2c3d479",
    ),
    (
        "Zava Retail Bellevue",
        false,
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    ),
    (
        "Zava Retail Tacoma",
        false,
        "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
    ),
    (
        "Zava Retail Spokane",
        false,
        "d8e9f0a1-b2c3-4567-8901-234567890abc",
    ),
    (
        "Zava Retail Everett",
        false,
        "3b9ac9fa-cd5e-4b92-a7f2-b8c1d0e9f2a3",
    ),
    (
        "Zava Retail Redmond",
        false,
        "e7f8a9b0-c1d2-3e4f-5678-90abcdef1234",
    ),
    (
        "Zava Retail Kirkland",
        false,
        "9c8b7a65-4321-fed0-9876-543210fedcba",
    ),
    (
        "Zava Retail Online",
        true,
        "2f4e6d8c-1a3b-5c7e-9f0a-b2d4f6e8c0a2",
    ),
];
pub const HEAD_OFFICE: &str = "00000000-0000-0000-0000-000000000000";

/// Share of customers and orders per store (same order as [`STORES`]).
const STORE_WEIGHT: &[f64] = &[0.20, 0.13, 0.12, 0.09, 0.09, 0.11, 0.09, 0.17];
const AREA_CODE: &[&str] = &["206", "425", "253", "509", "425", "425", "425", "360"];

/// At scale 1: customers and (approximately) orders.
pub const FULL_CUSTOMERS: usize = 50_000;
pub const FULL_ORDERS: f64 = 200_000.0;
const FIRST_YEAR: i32 = 2020;
const LAST_YEAR: i32 = 2026;
/// Yearly growth of order volume.
const GROWTH: f64 = 1.12;

/// How strongly each category sells in each month (Jan..Dec), for the Pacific
/// Northwest: gardens and paint wait for the dry season, plumbing peaks with
/// frozen pipes, tools with the holidays, storage with New Year resolutions.
const SEASON: [[f64; 12]; 9] = [
    // Hand Tools
    [0.8, 0.8, 0.9, 1.0, 1.0, 1.1, 1.0, 1.0, 0.9, 0.9, 1.2, 1.5],
    // Power Tools
    [0.8, 0.8, 0.9, 1.0, 1.0, 1.3, 1.0, 0.9, 0.9, 0.9, 1.4, 1.7],
    // Paint & Finishes
    [0.5, 0.6, 0.8, 1.1, 1.5, 1.7, 1.8, 1.6, 1.2, 0.8, 0.5, 0.4],
    // Hardware
    [0.9, 0.9, 1.0, 1.1, 1.1, 1.1, 1.0, 1.0, 1.0, 1.0, 0.9, 0.9],
    // Lumber & Building Materials
    [0.6, 0.7, 0.9, 1.2, 1.4, 1.5, 1.5, 1.4, 1.1, 0.9, 0.6, 0.5],
    // Electrical
    [1.1, 1.0, 1.0, 1.0, 0.9, 0.9, 0.9, 0.9, 1.0, 1.1, 1.2, 1.3],
    // Plumbing
    [1.4, 1.3, 1.1, 1.0, 0.9, 0.8, 0.8, 0.8, 0.9, 1.0, 1.2, 1.4],
    // Garden & Outdoor
    [0.3, 0.5, 1.0, 1.7, 2.0, 1.9, 1.6, 1.3, 1.0, 0.7, 0.4, 0.3],
    // Storage & Organization
    [1.6, 1.2, 1.0, 0.9, 0.9, 0.9, 0.9, 1.1, 1.3, 1.0, 0.9, 0.8],
];
/// Overall share of each category in a basket.
const CATEGORY_WEIGHT: [f64; 9] = [1.0, 0.8, 1.1, 1.4, 0.9, 1.0, 1.0, 1.2, 0.8];

/// Customers' first and last names (`names.json`, beside the catalogue).
#[derive(Deserialize)]
struct Names {
    first_names: Vec<String>,
    last_names: Vec<String>,
}

impl Names {
    fn load() -> Result<Self, SeedError> {
        let names: Names = serde_json::from_str(include_str!("names.json"))
            .map_err(|e| SeedError::BuiltIn(format!("the built-in names are damaged: {e}")))?;
        if names.first_names.is_empty() || names.last_names.is_empty() {
            return Err(SeedError::BuiltIn(
                "the built-in names list is empty".into(),
            ));
        }
        Ok(names)
    }
}

/// How much data to make.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub customers: usize,
    /// Expected orders over the whole period.
    pub orders: f64,
}

impl Scale {
    /// `factor` 1.0 is the full demo set (50k customers, ~200k orders).
    pub fn of(factor: f64) -> Self {
        let factor = factor.clamp(0.0001, 10.0);
        Self {
            customers: ((FULL_CUSTOMERS as f64 * factor).round() as usize).max(STORES.len() * 5),
            orders: FULL_ORDERS * factor,
        }
    }
}

/// One table's rows as COPY text, with its column list.
pub struct TableData {
    pub table: &'static str,
    pub columns: &'static str,
    pub rows: usize,
    pub copy_text: String,
}

pub struct Dataset {
    pub tables: Vec<TableData>,
}

impl Dataset {
    pub fn rows(&self, table: &str) -> usize {
        self.tables
            .iter()
            .find(|t| t.table == table)
            .map_or(0, |t| t.rows)
    }
}

/// Escapes a value for COPY's text format.
fn esc(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fn cents(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", value.abs() / 100, value.abs() % 100)
}

struct Table {
    table: &'static str,
    columns: &'static str,
    rows: usize,
    text: String,
}

impl Table {
    fn new(table: &'static str, columns: &'static str) -> Self {
        Self {
            table,
            columns,
            rows: 0,
            text: String::new(),
        }
    }

    fn row(&mut self, fields: &[&str]) {
        self.text.push_str(&fields.join("\t"));
        self.text.push('\n');
        self.rows += 1;
    }

    fn done(self) -> TableData {
        TableData {
            table: self.table,
            columns: self.columns,
            rows: self.rows,
            copy_text: self.text,
        }
    }
}

/// The whole data set for `seed`. Each part draws from a stream of its own
/// (`fork`), so the parts are independent of each other and of the order
/// they are made in.
pub fn generate(seed: u64, scale: Scale, id_key: &[u8; 32]) -> Result<Dataset, SeedError> {
    let ids = Ids {
        customers: IdPermutation::new(id_key, "customers"),
        orders: IdPermutation::new(id_key, "orders"),
        items: IdPermutation::new(id_key, "order_items"),
    };
    let root = Rng::new(seed);
    let catalog = Catalog::load(&mut root.fork(1))?;
    let names = Names::load()?;
    let (customers, by_store) = customers(&mut root.fork(2), scale, &ids, &names)?;
    let inventory = inventory(&mut root.fork(3), &catalog);
    let (orders, order_items) = orders(&mut root.fork(4), scale, &ids, &catalog, &by_store)?;
    Ok(Dataset {
        tables: vec![
            stores(),
            categories(),
            product_types(&catalog),
            products(&catalog),
            customers,
            inventory,
            orders,
            order_items,
        ],
    })
}

/// The id numbering of the tables whose ids are permuted ([`IdPermutation`]).
struct Ids {
    customers: IdPermutation,
    orders: IdPermutation,
    items: IdPermutation,
}

fn stores() -> TableData {
    let mut stores = Table::new("stores", "store_id, store_name, is_online");
    for (i, (name, online, _)) in STORES.iter().enumerate() {
        stores.row(&[&(i + 1).to_string(), name, if *online { "t" } else { "f" }]);
    }
    stores.done()
}

fn categories() -> TableData {
    let mut categories = Table::new("categories", "category_id, category_name");
    for (i, name) in CATEGORIES.iter().enumerate() {
        categories.row(&[&(i + 1).to_string(), &esc(name)]);
    }
    categories.done()
}

fn product_types(catalog: &Catalog) -> TableData {
    let mut types = Table::new("product_types", "type_id, category_id, type_name");
    for t in &catalog.types {
        types.row(&[&t.id.to_string(), &t.category_id.to_string(), &esc(&t.name)]);
    }
    types.done()
}

fn products(catalog: &Catalog) -> TableData {
    let mut products = Table::new(
        "products",
        "product_id, sku, product_name, category_id, type_id, cost, base_price, gross_margin_percent, product_description",
    );
    for p in &catalog.products {
        products.row(&[
            &p.id.to_string(),
            &p.sku,
            &esc(&p.name),
            &p.category_id.to_string(),
            &p.type_id.to_string(),
            &cents(p.cost_cents),
            &cents(p.price_cents),
            &p.margin_text(),
            &esc(&p.description),
        ]);
    }
    products.done()
}

/// Customers, each with a home store; also returns each store's customer ids.
fn customers(
    rng: &mut Rng,
    scale: Scale,
    ids: &Ids,
    names: &Names,
) -> Result<(TableData, Vec<Vec<i32>>), SeedError> {
    let mut customers = Table::new(
        "customers",
        "customer_id, first_name, last_name, email, phone, primary_store_id, created_at",
    );
    let mut by_store: Vec<Vec<i32>> = vec![Vec::new(); STORES.len()];
    let first_day = Date::from_calendar_date(2019, Month::June, 1)
        .map_err(|e| SeedError::BuiltIn(e.to_string()))?;
    for n in 1..=scale.customers as u32 {
        let id = ids.customers.id(n);
        let store = rng.weighted(STORE_WEIGHT);
        by_store[store].push(id);
        let first = rng.pick(&names.first_names);
        let last = rng.pick(&names.last_names);
        let created = first_day + time::Duration::days(rng.between(0, 7 * 365 - 30));
        customers.row(&[
            &id.to_string(),
            first,
            last,
            &format!(
                "{}.{}{}@example.com",
                first.to_lowercase(),
                last.to_lowercase(),
                id
            ),
            &format!("({}) 555-{:04}", AREA_CODE[store], rng.between(0, 9999)),
            &(store + 1).to_string(),
            &created.to_string(),
        ]);
    }
    Ok((customers.done(), by_store))
}

/// Every store stocks every product; a few are out of stock.
fn inventory(rng: &mut Rng, catalog: &Catalog) -> TableData {
    let mut inventory = Table::new("inventory", "store_id, product_id, stock_level");
    for (s, (_, online, _)) in STORES.iter().enumerate() {
        for p in &catalog.products {
            let level = if rng.chance(0.06) {
                0
            } else if *online {
                rng.between(50, 400)
            } else {
                rng.between(1, 120)
            };
            inventory.row(&[&(s + 1).to_string(), &p.id.to_string(), &level.to_string()]);
        }
    }
    inventory.done()
}

/// Orders and their lines, day by day. Both come from one stream (a line's
/// draws follow its order's), so they are made together.
fn orders(
    rng: &mut Rng,
    scale: Scale,
    ids: &Ids,
    catalog: &Catalog,
    by_store: &[Vec<i32>],
) -> Result<(TableData, TableData), SeedError> {
    let mut orders = Table::new("orders", "order_id, customer_id, store_id, order_date");
    let mut items = Table::new(
        "order_items",
        "order_item_id, order_id, store_id, product_id, quantity, unit_price, discount_percent, discount_amount, total_amount",
    );
    let shelves = Shelves::new(rng, catalog);
    let volume = Volume::new(scale);
    let mut order_n = 0u32;
    let mut item_n = 0u32;
    let mut day = Date::from_calendar_date(FIRST_YEAR, Month::January, 1)
        .map_err(|e| SeedError::BuiltIn(e.to_string()))?;
    let last_day = Date::from_calendar_date(LAST_YEAR, Month::December, 31)
        .map_err(|e| SeedError::BuiltIn(e.to_string()))?;
    while day <= last_day {
        let month = u8::from(day.month()) as usize - 1;
        let count = rng.poisson(volume.orders_on(day));
        let date_text = day.to_string();
        let category_weights: Vec<f64> = (0..9)
            .map(|c| SEASON[c][month] * CATEGORY_WEIGHT[c])
            .collect();
        for _ in 0..count {
            order_n += 1;
            let order_id = ids.orders.id(order_n);
            let store = rng.weighted(STORE_WEIGHT);
            // Most buy at their home store; some shop elsewhere (or online).
            let customer = if rng.chance(0.85) && !by_store[store].is_empty() {
                *rng.pick(&by_store[store])
            } else {
                ids.customers
                    .id(rng.between(1, scale.customers as i64) as u32)
            };
            orders.row(&[
                &order_id.to_string(),
                &customer.to_string(),
                &(store + 1).to_string(),
                &date_text,
            ]);
            let lines = 1 + rng.weighted(&[0.42, 0.30, 0.18, 0.10]);
            for _ in 0..lines {
                item_n += 1;
                let line = order_line(rng, &shelves, &category_weights);
                let gross = line.unit_cents * line.quantity;
                let discount = (gross * line.discount_percent + 50) / 100;
                items.row(&[
                    &ids.items.id(item_n).to_string(),
                    &order_id.to_string(),
                    &(store + 1).to_string(),
                    &line.product_id.to_string(),
                    &line.quantity.to_string(),
                    &cents(line.unit_cents),
                    &line.discount_percent.to_string(),
                    &cents(discount),
                    &cents(gross - discount),
                ]);
            }
        }
        day = day
            .next_day()
            .ok_or_else(|| SeedError::BuiltIn("date overflow".into()))?;
    }
    Ok((orders.done(), items.done()))
}

/// The products of each category and how well each sells: a few best
/// sellers, a long tail.
struct Shelves<'a> {
    by_category: Vec<Vec<&'a Product>>,
    popularity: Vec<Vec<f64>>,
}

impl<'a> Shelves<'a> {
    fn new(rng: &mut Rng, catalog: &'a Catalog) -> Self {
        let by_category: Vec<Vec<&Product>> = (1..=CATEGORIES.len() as i32)
            .map(|c| catalog.in_category(c))
            .collect();
        let popularity = by_category
            .iter()
            .map(|products| {
                (0..products.len())
                    .map(|_| 0.2 + rng.unit().powi(3) * 3.0)
                    .collect()
            })
            .collect();
        Self {
            by_category,
            popularity,
        }
    }
}

/// How many orders to expect per day: yearly growth, the season's overall
/// volume, busier weekends.
struct Volume {
    /// Orders per day in the first year, before seasonality (mean season 1.0).
    base_per_day: f64,
    month_volume: Vec<f64>,
}

impl Volume {
    fn new(scale: Scale) -> Self {
        let days_per_year: Vec<f64> = (FIRST_YEAR..=LAST_YEAR)
            .map(|y| {
                if time::util::is_leap_year(y) {
                    366.0
                } else {
                    365.0
                }
            })
            .collect();
        let growth_total: f64 = (0..days_per_year.len())
            .map(|i| GROWTH.powi(i as i32) * days_per_year[i])
            .sum();
        let month_volume = (0..12)
            .map(|m| {
                let sum: f64 = (0..9).map(|c| SEASON[c][m] * CATEGORY_WEIGHT[c]).sum();
                sum / CATEGORY_WEIGHT.iter().sum::<f64>()
            })
            .collect();
        Self {
            base_per_day: scale.orders / growth_total,
            month_volume,
        }
    }

    /// The mean number of orders on `day`.
    fn orders_on(&self, day: Date) -> f64 {
        let month = u8::from(day.month()) as usize - 1;
        let year_index = day.year() - FIRST_YEAR;
        let weekend = matches!(
            day.weekday(),
            time::Weekday::Saturday | time::Weekday::Sunday
        );
        self.base_per_day
            * GROWTH.powi(year_index)
            * self.month_volume[month]
            * if weekend { 1.3 } else { 0.88 }
    }
}

/// One order line as drawn (amounts in cents).
struct Line {
    product_id: i32,
    quantity: i64,
    unit_cents: i64,
    discount_percent: i64,
}

fn order_line(rng: &mut Rng, shelves: &Shelves<'_>, category_weights: &[f64]) -> Line {
    let category = rng.weighted(category_weights);
    let product = shelves.by_category[category][rng.weighted(&shelves.popularity[category])];
    let quantity: i64 = if product.price_cents < 2_000 {
        1 + rng.weighted(&[0.45, 0.25, 0.15, 0.1, 0.05]) as i64
    } else if product.price_cents < 10_000 {
        1 + rng.weighted(&[0.75, 0.18, 0.07]) as i64
    } else {
        1
    };
    // Unit price within +-5 % of base price.
    let unit_cents = ((product.price_cents as f64) * (0.95 + rng.unit() * 0.10)).round() as i64;
    let discount_percent: i64 = if rng.chance(0.15) {
        *rng.pick(&[5, 10, 10, 15, 20, 25])
    } else {
        0
    };
    Line {
        product_id: product.id,
        quantity,
        unit_cents,
        discount_percent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn digest(data: &Dataset) -> String {
        let mut hash = Sha256::new();
        for t in &data.tables {
            hash.update(t.table.as_bytes());
            hash.update(t.copy_text.as_bytes());
        }
        hex::encode(hash.finalize())
    }

    #[test]
    fn names_load_and_are_distinct() {
        let names = Names::load().unwrap();
        for list in [&names.first_names, &names.last_names] {
            let mut sorted = list.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len());
            assert!(list.len() > 200);
        }
    }

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let a = generate(42, Scale::of(0.02), &[1; 32]).unwrap();
        let b = generate(42, Scale::of(0.02), &[1; 32]).unwrap();
        let c = generate(43, Scale::of(0.02), &[1; 32]).unwrap();
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&c));
    }

    #[test]
    fn full_scale_counts_are_in_range() {
        let data = generate(42, Scale::of(1.0), &[1; 32]).unwrap();
        assert_eq!(data.rows("stores"), 8);
        assert_eq!(data.rows("categories"), 9);
        assert_eq!(data.rows("customers"), 50_000);
        let orders = data.rows("orders");
        let items = data.rows("order_items");
        assert!((190_000..=210_000).contains(&orders), "{orders} orders");
        assert!((400_000..=440_000).contains(&items), "{items} items");
        assert_eq!(data.rows("inventory"), 8 * data.rows("products"));
        // 15 % of lines discounted (give or take sampling noise).
        let lines: Vec<&str> = data
            .tables
            .iter()
            .find(|t| t.table == "order_items")
            .unwrap()
            .copy_text
            .lines()
            .collect();
        let discounted = lines
            .iter()
            .filter(|l| l.split('\t').nth(6) != Some("0"))
            .count();
        let share = discounted as f64 / lines.len() as f64;
        assert!((0.14..0.16).contains(&share), "{share}");
    }
}
