//! JSON Schemas of argument and output types, derived with `schemars`.

use schemars::JsonSchema;
use schemars::generate::{Contract, SchemaSettings};
use serde_json::Value;

/// The input schema of an argument type: how it *deserialises*.
///
/// An optional argument (`Option<T>`, not required) is declared as `T`: the
/// SDK takes a top-level `null` for "absent" anyway (see
/// [`parse_arguments`](crate::parse_arguments)), and a plain type reads
/// better to an assistant (and to providers that know no type lists).
pub fn input_schema<T: JsonSchema>() -> Value {
    let mut schema = generate::<T>(Contract::Deserialize);
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        for (name, property) in properties.iter_mut() {
            if !required.contains(name) {
                drop_null(property);
            }
        }
    }
    schema
}

/// The output schema of a result type: how it *serialises*.
pub fn output_schema<T: JsonSchema>() -> Value {
    generate::<T>(Contract::Serialize)
}

/// A draft 2020-12 schema (MCP's default dialect, so no `$schema`) with every
/// subschema inlined (recursive types keep a `$ref` into `$defs`); without a
/// root `title` and `description` (schemars takes them from the Rust type's
/// name and doc comment, which are written for developers: the tool's
/// description is what the assistant reads), and without the Rust integer
/// and float `format`s (`uint32`, `double`, ...), which are no JSON Schema
/// formats (the range they imply stays, as minimum/maximum). Doc comments
/// of fields stay: they describe the properties.
fn generate<T: JsonSchema>(contract: Contract) -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.meta_schema = None;
        s.inline_subschemas = true;
        s.contract = contract;
    });
    let mut schema = settings
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    if let Value::Object(root) = &mut schema {
        root.remove("title");
        root.remove("description");
    }
    drop_rust_formats(&mut schema);
    schema
}

/// `{"type": ["string", "null"]}` -> `{"type": "string"}`; `null` out of an
/// `enum`; `{"anyOf": [S, {"type": "null"}]}` -> `S` (with the siblings of
/// `anyOf`, e.g. `description` and `default`).
fn drop_null(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            map.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(values)) = map.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    if let Some(Value::Array(choices)) = map.get_mut("anyOf") {
        choices.retain(|c| c.get("type").and_then(Value::as_str) != Some("null"));
        if choices.len() == 1
            && let Some(Value::Object(only)) = choices.pop()
        {
            map.remove("anyOf");
            for (keyword, value) in only {
                map.entry(keyword).or_insert(value);
            }
        }
    }
}

const RUST_FORMATS: &[&str] = &[
    "int", "int8", "int16", "int32", "int64", "int128", "uint", "uint8", "uint16", "uint32",
    "uint64", "uint128", "float", "double",
];

fn drop_rust_formats(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    if map
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| RUST_FORMATS.contains(&f))
    {
        map.remove("format");
    }
    for (keyword, value) in map.iter_mut() {
        match (keyword.as_str(), value) {
            // Maps from names to schemas.
            (
                "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas",
                Value::Object(schemas),
            ) => schemas.values_mut().for_each(drop_rust_formats),
            // Values, not schemas: leave them as they are.
            ("default" | "const" | "enum" | "examples", _) => {}
            // A schema (`items`, `not`, ...) or a list of them (`anyOf`, ...).
            (_, Value::Array(schemas)) => schemas.iter_mut().for_each(drop_rust_formats),
            (_, value) => drop_rust_formats(value),
        }
    }
}
