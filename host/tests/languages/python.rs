//! Python components (see main.rs).
