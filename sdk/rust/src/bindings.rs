//! The WIT bindings (`wit/zava-mcp.wit`, `zava:mcp@0.2.0`), generated once
//! per exported interface so that a component exports exactly what it
//! offers:
//!
//! - [`tool_world`]: world `tool-component`. It owns the Rust types of every
//!   interface a component imports (`types`, `database`, `embeddings`,
//!   `caller`, `client`) and of the `tool` export.
//! - [`prompt_world`] (`prompt-component`) and [`resource_world`]
//!   (`resource-component`): their imports are taken from [`tool_world`]
//!   (`with`), so there is one `Content`, one `RequestError`, ... whatever a
//!   component exports.
//!
//! (One `server-component` binding beside `tool-component` would not do:
//! `wit-bindgen` generates an exported interface in every world that
//! exports it, ignoring `with`, so `tool` would exist twice, and its
//! `#[macro_export]` macro twice in this crate.)
//!
//! All three use `pub_export_macro`: the custom section that describes a
//! world's *exports* is emitted only where its export macro is invoked (in
//! the component crate, by [`crate::export!`]); the sections linked in from
//! this crate describe imports only. `wit-component` unions every section it
//! finds (tool + prompts + resources = `server-component`) and drops the
//! imports a component never calls.

#![allow(missing_docs, clippy::all)]

pub mod tool_world {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "tool-component",
        pub_export_macro: true,
        export_macro_name: "__export_tool_component",
        runtime_path: "::zava_tool::__private::wit_bindgen::rt",
    });
}

pub mod prompt_world {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "prompt-component",
        pub_export_macro: true,
        export_macro_name: "__export_prompt_component",
        runtime_path: "::zava_tool::__private::wit_bindgen::rt",
        with: {
            "zava:mcp/types@0.2.0": crate::bindings::tool_world::zava::mcp::types,
            "zava:mcp/database@0.2.0": crate::bindings::tool_world::zava::mcp::database,
            "zava:mcp/embeddings@0.2.0": crate::bindings::tool_world::zava::mcp::embeddings,
            "zava:mcp/caller@0.2.0": crate::bindings::tool_world::zava::mcp::caller,
            "zava:mcp/client@0.2.0": crate::bindings::tool_world::zava::mcp::client,
        },
    });
}

pub mod resource_world {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "resource-component",
        pub_export_macro: true,
        export_macro_name: "__export_resource_component",
        runtime_path: "::zava_tool::__private::wit_bindgen::rt",
        with: {
            "zava:mcp/types@0.2.0": crate::bindings::tool_world::zava::mcp::types,
            "zava:mcp/database@0.2.0": crate::bindings::tool_world::zava::mcp::database,
            "zava:mcp/embeddings@0.2.0": crate::bindings::tool_world::zava::mcp::embeddings,
            "zava:mcp/caller@0.2.0": crate::bindings::tool_world::zava::mcp::caller,
            "zava:mcp/client@0.2.0": crate::bindings::tool_world::zava::mcp::client,
        },
    });
}
