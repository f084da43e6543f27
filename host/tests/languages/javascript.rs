//! JavaScript components (see main.rs).
