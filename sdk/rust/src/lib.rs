//! `zava-tool`: write an MCP tool component for `mcp-host` in Rust as plain
//! functions. It targets `zava:mcp@0.2.0` (`wit/zava-mcp.wit`) and builds
//! for `wasm32-wasip2`; a component needs no `wit-bindgen` of its own.
//!
//! ```
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//! use zava_tool::{Structured, Tool, ToolError, Tools, caller};
//!
//! /// The arguments: their JSON Schema is derived (doc comments become
//! /// descriptions), and the client's JSON is deserialised into them.
//! #[derive(Deserialize, JsonSchema)]
//! #[serde(deny_unknown_fields)]
//! struct Args {
//!     /// Who to greet
//!     name: String,
//! }
//!
//! /// The structured result: its JSON Schema is the tool's output schema.
//! #[derive(Serialize, JsonSchema)]
//! struct Greeting {
//!     greeting: String,
//! }
//!
//! fn greet(args: Args) -> Result<Structured<Greeting>, ToolError> {
//!     let greeting = format!("Hello, {}!", args.name);
//!     Ok(Structured::new(Greeting { greeting: greeting.clone() }).with_text(greeting))
//! }
//!
//! struct Component;
//!
//! impl Tools for Component {
//!     fn tools() -> Vec<Tool> {
//!         vec![Tool::new("greet", greet)
//!             .title("Greet")
//!             .description("Greets someone.")
//!             .read_only(true)]
//!     }
//! }
//!
//! zava_tool::export!(Component);
//! ```
//!
//! # Tools
//!
//! A [`Tool`] is declared once: [`Tool::new`] takes its name and its
//! function, the builder its title, description, `read_only` and MCP App
//! (`app("ui://...")`). Calls are routed by that name; nothing else has to
//! match it.
//!
//! - **Arguments**: the function's argument type `A: Deserialize +
//!   JsonSchema` gives the input schema (derived with `schemars`, draft
//!   2020-12, subschemas inlined; it must be an object schema: a struct with
//!   named fields, or [`NoArgs`]). Arguments that do not deserialise are
//!   `invalid-arguments` with serde's message and the argument's path (see
//!   [`parse_arguments`]). Checks serde cannot express (ranges, non-empty
//!   text) go in the function: return [`ToolError::invalid_arguments`].
//!   `#[serde(deny_unknown_fields)]` refuses unknown arguments and makes
//!   the schema say `"additionalProperties": false`.
//! - **Results**: the function returns `Result<O, ToolError>` where `O:`
//!   [`IntoOutput`]: [`Structured<T>`] (`T: Serialize + JsonSchema`) gives
//!   `structuredContent`, the output schema derived from `T`, and a text
//!   block (the JSON, or [`Structured::with_text`]); a `String` is one text
//!   block; `Vec<`[`types::Content`]`>` any blocks (images, resources, ...).
//! - **Schemas by hand**: a type whose schema cannot be derived (say, JSON
//!   built elsewhere) implements [`schemars::JsonSchema`] itself with
//!   [`schemars::json_schema!`]; the output schema of sales-sql's
//!   `get_multiple_table_schemas` is written that way.
//! - **Errors**: [`ToolError::Failed`] for failures; `?` converts any
//!   [`std::error::Error`] (e.g. [`db::Error`]) into it, and [`Context`]
//!   adds what was being done (`.context("cannot embed the request")?`),
//!   for `Option`s and errors that only display (`String`, `anyhow`) too.
//!
//! # Exports: which world
//!
//! The type given to [`export!`] decides what the component exports, and
//! so what the host sees it offer:
//!
//! | invocation | the type implements | exports |
//! |---|---|---|
//! | `export!(C)` | [`Tools`] | `tool` (world `tool-component`) |
//! | `export!(C: tools, prompts, resources)` | [`Tools`], [`prompts::Guest`], [`resources::Guest`] | all three (world `server-component`) |
//! | `export!(C: tools, resources)` | [`Tools`], [`resources::Guest`] | `tool` and `resources` |
//! | `export!(C: prompts)` | [`prompts::Guest`] | `prompts` (world `prompt-component`) |
//!
//! The SDK implements the WIT `tool` interface for every [`Tools`] type;
//! prompts and resources are written by hand against the re-exported
//! bindings ([`prompts`], [`resources`]), with the same types as the rest
//! (one [`types::Content`] everywhere).
//!
//! How: the crate generates bindings for the worlds `tool-component`,
//! `prompt-component` and `resource-component` (the last two reuse the first
//! one's types and imports through `wit-bindgen`'s `with`), each with
//! `pub_export_macro`. `wit-bindgen` then emits the custom section that
//! describes a world's *exports* only where that world's export macro is
//! invoked, i.e. in the component crate by [`export!`], once per offer; the
//! sections linked in from this crate describe imports only.
//! `wit-component` unions the sections it finds (tool ∪ prompts ∪ resources
//! is exactly `server-component`) and drops the imports a component never
//! calls, so a component imports only what it uses (an operator's policy
//! sees `imports = []` for a tool that touches no import) and offers only
//! what it implements: no empty prompt or resource lists.
//!
//! # Imports
//!
//! Every import runs as the MCP caller of the current request:
//!
//! - [`db::query`] (the `database` import, with [`db::Error`] messages and
//!   `From` conversions into [`db::SqlValue`]: `&[42.into(), "x".into()]`);
//! - [`embeddings`] (`model`, `embed`, [`embeddings::embed_one`]);
//! - [`caller::scope`] and [`caller::log`] (the host's log);
//! - [`client::log`] and [`client::progress`] (notifications to the caller).
//!
//! The raw bindings are re-exported as [`types`], [`database`],
//! [`embeddings`], [`caller`] and [`client`].
//!
//! # Native builds
//!
//! The crate compiles for the host too, so that `cargo clippy --workspace`
//! and `cargo test` work: imports then panic if called (`unreachable`), and
//! declarations, schemas, argument parsing and outputs can be unit-tested
//! ([`Tool::definition`], [`Tool::call`] for tools that use no import,
//! [`parse_arguments`]).

extern crate self as zava_tool;

#[doc(hidden)]
pub mod bindings;

mod args;
pub mod caller;
pub mod client;
pub mod db;
pub mod embeddings;
mod error;
mod output;
mod schema;
mod tool;

pub use args::{NoArgs, parse_arguments};
pub use error::{Context, ToolError};
pub use output::{IntoOutput, Structured};
pub use tool::{Tool, Tools, call_tool};

/// The WIT `tool` records: what `list-tools` and `call-tool` return.
pub use bindings::tool_world::exports::zava::mcp::tool::{ToolDef, ToolOutput};

/// The WIT `types` interface: SQL values and row sets, content blocks,
/// resource contents, request errors.
pub mod types {
    pub use crate::bindings::tool_world::zava::mcp::types::*;
}

/// The raw `database` import (see [`crate::db`] for the wrapper).
pub mod database {
    pub use crate::bindings::tool_world::zava::mcp::database::*;
}

/// The `prompts` export, to implement by hand: `impl prompts::Guest for C`,
/// then `export!(C: tools, prompts)` (see the [crate docs](crate)).
pub mod prompts {
    pub use crate::bindings::prompt_world::exports::zava::mcp::prompts::*;
}

/// The `resources` export, to implement by hand: `impl resources::Guest for
/// C`, then `export!(C: tools, resources)` (see the [crate docs](crate)).
pub mod resources {
    pub use crate::bindings::resource_world::exports::zava::mcp::resources::*;
}

/// What a tool module usually needs.
pub mod prelude {
    pub use crate::types::Content;
    pub use crate::{Context, NoArgs, Structured, Tool, ToolError, Tools};
}

pub use schemars;
pub use serde;
pub use serde_json;

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}

/// Exports a component's offers (see [Exports](crate#exports-which-world)).
///
/// - `export!(Component)`: tools only (world `tool-component`);
///   `Component: Tools`.
/// - `export!(Component: tools, prompts, resources)`: any of the three, in
///   any order (all three: world `server-component`); `tools` needs
///   `Component: Tools`, `prompts` an `impl prompts::Guest`, `resources` an
///   `impl resources::Guest`.
///
/// Invoke it once, in the component's crate (a `cdylib`).
#[macro_export]
macro_rules! export {
    ($component:ident) => {
        $crate::export!($component: tools);
    };
    ($component:ident : $($offer:ident),+ $(,)?) => {
        $( $crate::__export_offer!($component, $offer); )+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_offer {
    // The exports exist in the wasm32 build only: natively (clippy, unit
    // tests) a cdylib with WIT export names would not link, and nothing
    // could call them. The native stand-in still checks the impls and keeps
    // the component type from looking unused.
    ($component:ident, tools) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::tool_world::__export_tool_component!(
            $component with_types_in $crate::bindings::tool_world
        );
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            #[allow(dead_code)]
            fn exported() {
                let _ = <$component as $crate::Tools>::tools;
            }
        };
    };
    ($component:ident, prompts) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::prompt_world::__export_prompt_component!(
            $component with_types_in $crate::bindings::prompt_world
        );
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            #[allow(dead_code)]
            fn exported() {
                let _ = <$component as $crate::prompts::Guest>::list_prompts;
            }
        };
    };
    ($component:ident, resources) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::resource_world::__export_resource_component!(
            $component with_types_in $crate::bindings::resource_world
        );
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            #[allow(dead_code)]
            fn exported() {
                let _ = <$component as $crate::resources::Guest>::list_resources;
            }
        };
    };
    ($component:ident, $other:ident) => {
        compile_error!(concat!(
            "zava_tool::export!: `",
            stringify!($other),
            "` is not an offer; use tools, prompts or resources"
        ));
    };
}
