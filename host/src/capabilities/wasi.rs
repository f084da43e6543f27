//! The WASI a tool component gets: clocks, random, stdout/stderr that go to
//! the host's log, and an empty environment. Nothing else: no filesystem,
//! sockets, environment variables, arguments or stdin. The Rust standard
//! library of a guest still *imports* some of those interfaces; the loader
//! defines every withheld import as a trap ([`withhold_unlinked`]), so a
//! component that tries to use one fails that call, clearly.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::HostState;

/// Most bytes of stdout/stderr one call may log; the rest is dropped.
const MAX_OUTPUT_PER_CALL: usize = 16 * 1024;
/// How much of stderr's end is kept to explain a crash (Rust panics print there).
const STDERR_TAIL: usize = 2048;

pub struct WasiState {
    ctx: WasiCtx,
    table: ResourceTable,
    stderr_tail: Arc<Mutex<Vec<u8>>>,
}

impl WasiState {
    /// A WASI context that grants nothing beyond clocks and random numbers.
    pub fn new(component: &Arc<str>) -> Self {
        let stderr_tail = Arc::new(Mutex::new(Vec::new()));
        let mut builder = WasiCtx::builder();
        builder
            .stdout(LogOutput::new(component.clone(), "stdout", None))
            .stderr(LogOutput::new(
                component.clone(),
                "stderr",
                Some(stderr_tail.clone()),
            ))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        Self {
            ctx: builder.build(),
            table: ResourceTable::new(),
            stderr_tail,
        }
    }

    /// The last lines the component wrote to stderr (e.g. a panic message).
    pub fn stderr_tail(&self) -> String {
        let tail = self
            .stderr_tail
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default();
        String::from_utf8_lossy(&tail).trim().to_string()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi.ctx,
            table: &mut self.wasi.table,
        }
    }
}

/// Links wasi:io, wasi:clocks, wasi:random and wasi:cli/std{in,out,err}
/// (stdin is empty): wasmtime's "proxy" subset plus the insecure random
/// interfaces Rust's `HashMap` seeding uses, and wasi:cli/environment backed
/// by an *empty* environment (no variables, arguments or cwd): Rust's panic
/// handler reads `RUST_BACKTRACE`, and without it a panic would surface as an
/// environment trap instead of its message. No filesystem or sockets.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::p2::bindings::cli::environment;
    use wasmtime_wasi::p2::bindings::random::{insecure, insecure_seed};
    use wasmtime_wasi::random::WasiRandom;
    wasmtime_wasi::p2::add_to_linker_proxy_interfaces_async(linker)?;
    environment::add_to_linker::<HostState, WasiCli>(linker, HostState::cli)?;
    insecure::add_to_linker::<HostState, WasiRandom>(linker, |s| s.wasi.ctx.random())?;
    insecure_seed::add_to_linker::<HostState, WasiRandom>(linker, |s| s.wasi.ctx.random())?;
    Ok(())
}

/// The WASI interfaces [`add_to_linker`] provides (any 0.2.x version).
const PROVIDED: &[&str] = &[
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/environment",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
];

/// True for a WASI import we deliberately do not provide.
pub fn is_withheld(import: &str) -> bool {
    let unversioned = import.split('@').next().unwrap_or(import);
    import.starts_with("wasi:") && !PROVIDED.contains(&unversioned)
}

/// Defines every withheld WASI import of `component` (filesystem, sockets,
/// environment, exit, ...) as functions that trap with a message naming the
/// import. The Rust standard library imports some of them even when unused,
/// so refusing to link would refuse every component.
///
/// (wasmtime's own `define_unknown_imports_as_traps` is not used: it also
/// stubs imports we *do* provide under an older 0.2.x name, shadowing the
/// semver-compatible real definition.)
pub fn withhold_unlinked(
    linker: &mut Linker<HostState>,
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
) -> wasmtime::Result<()> {
    use wasmtime::component::ResourceType;
    use wasmtime::component::types::ComponentItem;

    let ty = component.component_type();
    // Resources a withheld interface merely `use`s from a provided one (e.g.
    // filesystem's `input-stream`, which is wasi:io's) must keep their real
    // type, so they are not stubbed.
    let provided_resources: Vec<ResourceType> = ty
        .imports(engine)
        .filter(|(name, _)| !is_withheld(name))
        .filter_map(|(_, item)| match item.ty {
            ComponentItem::ComponentInstance(instance) => Some(instance),
            _ => None,
        })
        .flat_map(|instance| {
            instance
                .exports(engine)
                .filter_map(|(_, item)| match item.ty {
                    ComponentItem::Resource(resource) => Some(resource),
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
        .collect();
    for (name, item) in ty.imports(engine) {
        if !is_withheld(name) {
            continue;
        }
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            continue;
        };
        let mut stub = linker.instance(name)?;
        for (export, item) in instance.exports(engine) {
            match item.ty {
                ComponentItem::ComponentFunc(_) => {
                    let qualified = format!("{name}#{export}");
                    stub.func_new(export, move |_, _, _, _| {
                        wasmtime::bail!("unknown import: `{qualified}` has not been defined")
                    })?;
                }
                ComponentItem::Resource(resource) if !provided_resources.contains(&resource) => {
                    stub.resource(export, ResourceType::host::<()>(), |_, _| Ok(()))?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_withheld;

    #[test]
    fn only_the_granted_wasi_subset_is_provided() {
        assert!(!is_withheld("wasi:clocks/wall-clock@0.2.6"));
        assert!(!is_withheld("wasi:io/streams@0.2.12"));
        assert!(!is_withheld("zava:mcp/database@0.1.0"));
        for withheld in [
            "wasi:filesystem/preopens@0.2.6",
            "wasi:sockets/tcp@0.2.0",
            "wasi:cli/exit@0.2.6",
            "wasi:http/outgoing-handler@0.2.0",
        ] {
            assert!(is_withheld(withheld), "{withheld}");
        }
    }
}

/// stdout/stderr of a component: each line becomes a log event.
#[derive(Clone)]
struct LogOutput {
    component: Arc<str>,
    stream: &'static str,
    tail: Option<Arc<Mutex<Vec<u8>>>>,
}

impl LogOutput {
    fn new(component: Arc<str>, stream: &'static str, tail: Option<Arc<Mutex<Vec<u8>>>>) -> Self {
        Self {
            component,
            stream,
            tail,
        }
    }
}

impl IsTerminal for LogOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineLogger {
            out: self.clone(),
            pending: Vec::new(),
            written: 0,
        })
    }
}

struct LineLogger {
    out: LogOutput,
    pending: Vec<u8>,
    written: usize,
}

impl LineLogger {
    fn emit(&self, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end();
        if !line.is_empty() {
            tracing::info!(target: "component", component = &*self.out.component, stream = self.out.stream, "{line}");
        }
    }

    fn take(&mut self, bytes: &[u8]) {
        if let Some(tail) = &self.out.tail
            && let Ok(mut tail) = tail.lock()
        {
            tail.extend_from_slice(bytes);
            let excess = tail.len().saturating_sub(STDERR_TAIL);
            tail.drain(..excess);
        }
        let room = MAX_OUTPUT_PER_CALL.saturating_sub(self.written);
        let accepted = &bytes[..bytes.len().min(room)];
        self.written += accepted.len();
        self.pending.extend_from_slice(accepted);
        while let Some(newline) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=newline).collect();
            self.emit(&line);
        }
    }
}

impl AsyncWrite for LineLogger {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.take(buf);
        // Report everything as written, even past the cap: a component must
        // not fail (or spin) because the host chose to drop its chatter.
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineLogger {
    fn drop(&mut self) {
        let rest = std::mem::take(&mut self.pending);
        self.emit(&rest);
    }
}
