//! `semantic_search_products`: products whose descriptions mean what the
//! assistant asks for, compatible with the classic sample (similarity
//! percent = (1 - cosine distance) * 100, `max_rows` 20, threshold 30),
//! plus filters (category, price range, in stock where the caller may see
//! stock — Row Level Security decides) and a hybrid mode that fuses vector
//! and full-text ranks (reciprocal rank fusion).
//!
//! The query text is embedded by the host (`embeddings` import: the local
//! model, Azure OpenAI or an OpenAI-compatible endpoint); the search runs as
//! the caller through the `database` import.

mod arguments;
mod search;

wit_bindgen::generate!({
    path: "../../wit/v0.1",
    world: "tool-component",
});

use exports::zava::mcp::tool::{Guest, ToolDef, ToolError, ToolOutput};

const NAME: &str = "semantic_search_products";

struct Component;

impl Guest for Component {
    fn list_tools() -> Vec<ToolDef> {
        vec![ToolDef {
            name: NAME.into(),
            title: Some("Find Zava products by meaning".into()),
            description: "Find products whose descriptions match a natural-language request \
                (e.g. 'waterproof electrical connectors', 'something to seal a cedar deck'), \
                ranked by similarity percent (100 = identical meaning). Use it to discover \
                product names, SKUs and ids before writing sales SQL about them. Optional \
                filters: category (one of the 9 category names), min_price / max_price (base \
                price in USD), in_stock (only products with stock at a store you may see). \
                mode 'hybrid' also ranks by the words themselves (good for names, sizes and \
                model numbers); 'vector' (default) ranks by meaning only."
                .into(),
            input_schema: arguments::schema().to_string(),
            output_schema: Some(search::output_schema().to_string()),
            read_only: true,
        }]
    }

    fn call_tool(name: String, arguments: String) -> Result<ToolOutput, ToolError> {
        if name != NAME {
            return Err(ToolError::InvalidArguments(format!(
                "this component has no tool `{name}`"
            )));
        }
        let arguments = arguments::parse(&arguments)?;
        search::run(&arguments)
    }
}

export!(Component);
