//! The `scimd` binary: parse the command line, set up logging, run one command, and turn its
//! error into a message and an exit status (0 success, 1 failure, 2 usage).
#![forbid(unsafe_code)]

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use scimd::config::Config;
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command, TokenCommand};

fn main() -> ExitCode {
    let args = Cli::parse();
    let config = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("scimd: config error: {e}");
            return ExitCode::from(1);
        }
    };
    init_logging(&config.log_level);
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
            Command::Token(TokenCommand::Create { name, read_only, expires_in }) => {
                cli::token_create(&config, name, read_only, expires_in).await
            }
            Command::Token(TokenCommand::List) => cli::token_list(&config).await,
            Command::Token(TokenCommand::Revoke { id }) => cli::token_revoke(&config, id).await,
            Command::Log { limit } => cli::log(&config, limit).await,
            Command::Backup { file } => cli::backup(&config, file).await,
            Command::Restore { file, force } => cli::restore(&config, file, force).await,
            Command::Compact => cli::compact(&config).await,
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

/// Logs to stderr; without timestamps under systemd (journald adds its own).
fn init_logging(level: &str) {
    // rustls warns on every client that sends an IP address as SNI (OpenSSL does: wrk,
    // curl to https://127.0.0.1); that is harmless, so only its errors are shown.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},hyper=warn,h2=warn,rustls=error")));
    let ansi = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().with_target(false).init();
    } else {
        builder.with_target(false).init();
    }
}
