use anyhow::Context;
use clap::Parser;
use mcp_host::config::{Cli, Command, EmbedArgs, MigrateArgs, SeedArgs};
use mcp_host::db::migrate;
use mcp_host::db::settings::DbArgs;

fn main() -> anyhow::Result<()> {
    // candle (the local embedding model) sizes its thread pool from
    // RAYON_NUM_THREADS; unset, it re-reads /proc/cpuinfo on every matrix
    // multiplication, ~30 % of a short query's time (measured). Set it while
    // the process is still single-threaded.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // SAFETY: no other thread exists yet, so nothing reads the
        // environment concurrently.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", cores.to_string()) };
    }
    let argv = match mcp_host::config_file::apply(std::env::args_os().collect()) {
        Ok(argv) => argv,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(2);
        }
    };
    let cli = Cli::parse_from(argv);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // Outside the runtime's tasks (the OTLP/HTTP exporter's blocking client
    // must be created and dropped where blocking is allowed), and dropped
    // while the runtime still runs (the gRPC exporter's last flush needs it).
    let telemetry = mcp_host::telemetry::init(cli.log_format, runtime.handle());
    let outcome = runtime.block_on(run(cli));
    drop(telemetry);
    drop(runtime);
    outcome
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let server = mcp_host::app::start(args).await?;
            let cancel = server.cancel_token();
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("shutting down");
                cancel.cancel();
            });
            server.wait().await
        }
        Command::Migrate(args) => run_migrate(args).await,
        Command::Seed(args) => run_seed(args).await,
        Command::Embed(args) => run_embed(args).await,
        Command::Healthcheck(args) => mcp_host::healthcheck::run(&args),
    }
}

async fn run_embed(args: EmbedArgs) -> anyhow::Result<()> {
    let settings = args.embeddings.clone();
    let embeddings = tokio::task::spawn_blocking(move || settings.build())
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .context("--embeddings none: nothing to embed with")?;
    let (client, resolved) = admin(&args.db).await?;
    let report = mcp_host::embeddings::product_index::embed_products(
        &client,
        &embeddings,
        args.batch_size,
        true,
    )
    .await
    .map_err(anyhow::Error::msg)?;
    if let Some(old) = &report.replaced_model {
        println!("replaced the embeddings of {old}");
    }
    println!(
        "{}: {} product(s) embedded with {} ({} dimensions) in {:.1} s, {} already embedded",
        resolved.description,
        report.embedded,
        report.model.name,
        report.model.dimensions,
        report.elapsed.as_secs_f64(),
        report.already
    );
    Ok(())
}

/// Starts the embedded cluster if that is the target and connects as admin.
async fn admin(
    db: &DbArgs,
) -> anyhow::Result<(tokio_postgres::Client, mcp_host::db::settings::Resolved)> {
    let args = db.clone();
    let resolved = tokio::task::spawn_blocking(move || args.resolve()).await??;
    let config = resolved.admin.as_ref().context(
        "an administrative connection is needed: set DATABASE_URL (or the POSTGRES_* variables)",
    )?;
    let client = migrate::connect_creating(config, &resolved.tls).await?;
    Ok((client, resolved))
}

async fn run_migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let (client, resolved) = admin(&args.db).await?;
    let report = migrate::migrate(
        &client,
        &resolved.rls_secret,
        resolved.query_password.as_deref(),
    )
    .await?;
    println!(
        "{}: {} migration(s) applied ({}), {} already applied",
        resolved.description,
        report.applied.len(),
        report.applied.join(", "),
        report.already
    );
    Ok(())
}

async fn run_seed(args: SeedArgs) -> anyhow::Result<()> {
    let (client, resolved) = admin(&args.db).await?;
    if args.migrate {
        migrate::migrate(
            &client,
            &resolved.rls_secret,
            resolved.query_password.as_deref(),
        )
        .await?;
    }
    if args.if_empty
        && mcp_host::seed::is_seeded(&client)
            .await
            .map_err(anyhow::Error::msg)?
    {
        println!(
            "{}: the demo data is already loaded; nothing to do (--if-empty)",
            resolved.description
        );
        return Ok(());
    }
    let report = mcp_host::seed::seed(
        &client,
        mcp_host::seed::SeedOptions {
            seed: args.seed,
            scale: args.scale,
            replace: args.replace,
            progress: true,
        },
    )
    .await
    .map_err(anyhow::Error::msg)?;
    let total: usize = report.rows.iter().map(|(_, n)| n).sum();
    println!(
        "{}: loaded {total} rows in {:.1} s (generated in {:.1} s)",
        resolved.description,
        report.load.as_secs_f64(),
        report.generate.as_secs_f64()
    );
    for (table, rows) in report.rows {
        println!("  retail.{table:<14} {rows:>9}");
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
