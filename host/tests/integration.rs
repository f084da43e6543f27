//! Every integration test of the host, in one test binary: one link of the
//! host instead of one per file (each link is ~120 MB and most of a minute on
//! two cores), and one PostgreSQL cluster with its seeded template for all of
//! them (`support::pg::cluster`). Each module is one subject; run one with
//! `cargo test -p mcp-host --test integration MODULE::`.

mod support;

mod allowlist;
mod audit;
mod cli;
mod database;
mod edges;
mod embeddings_wire;
mod entra;
mod fairness;
mod faults;
mod hostile;
mod hot_swap;
mod http_attacks;
mod languages;
mod loading;
mod mcp_client;
mod memory;
mod observability;
mod offers;
mod policy;
mod postgres_tls;
mod rate_limits;
mod replicas;
mod secrets_in_logs;
mod semantic_search;
mod sql_attacks;
mod sql_tools;
mod store_layout;
mod transport;
