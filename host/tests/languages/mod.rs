//! Components written in Python (componentize-py) and JavaScript
//! (componentize-js) next to Rust ones: each loads, lists, answers as a
//! store manager (one store) and as head office (eight), hot-swaps, refuses
//! bad arguments, and is contained like a Rust component when it loops or
//! allocates without end.

mod javascript;
mod python;
mod scaffold;
