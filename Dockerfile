# Multi-stage build of mcp-host and its tool components.
# (Not built on the development machines, which have no Docker engine; the
# hardened image, health checks and Azure deployment are issue 6.)
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN rustup target add wasm32-wasip2 \
 && apt-get update && apt-get install -y --no-install-recommends libclang-dev \
 && rm -rf /var/lib/apt/lists/*
COPY . .
# pg_query's bindings need libclang (here from Debian, not the PyPI wheel).
ENV LIBCLANG_PATH=/usr/lib/llvm-14/lib C_INCLUDE_PATH=
RUN scripts/build-components.sh && cargo build --release -p mcp-host

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 mcp
COPY --from=build /src/target/release/mcp-host /usr/local/bin/mcp-host
COPY --from=build /src/components-dist /components
USER mcp
EXPOSE 8000
ENTRYPOINT ["mcp-host"]
CMD ["serve", "--components", "/components", "--cache-dir", "/tmp/mcp-cache"]
