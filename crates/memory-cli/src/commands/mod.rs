//! One module per command family; `run` dispatches a parsed command line to it.

#[cfg(feature = "bench")]
mod bench;
mod config_show;
mod demo;
mod episode;
mod gc;
mod graph;
mod handoff;
mod model;
mod patterns;
mod reembed;
mod retrieve;
mod serve;
mod stats;
mod transfer;

#[cfg(feature = "bench")]
use crate::cli::BenchCommand;
use crate::cli::{
    Cli, Command, ConfigCommand, EpisodeCommand, Format, HeuristicCommand, ModelCommand,
    PatternCommand,
};
use crate::config::{DbLocation, db_location, embedder, open_memory, open_memory_and_store};
use crate::output::Printer;
use memory_core::MemoryError;
use memory_storage_turso::{Location, TursoError, TursoStorage, is_server_url};
use std::sync::Arc;

/// Runs the parsed command line. A storage failure on a libSQL server names the server.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let server = cli.db.db.clone().filter(|db| is_server_url(db));
    let result = dispatch(cli).await;
    match (result, server) {
        (Err(err), Some(url)) if is_storage_failure(&err) && !format!("{err:#}").contains(&url) => {
            Err(err.context(format!("using the libSQL server at {url}")))
        }
        (result, _) => result,
    }
}

/// Whether `err` is the store's failure (rather than the input's, or a missing record).
fn is_storage_failure(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<MemoryError>(),
            Some(MemoryError::Storage(_))
        ) || cause.downcast_ref::<TursoError>().is_some()
    })
}

/// Runs the parsed command line.
async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let out = Printer { format: cli.format };
    if cli.format == Format::Dot && !matches!(cli.command, Command::Graph(_)) {
        crate::exit::usage!("--format dot is only for `memory graph`; use human or json");
    }
    let ns = cli.namespace.as_str();
    // Installing or inspecting the model needs no embedder (and must work when the
    // configured one cannot be built).
    if let Command::Model(cmd) = &cli.command {
        return match cmd {
            ModelCommand::Pull(a) => {
                let db = db_location(&cli.db).ok();
                model::pull(a, &cli.embedder, db.as_ref(), out).await
            }
            ModelCommand::Show => model::show(&cli.embedder, out).await,
        };
    }
    let choice = embedder(&cli.embedder)?;
    let embedder = choice.embedder.clone();
    let locate = || db_location(&cli.db);
    // The stores opened for the command: their background work (an embedded replica's
    // sync after a write, a snapshot of the text index a search started) is finished after
    // the answer, rather than cut off with the process.
    let opened: std::sync::Mutex<Vec<Arc<TursoStorage>>> = std::sync::Mutex::default();
    let open = || async {
        let (memory, store) = open_memory_and_store(&locate()?, embedder.clone()).await?;
        opened
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(store);
        Ok::<_, anyhow::Error>(memory)
    };
    let answered = match cli.command {
        #[cfg(feature = "bench")]
        Command::Bench(BenchCommand::Learning(a)) => bench::learning(&a, out).await,
        #[cfg(feature = "bench")]
        Command::Bench(BenchCommand::Completion(a)) => bench::completion(&a, out).await,
        #[cfg(feature = "bench")]
        Command::Bench(BenchCommand::Perf(a)) => bench::perf(&a, out).await,
        #[cfg(feature = "bench")]
        Command::Bench(BenchCommand::Soak(a)) => bench::soak(&a, out).await,
        #[cfg(feature = "bench")]
        Command::Bench(BenchCommand::Remote(a)) => {
            bench::remote(&a, cli.db.db_auth_token.as_deref(), embedder.clone(), out).await
        }
        #[cfg(feature = "bench")]
        Command::Bench(BenchCommand::FirstSearch(a)) => {
            bench::first_search(&a, embedder.clone(), cli.embedder.embedder.clone(), out).await
        }
        #[cfg(feature = "bench")]
        Command::Bench(BenchCommand::Retrieval(a)) => {
            bench::retrieval(&a, embedder.clone(), out).await
        }
        Command::Demo(_) => {
            // Without --db the demo works in a temporary database.
            let db = match cli.db.db {
                Some(_) => Some(locate()?),
                None => None,
            };
            demo::run(db, ns, embedder.clone(), out).await
        }
        Command::Config(ConfigCommand::Show) => {
            let location = locate()?;
            // Showing the configuration must not create the database, nor a replica's file
            // (the server answers for a replica not made yet).
            let memory = match &location.location {
                Location::File(path) if !path.exists() => None,
                Location::Replica {
                    url,
                    auth_token,
                    path,
                } if !path.exists() => {
                    let server = DbLocation {
                        location: Location::parse(url, Some(auth_token.clone())),
                        ..location.clone()
                    };
                    Some(open_memory(&server, embedder.clone()).await?)
                }
                _ => Some(open().await?),
            };
            config_show::run(memory.as_ref(), &choice, &location, ns, out).await
        }
        // Answered above.
        Command::Model(_) => Ok(()),
        Command::Stats(a) => stats::run(&open().await?, &a, out).await,
        Command::Reembed(a) => reembed::run(&open().await?, &a, out).await,
        Command::Gc(a) => gc::run(open().await?, &a, out).await,
        Command::Mcp => {
            let location = locate()?;
            let memory = open_memory(&location, embedder.clone()).await?;
            serve::stdio(memory, ns).await
        }
        Command::Serve(a) => {
            // Refuse an unsafe address before creating or opening anything.
            let token_file = serve::check(&a)?;
            let location = locate()?;
            let memory = open_memory(&location, embedder.clone()).await?;
            serve::http(memory, ns, &location.location, &a, token_file).await
        }
        Command::Ui(a) => {
            let location = locate()?;
            let memory = open_memory(&location, embedder.clone()).await?;
            serve::ui(memory, ns, &location.location, &a).await
        }
        Command::Retrieve(args) => retrieve::run(&open().await?, ns, &args, out).await,
        Command::Pattern(cmd) => {
            let memory = open().await?;
            match cmd {
                PatternCommand::List(a) => patterns::list(&memory, ns, &a, out).await,
                PatternCommand::Show(a) => patterns::show(&memory, ns, &a.id, out).await,
            }
        }
        Command::Heuristic(HeuristicCommand::List(a)) => {
            let memory = open().await?;
            patterns::heuristics(&memory, ns, &a, out).await
        }
        Command::Feedback(a) => {
            let memory = open().await?;
            patterns::feedback(&memory, ns, &a, out).await
        }
        Command::Relate(a) => graph::relate(&open().await?, ns, &a, out).await,
        Command::Unrelate(a) => graph::unrelate(&open().await?, ns, &a, out).await,
        Command::Related(a) => graph::related(&open().await?, ns, &a, out).await,
        Command::Graph(a) => graph::graph(&open().await?, ns, &a, out).await,
        Command::Checkpoint(a) => handoff::checkpoint(&open().await?, ns, &a, out).await,
        Command::Handoff(a) => handoff::handoff(&open().await?, ns, &a, out).await,
        Command::Resume(a) => handoff::resume(&open().await?, ns, &a, out).await,
        Command::Export(a) => transfer::export(&open().await?, ns, &a, out).await,
        Command::Import(a) => transfer::import(&open().await?, &a, out).await,
        Command::Episode(cmd) => {
            let memory = open().await?;
            match cmd {
                EpisodeCommand::Start(a) => episode::start(&memory, ns, &a, out).await,
                EpisodeCommand::Step(a) => episode::step(&memory, ns, &a, out).await,
                EpisodeCommand::Complete(a) => episode::complete(&memory, ns, &a, out).await,
                EpisodeCommand::Show(a) => episode::show(&memory, ns, &a.id, out).await,
                EpisodeCommand::List(a) => episode::list(&memory, ns, &a, out).await,
                EpisodeCommand::Delete(a) => episode::delete(&memory, ns, &a.id, out).await,
            }
        }
    };
    let opened = std::mem::take(
        &mut *opened
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    for store in opened {
        store.finish_background_work().await;
    }
    answered
}
