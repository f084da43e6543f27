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

use zava_tool::{Structured, Tool, ToolError, Tools};

fn semantic_search(args: arguments::Arguments) -> Result<Structured<search::Found>, ToolError> {
    search::run(&args.check()?)
}

struct Component;

impl Tools for Component {
    fn tools() -> Vec<Tool> {
        vec![
            Tool::new("semantic_search_products", semantic_search)
                .title("Find Zava products by meaning")
                .description(
                    "Find products whose descriptions match a natural-language request \
                     (e.g. 'waterproof electrical connectors', 'something to seal a cedar deck'), \
                     ranked by similarity percent (100 = identical meaning). Use it to discover \
                     product names, SKUs and ids before writing sales SQL about them. Optional \
                     filters: category (one of the 9 category names), min_price / max_price (base \
                     price in USD), in_stock (only products with stock at a store you may see). \
                     mode 'hybrid' also ranks by the words themselves (good for names, sizes and \
                     model numbers); 'vector' (default) ranks by meaning only.",
                )
                .read_only(true),
        ]
    }
}

zava_tool::export!(Component);
