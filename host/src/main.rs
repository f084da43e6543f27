use anyhow::Context;
use clap::Parser;
use mcp_host::config::{Cli, Command, EmbedArgs, MigrateArgs, SeedArgs};
use mcp_host::db::setup::{self, Seed, Seeded, SetUp, Steps};
use mcp_host::seed::SeedOptions;

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
    // Not a plain drop, which waits for every blocking task: a background
    // compile of a big component (tens of seconds) must not hold up the
    // exit past an orchestrator's grace period; the code it was making is
    // simply not cached.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
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
        Command::NewTool(args) => {
            let folder = mcp_host::scaffold::run(&args)?;
            // run() made ROOT/components/NAME; the policy sits beside it.
            let listed = folder.with_file_name("policy.toml").is_file();
            print!(
                "{}",
                mcp_host::scaffold::next_steps(args.lang, &args.name, listed)
            );
            Ok(())
        }
        Command::CheckComponent(args) => {
            if !mcp_host::check_component::run(&args).await? {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

async fn run_embed(args: EmbedArgs) -> anyhow::Result<()> {
    let settings = args.embeddings.clone();
    let embeddings = tokio::task::spawn_blocking(move || settings.build())
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .context("--embeddings none: nothing to embed with")?;
    let SetUp {
        client, resolved, ..
    } = setup::set_up(&args.db, Steps::default()).await?;
    let report = mcp_host::embeddings::product_index::embed_products(
        &client,
        &embeddings,
        args.batch_size,
        true,
    )
    .await?;
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

async fn run_migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let steps = Steps {
        migrate: true,
        seed: None,
    };
    let set_up = setup::set_up(&args.db, steps).await?;
    let report = set_up.migrated.unwrap_or_default();
    println!(
        "{}: {} migration(s) applied ({}), {} already applied",
        set_up.resolved.description,
        report.applied.len(),
        report.applied.join(", "),
        report.already
    );
    Ok(())
}

async fn run_seed(args: SeedArgs) -> anyhow::Result<()> {
    let options = SeedOptions {
        seed: args.seed,
        scale: args.scale,
        replace: args.replace,
        progress: true,
    };
    let steps = Steps {
        migrate: args.migrate,
        seed: Some(if args.if_empty {
            Seed::IfEmpty(options)
        } else {
            Seed::Always(options)
        }),
    };
    let set_up = setup::set_up(&args.db, steps).await?;
    let description = &set_up.resolved.description;
    let Some(Seeded::Loaded(report)) = set_up.seeded else {
        // Only `--if-empty` leaves data it finds.
        println!("{description}: the demo data is already loaded; nothing to do (--if-empty)");
        return Ok(());
    };
    let total: usize = report.rows.iter().map(|(_, n)| n).sum();
    println!(
        "{description}: loaded {total} rows in {:.1} s (generated in {:.1} s)",
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
