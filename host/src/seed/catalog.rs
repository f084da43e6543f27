//! The Zava catalogue: ~400 products in 9 categories, written for this
//! project (`catalog.json`). SKUs, costs and margins are derived here,
//! deterministically.

use serde::Deserialize;

use super::SeedError;
use super::rng::Rng;

/// The categories in their fixed order (category ids 1..=9).
pub const CATEGORIES: &[&str] = &[
    "Hand Tools",
    "Power Tools",
    "Paint & Finishes",
    "Hardware",
    "Lumber & Building Materials",
    "Electrical",
    "Plumbing",
    "Garden & Outdoor",
    "Storage & Organization",
];

const SKU_PREFIX: &[&str] = &["HT", "PT", "PF", "HW", "LB", "EL", "PL", "GO", "SO"];

#[derive(Debug, Deserialize)]
struct Entry {
    category: String,
    #[serde(rename = "type")]
    type_name: String,
    name: String,
    price: f64,
    description: String,
}

#[derive(Debug, Clone)]
pub struct ProductType {
    pub id: i32,
    pub category_id: i32,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub id: i32,
    pub sku: String,
    pub name: String,
    pub category_id: i32,
    pub type_id: i32,
    /// Prices in cents, so that sums stay exact.
    pub cost_cents: i64,
    pub price_cents: i64,
    pub description: String,
}

impl Product {
    /// `(price - cost) / price * 100`, two decimals, as text.
    pub fn margin_text(&self) -> String {
        let basis_points = (self.price_cents - self.cost_cents) * 10_000 / self.price_cents;
        format!("{}.{:02}", basis_points / 100, basis_points % 100)
    }
}

pub struct Catalog {
    pub types: Vec<ProductType>,
    pub products: Vec<Product>,
}

impl Catalog {
    pub fn load(rng: &mut Rng) -> Result<Self, SeedError> {
        let entries: Vec<Entry> = serde_json::from_str(include_str!("catalog.json"))
            .map_err(|e| SeedError::BuiltIn(format!("the built-in catalogue is damaged: {e}")))?;
        let mut types: Vec<ProductType> = Vec::new();
        let mut products = Vec::with_capacity(entries.len());
        let mut per_type_count: Vec<usize> = Vec::new();
        for entry in entries {
            let category_index = CATEGORIES
                .iter()
                .position(|c| *c == entry.category)
                .ok_or_else(|| {
                    SeedError::BuiltIn(format!(
                        "unknown category {:?} in the catalogue",
                        entry.category
                    ))
                })?;
            let category_id = category_index as i32 + 1;
            let type_index = match types
                .iter()
                .position(|t| t.category_id == category_id && t.name == entry.type_name)
            {
                Some(index) => index,
                None => {
                    types.push(ProductType {
                        id: types.len() as i32 + 1,
                        category_id,
                        name: entry.type_name.clone(),
                    });
                    per_type_count.push(0);
                    types.len() - 1
                }
            };
            per_type_count[type_index] += 1;
            let type_number = types[..=type_index]
                .iter()
                .filter(|t| t.category_id == category_id)
                .count();
            let price_cents = (entry.price * 100.0).round() as i64;
            // Margins of a DIY retailer: 25-55 %, thinner on big-ticket items.
            let margin = if price_cents > 30_000 {
                0.22 + rng.unit() * 0.13
            } else {
                0.30 + rng.unit() * 0.25
            };
            let cost_cents = ((price_cents as f64) * (1.0 - margin)).round() as i64;
            products.push(Product {
                id: products.len() as i32 + 1,
                sku: format!(
                    "{}{:02}{:03}",
                    SKU_PREFIX[category_index], type_number, per_type_count[type_index]
                ),
                name: entry.name,
                category_id,
                type_id: types[type_index].id,
                cost_cents,
                price_cents,
                description: entry.description,
            });
        }
        Ok(Self { types, products })
    }

    pub fn in_category(&self, category_id: i32) -> Vec<&Product> {
        self.products
            .iter()
            .filter(|p| p.category_id == category_id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_complete_and_distinct() {
        let catalog = Catalog::load(&mut Rng::new(1)).unwrap();
        assert!((390..=420).contains(&catalog.products.len()));
        for id in 1..=CATEGORIES.len() as i32 {
            assert!(catalog.in_category(id).len() >= 30, "category {id}");
        }
        let mut skus: Vec<&str> = catalog.products.iter().map(|p| p.sku.as_str()).collect();
        skus.sort();
        skus.dedup();
        assert_eq!(skus.len(), catalog.products.len(), "SKUs are unique");
        for p in &catalog.products {
            assert!(
                p.cost_cents > 0 && p.cost_cents < p.price_cents,
                "{}",
                p.name
            );
            assert!(p.description.len() > 100, "{}", p.name);
        }
    }
}
