//! The Zava demo data, generated deterministically from a seed: stores and
//! their managers, customers, the catalogue, inventory, and seven years of
//! orders with yearly growth and Washington State seasonality per category.
//!
//! Output is COPY text per table, in load order.

use time::{Date, Month};

use super::catalog::{CATEGORIES, Catalog};
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

const FIRST_NAMES: &[&str] = &[
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Oliver",
    "Sophia",
    "Elijah",
    "Isabella",
    "James",
    "Mia",
    "William",
    "Amelia",
    "Benjamin",
    "Harper",
    "Lucas",
    "Evelyn",
    "Henry",
    "Abigail",
    "Theodore",
    "Emily",
    "Jack",
    "Ella",
    "Levi",
    "Elizabeth",
    "Alexander",
    "Camila",
    "Jackson",
    "Luna",
    "Mateo",
    "Sofia",
    "Daniel",
    "Avery",
    "Michael",
    "Mila",
    "Mason",
    "Aria",
    "Sebastian",
    "Scarlett",
    "Ethan",
    "Penelope",
    "Logan",
    "Layla",
    "Owen",
    "Chloe",
    "Samuel",
    "Victoria",
    "Jacob",
    "Madison",
    "Asher",
    "Eleanor",
    "Aiden",
    "Grace",
    "John",
    "Nora",
    "Joseph",
    "Riley",
    "Wyatt",
    "Zoey",
    "David",
    "Hannah",
    "Leo",
    "Hazel",
    "Luke",
    "Lily",
    "Julian",
    "Ellie",
    "Hudson",
    "Violet",
    "Grayson",
    "Lillian",
    "Matthew",
    "Zoe",
    "Ezra",
    "Stella",
    "Gabriel",
    "Aurora",
    "Carter",
    "Natalie",
    "Isaac",
    "Emilia",
    "Jayden",
    "Everly",
    "Luca",
    "Leah",
    "Anthony",
    "Aubrey",
    "Dylan",
    "Willow",
    "Lincoln",
    "Addison",
    "Thomas",
    "Lucy",
    "Maverick",
    "Audrey",
    "Elias",
    "Bella",
    "Josiah",
    "Nova",
    "Charles",
    "Brooklyn",
    "Caleb",
    "Paisley",
    "Christopher",
    "Savannah",
    "Ezekiel",
    "Claire",
    "Miles",
    "Skylar",
    "Jaxon",
    "Isla",
    "Isaiah",
    "Genesis",
    "Andrew",
    "Naomi",
    "Joshua",
    "Elena",
    "Nathan",
    "Caroline",
    "Nolan",
    "Eliana",
    "Adrian",
    "Anna",
    "Cameron",
    "Maya",
    "Santiago",
    "Valentina",
    "Eli",
    "Ruby",
    "Aaron",
    "Kennedy",
    "Ryan",
    "Ivy",
    "Angel",
    "Ariana",
    "Cooper",
    "Aaliyah",
    "Waylon",
    "Cora",
    "Easton",
    "Madelyn",
    "Kai",
    "Alice",
    "Christian",
    "Kinsley",
    "Landon",
    "Hailey",
    "Colton",
    "Gabriella",
    "Roman",
    "Allison",
    "Axel",
    "Gianna",
    "Brooks",
    "Serenity",
    "Jonathan",
    "Samantha",
    "Robert",
    "Sarah",
    "Jameson",
    "Quinn",
    "Ian",
    "Eva",
    "Everett",
    "Piper",
    "Greyson",
    "Sophie",
    "Wesley",
    "Sadie",
    "Jeremiah",
    "Delilah",
    "Hunter",
    "Josephine",
    "Leonardo",
    "Nevaeh",
    "Jordan",
    "Adeline",
    "Jose",
    "Arya",
    "Bennett",
    "Emery",
    "Silas",
    "Lydia",
    "Nicholas",
    "Clara",
    "Parker",
    "Vivian",
    "Beau",
    "Madeline",
    "Weston",
    "Peyton",
    "Austin",
    "Julia",
    "Connor",
    "Rylee",
    "Carson",
    "Brielle",
    "Dominic",
    "Reagan",
    "Xavier",
    "Natalia",
    "Jaxson",
    "Jade",
    "Jace",
    "Athena",
    "Emmett",
    "Maria",
    "Adam",
    "Leilani",
    "Declan",
    "Everleigh",
    "Rowan",
    "Liliana",
    "Micah",
    "Melanie",
    "Kayden",
    "Mackenzie",
    "Gael",
    "Hadley",
    "River",
    "Raelynn",
    "Ryder",
    "Kaylee",
    "Kingston",
    "Rose",
    "Damian",
    "Arianna",
    "Sawyer",
    "Isabelle",
    "Luka",
    "Melody",
    "Evan",
    "Eliza",
    "Vincent",
    "Lyla",
    "Legend",
    "Katherine",
    "Myles",
    "Aubree",
    "Harrison",
    "Adalynn",
    "August",
    "Kylie",
    "Bryson",
    "Faith",
    "Amir",
    "Mary",
    "Giovanni",
    "Margaret",
    "Chase",
    "Ximena",
    "Diego",
    "Iris",
    "Milo",
    "Alexandra",
    "Jasper",
    "Jasmine",
    "Ivan",
    "Charlie",
    "Kevin",
    "Amaya",
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
    "Price",
    "Alvarez",
    "Castillo",
    "Sanders",
    "Patel",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Jimenez",
    "Powell",
    "Jenkins",
    "Perry",
    "Russell",
    "Sullivan",
    "Bell",
    "Coleman",
    "Butler",
    "Henderson",
    "Barnes",
    "Gonzales",
    "Fisher",
    "Vasquez",
    "Simmons",
    "Romero",
    "Jordan",
    "Patterson",
    "Alexander",
    "Hamilton",
    "Graham",
    "Reynolds",
    "Griffin",
    "Wallace",
    "Moreno",
    "West",
    "Cole",
    "Hayes",
    "Bryant",
    "Herrera",
    "Gibson",
    "Ellis",
    "Tran",
    "Medina",
    "Aguilar",
    "Stevens",
    "Murray",
    "Ford",
    "Castro",
    "Marshall",
    "Owens",
    "Harrison",
    "Fernandez",
    "McDonald",
    "Woods",
    "Washington",
    "Kennedy",
    "Wells",
    "Vargas",
    "Henry",
    "Chen",
    "Freeman",
    "Webb",
    "Tucker",
    "Guzman",
    "Burns",
    "Crawford",
    "Olson",
    "Simpson",
    "Porter",
    "Hunter",
    "Gordon",
    "Mendez",
    "Silva",
    "Shaw",
    "Snyder",
    "Mason",
    "Dixon",
    "Munoz",
    "Hunt",
    "Hicks",
    "Holmes",
    "Palmer",
    "Wagner",
    "Black",
    "Robertson",
    "Boyd",
    "Rose",
    "Stone",
    "Salazar",
    "Fox",
    "Warren",
    "Mills",
    "Meyer",
    "Rice",
    "Schmidt",
    "Garza",
    "Daniels",
    "Ferguson",
    "Nichols",
    "Stephens",
    "Soto",
    "Weaver",
    "Ryan",
    "Gardner",
    "Payne",
    "Grant",
    "Dunn",
    "Kelley",
    "Spencer",
    "Hawkins",
    "Arnold",
    "Pierce",
    "Vazquez",
    "Hansen",
    "Peters",
    "Santos",
    "Hart",
    "Bradley",
    "Knight",
    "Elliott",
    "Cunningham",
    "Duncan",
    "Armstrong",
    "Hudson",
    "Carroll",
    "Lane",
    "Riley",
    "Andrews",
    "Alvarado",
    "Ray",
    "Delgado",
    "Berry",
    "Perkins",
    "Hoffman",
    "Johnston",
    "Matthews",
    "Pena",
    "Richards",
    "Contreras",
    "Willis",
    "Carpenter",
    "Lawrence",
    "Sandoval",
    "Yamamoto",
    "Nakamura",
    "Larsen",
    "Lindqvist",
    "Okafor",
    "Haugen",
];

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

pub fn generate(seed: u64, scale: Scale, id_key: &[u8; 32]) -> Result<Dataset, String> {
    let customer_ids = IdPermutation::new(id_key, "customers");
    let order_ids = IdPermutation::new(id_key, "orders");
    let item_ids = IdPermutation::new(id_key, "order_items");
    let root = Rng::new(seed);
    let catalog = Catalog::load(&mut root.fork(1))?;
    let mut tables = Vec::new();

    let mut stores = Table::new("stores", "store_id, store_name, is_online");
    for (i, (name, online, _)) in STORES.iter().enumerate() {
        stores.row(&[&(i + 1).to_string(), name, if *online { "t" } else { "f" }]);
    }
    tables.push(stores.done());

    let mut categories = Table::new("categories", "category_id, category_name");
    for (i, name) in CATEGORIES.iter().enumerate() {
        categories.row(&[&(i + 1).to_string(), &esc(name)]);
    }
    tables.push(categories.done());

    let mut types = Table::new("product_types", "type_id, category_id, type_name");
    for t in &catalog.types {
        types.row(&[&t.id.to_string(), &t.category_id.to_string(), &esc(&t.name)]);
    }
    tables.push(types.done());

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
    tables.push(products.done());

    // Customers, each with a home store.
    let mut rng = root.fork(2);
    let mut customers = Table::new(
        "customers",
        "customer_id, first_name, last_name, email, phone, primary_store_id, created_at",
    );
    let mut by_store: Vec<Vec<i32>> = vec![Vec::new(); STORES.len()];
    let first_day = Date::from_calendar_date(2019, Month::June, 1).map_err(|e| e.to_string())?;
    for n in 1..=scale.customers as u32 {
        let id = customer_ids.id(n);
        let store = rng.weighted(STORE_WEIGHT);
        by_store[store].push(id);
        let first = *rng.pick(FIRST_NAMES);
        let last = *rng.pick(LAST_NAMES);
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
    tables.push(customers.done());

    // Inventory: every store stocks every product; a few are out of stock.
    let mut rng = root.fork(3);
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
    tables.push(inventory.done());

    // Orders and their lines.
    let mut rng = root.fork(4);
    let mut orders = Table::new("orders", "order_id, customer_id, store_id, order_date");
    let mut items = Table::new(
        "order_items",
        "order_item_id, order_id, store_id, product_id, quantity, unit_price, discount_percent, discount_amount, total_amount",
    );
    let by_category: Vec<Vec<&super::catalog::Product>> = (1..=CATEGORIES.len() as i32)
        .map(|c| catalog.in_category(c))
        .collect();
    // Popularity within a category: a few best sellers, a long tail.
    let popularity: Vec<Vec<f64>> = by_category
        .iter()
        .map(|products| {
            (0..products.len())
                .map(|_| 0.2 + rng.unit().powi(3) * 3.0)
                .collect()
        })
        .collect();
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
    // Orders per day in the first year, before seasonality (mean season 1.0).
    let base_per_day = scale.orders / growth_total;
    let month_volume: Vec<f64> = (0..12)
        .map(|m| {
            let sum: f64 = (0..9).map(|c| SEASON[c][m] * CATEGORY_WEIGHT[c]).sum();
            sum / CATEGORY_WEIGHT.iter().sum::<f64>()
        })
        .collect();
    let mut order_n = 0u32;
    let mut item_n = 0u32;
    let mut day =
        Date::from_calendar_date(FIRST_YEAR, Month::January, 1).map_err(|e| e.to_string())?;
    let last_day =
        Date::from_calendar_date(LAST_YEAR, Month::December, 31).map_err(|e| e.to_string())?;
    while day <= last_day {
        let month = u8::from(day.month()) as usize - 1;
        let year_index = day.year() - FIRST_YEAR;
        let weekend = matches!(
            day.weekday(),
            time::Weekday::Saturday | time::Weekday::Sunday
        );
        let mean = base_per_day
            * GROWTH.powi(year_index)
            * month_volume[month]
            * if weekend { 1.3 } else { 0.88 };
        let count = rng.poisson(mean);
        let date_text = day.to_string();
        let category_weights: Vec<f64> = (0..9)
            .map(|c| SEASON[c][month] * CATEGORY_WEIGHT[c])
            .collect();
        for _ in 0..count {
            order_n += 1;
            let order_id = order_ids.id(order_n);
            let store = rng.weighted(STORE_WEIGHT);
            // Most buy at their home store; some shop elsewhere (or online).
            let customer = if rng.chance(0.85) && !by_store[store].is_empty() {
                *rng.pick(&by_store[store])
            } else {
                customer_ids.id(rng.between(1, scale.customers as i64) as u32)
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
                let item_id = item_ids.id(item_n);
                let category = rng.weighted(&category_weights);
                let product = by_category[category][rng.weighted(&popularity[category])];
                let quantity: i64 = if product.price_cents < 2_000 {
                    1 + rng.weighted(&[0.45, 0.25, 0.15, 0.1, 0.05]) as i64
                } else if product.price_cents < 10_000 {
                    1 + rng.weighted(&[0.75, 0.18, 0.07]) as i64
                } else {
                    1
                };
                // Unit price within +-5 % of base price.
                let unit =
                    ((product.price_cents as f64) * (0.95 + rng.unit() * 0.10)).round() as i64;
                let discount_percent: i64 = if rng.chance(0.15) {
                    *rng.pick(&[5, 10, 10, 15, 20, 25])
                } else {
                    0
                };
                let gross = unit * quantity;
                let discount = (gross * discount_percent + 50) / 100;
                items.row(&[
                    &item_id.to_string(),
                    &order_id.to_string(),
                    &(store + 1).to_string(),
                    &product.id.to_string(),
                    &quantity.to_string(),
                    &cents(unit),
                    &discount_percent.to_string(),
                    &cents(discount),
                    &cents(gross - discount),
                ]);
            }
        }
        day = day.next_day().ok_or("date overflow")?;
    }
    tables.push(orders.done());
    tables.push(items.done());
    Ok(Dataset { tables })
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
