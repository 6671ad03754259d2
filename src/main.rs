//! The `scimd` binary: parse the command line, set up logging, run one command, and turn its
//! error into a message and an exit status (0 success, 1 failure, 2 usage).
#![forbid(unsafe_code)]

mod admin_client;
mod cli;
mod directory;
mod events_cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use scimd::admin::{LogFilter, Resources};
use scimd::config::{Config, LogConfig, LogFormat};
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command, TokenCommand};
use directory::ResourceCommand;

fn main() -> ExitCode {
    let args = Cli::parse();
    let config = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("scimd: config error: {e}");
            return ExitCode::from(1);
        }
    };
    init_logging(&config.log);
    // Every command reads and writes resources through the schema the config declares.
    scimd::scim::extensions::install(&config.schemas);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("scimd: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match args.command {
            Command::Serve => cli::serve(config).await,
            Command::CheckConfig => cli::check_config(&config),
            Command::Token(TokenCommand::Create { name, read_only, expires_in, events }) => {
                cli::token_create(&config, name, read_only, expires_in, events).await
            }
            Command::Token(TokenCommand::List) => cli::token_list(&config).await,
            Command::Token(TokenCommand::Revoke { id }) => cli::token_revoke(&config, id).await,
            Command::Users(command) => run_resources(&config, Resources::Users, command).await,
            Command::Groups(command) => run_resources(&config, Resources::Groups, command).await,
            Command::Log { limit, user, outcome, follow } => {
                let filter = LogFilter { resources: user.into_iter().collect(), outcome };
                directory::log(&config, limit, filter, follow).await
            }
            Command::Backup { file } => cli::backup(&config, file).await,
            Command::Restore { file, force } => cli::restore(&config, file, force).await,
            Command::Compact => cli::compact(&config).await,
            Command::Events(command) => events_cli::run(&config, command).await,
            Command::Console(command) => cli::console(&config, command).await,
            Command::Version => {
                println!("scimd {}", env!("CARGO_PKG_VERSION"));
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scimd: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run_resources(
    config: &Config,
    resources: Resources,
    command: ResourceCommand,
) -> anyhow::Result<()> {
    match command {
        ResourceCommand::List { filter, format, columns } => {
            directory::list(config, resources, filter, format, &columns).await
        }
        ResourceCommand::Show { key, format } => {
            directory::show(config, resources, key, format).await
        }
    }
}

/// Logs to stderr: readable lines (without timestamps under systemd, as journald adds its
/// own), or one JSON object per line with `[log] format = "json"`.
fn init_logging(log: &LogConfig) {
    // rustls warns on every client that sends an IP address as SNI (OpenSSL does: wrk,
    // curl to https://127.0.0.1); that is harmless, so only its errors are shown.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!("{},hyper=warn,h2=warn,rustls=error", log.level))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match log.format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text if std::env::var_os("JOURNAL_STREAM").is_some() => {
            builder.with_ansi(false).without_time().init()
        }
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
