//! The command line: what `scimd --help` shows, and one function per command.
//!
//! Commands that read or change the directory (tokens, log) talk to the running server over
//! its admin socket, and open the data file themselves when no server runs (`admin_client`). Human text goes to
//! stderr; data (a new token, tables) goes to stdout.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use scimd::admin::{self, AdminRequest, ClientError, Outcome};
use scimd::config::{Config, Delivery, EventsConfig, TlsMode};
use scimd::server::{Server, signals};
use scimd::service::{DataFile, IssuedToken, TokenInfo};

use crate::admin_client::{admin_request, open_data_file};
use crate::directory::ResourceCommand;
use crate::events_cli::EventsCommand;

#[derive(Debug, Parser)]
#[command(
    name = "scimd",
    version,
    about = "A self-hosted SCIM 2.0 server: one binary, one redb file, HTTPS built in"
)]
pub struct Cli {
    /// Config file (default: $SCIMD_CONFIG, else /etc/scimd/config.toml if it exists, else
    /// built-in defaults)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve SCIM over HTTPS until SIGTERM or SIGINT
    Serve,
    /// Check the config (and the TLS files it names), then exit: 0 when usable, 1 otherwise
    CheckConfig,
    /// Create, list and revoke bearer tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// List and show users as provisioned
    #[command(subcommand)]
    Users(ResourceCommand),
    /// List and show groups as provisioned
    #[command(subcommand)]
    Groups(ResourceCommand),
    /// Show the provisioning log, newest first (with --follow: oldest first, then live)
    Log {
        /// How many entries to show
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Only entries about this userName, group displayName or resource id
        #[arg(long, value_name = "NAME|ID")]
        user: Option<String>,
        /// Only entries with this outcome
        #[arg(long, value_enum)]
        outcome: Option<Outcome>,
        /// Keep printing new entries as they are written, until interrupted
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Write a consistent backup of the whole directory (JSON Lines, mode 0600) to FILE; works
    /// while the server runs
    Backup {
        /// Where to write it; written to FILE.partial first, then renamed
        file: PathBuf,
    },
    /// Restore a backup into the data directory of a stopped server, then check it
    Restore {
        /// A file written by `scimd backup`
        file: PathBuf,
        /// Replace an existing data file (it is kept as scimd.redb.before-restore)
        #[arg(long)]
        force: bool,
    },
    /// Shrink the data file of a stopped server to the pages it uses
    Compact,
    /// Manage change events (SETs) and the keys that sign them
    #[command(subcommand)]
    Events(EventsCommand),
    /// Sign in to the web console at /admin/ (one-time links), or end every console session
    #[command(subcommand)]
    Console(ConsoleCommand),
    /// Print the version
    Version,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; the token itself is printed once, alone on the last line of stdout
    Create {
        /// A name for the token, shown in the log (e.g. entra-prod)
        #[arg(long)]
        name: String,
        /// Allow reads only (GET and searches)
        #[arg(long)]
        read_only: bool,
        /// Expire the token after this many days (default: never)
        #[arg(long, value_name = "DAYS")]
        expires_in: Option<u32>,
        /// Make a token that may only poll this poll receiver's change events
        /// (POST /events/RECEIVER) and reads nothing else
        #[arg(long, value_name = "RECEIVER", conflicts_with = "read_only")]
        events: Option<String>,
    },
    /// List tokens (never their secrets)
    List,
    /// Revoke a token by id; requests bearing it are refused at once
    Revoke {
        /// The token id (the part after scimd_ and before the next _)
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConsoleCommand {
    /// Print a link that signs one browser in to the console, once (the link is on stdout)
    Login {
        /// How long the link works, in seconds (at most 600)
        #[arg(long, value_name = "SECS", default_value_t = 600)]
        valid_for: u64,
    },
    /// End every console session and unused sign-in link
    LogoutAll,
}

/// `scimd console login|logout-all`: over the admin socket of the running server (sessions
/// live in its memory only; without a running server the answer says to start it).
pub async fn console(config: &Config, command: ConsoleCommand) -> Result<()> {
    let request = match command {
        ConsoleCommand::Login { valid_for } => {
            AdminRequest::ConsoleLogin { valid_for_secs: valid_for }
        }
        ConsoleCommand::LogoutAll => AdminRequest::ConsoleLogoutAll,
    };
    // A stopped server has no sessions: the offline answer says to start it.
    let result = admin_request(config, request.clone()).await?;
    match request {
        AdminRequest::ConsoleLogin { valid_for_secs } => {
            let url = result.get("url").and_then(|u| u.as_str()).context("no url in the answer")?;
            eprintln!(
                "Open this link in your browser within {} to sign in to the console (it works once):",
                humantime::format_duration(std::time::Duration::from_secs(valid_for_secs))
            );
            println!("{url}");
        }
        _ => {
            let ended = result.get("ended").and_then(|n| n.as_u64()).unwrap_or(0);
            eprintln!("Ended {ended} console sessions and sign-in links.");
        }
    }
    Ok(())
}

/// `scimd check-config`: the same validation `serve` does, without opening the data file.
pub fn check_config(config: &Config) -> Result<()> {
    let hosts = vec![];
    let mut acme_roots = None;
    match &config.tls {
        TlsMode::Files { .. } => {
            scimd::server::tls::server_config(&config.tls, &config.data_dir, &hosts)?;
        }
        TlsMode::Acme(acme) => {
            let roots = scimd::server::acme::check_settings(acme)
                .context("tls.mode = \"acme\" cannot reach its CA safely")?;
            acme_roots = Some(roots);
        }
        TlsMode::SelfSigned | TlsMode::Off => {}
    }
    let source =
        config.source.as_ref().map_or("built-in defaults".to_string(), |p| p.display().to_string());
    eprintln!("config OK ({source})");
    eprintln!("  listen      {}", config.listen);
    eprintln!("  Tenant URL  {}", config.tenant_url());
    eprintln!("  data file   {}", config.data_file().display());
    match &config.tls {
        TlsMode::Acme(acme) => {
            eprintln!("  tls         acme (certificate from an ACME CA, TLS-ALPN-01)");
            eprintln!("    domains     {}", acme.domains.join(", "));
            eprintln!("    directory   {}", acme.directory);
            eprintln!("    contact     {}", acme.email.as_deref().unwrap_or("(none)"));
            eprintln!(
                "    trusted     {} root certificates{}",
                acme_roots.unwrap_or(0),
                acme.ca_root.as_ref().map_or(String::new(), |p| format!(" (with {})", p.display()))
            );
            eprintln!(
                "    renewal     when fewer than {} days remain (checked every {} s)",
                acme.renew_days,
                acme.check_interval.as_secs()
            );
            eprintln!("    stored in   {}", config.data_dir.join("acme").display());
            if config.listen.port() != 443 {
                eprintln!(
                    "    note        the CA connects to port 443: forward it to {}",
                    config.listen
                );
            }
        }
        tls => eprintln!("  tls         {tls:?}"),
    }
    print_receivers(&config.events);
    print_schemas(&config.schemas);
    eprintln!(
        "  unknown attributes  {}",
        match config.scim.unknown_attributes {
            scimd::config::UnknownAttributes::Reject => "rejected (400)",
            scimd::config::UnknownAttributes::Ignore => "dropped and logged",
        }
    );
    Ok(())
}

/// check-config's lines for `[[schemas.extensions]]`: each URN, its resource type and its
/// attributes with their types.
fn print_schemas(schemas: &[scimd::scim::extensions::ExtensionDecl]) {
    if schemas.is_empty() {
        eprintln!("  schemas     no extensions declared (core and enterprise only)");
        return;
    }
    eprintln!("  schemas     {} extension(s) declared", schemas.len());
    for ext in schemas {
        let kind = ext.resource_type.resource_type();
        let required = if ext.required { ", required" } else { "" };
        eprintln!("    {} ({kind}{required})", ext.id);
        for a in &ext.attributes {
            let many = if a.multi_valued { "[]" } else { "" };
            eprintln!("      {}: {}{many}", a.name, a.ty.as_str());
        }
    }
}

/// check-config's lines for `[events]`: each receiver's name, delivery, endpoint host, payload,
/// resource types and start; never its authorization value.
fn print_receivers(events: &EventsConfig) {
    if events.receivers.is_empty() {
        eprintln!("  events      no receivers");
        return;
    }
    eprintln!(
        "  events      {} receiver(s); events kept {} day(s) after every receiver has them",
        events.receivers.len(),
        events.keep_days
    );
    for receiver in &events.receivers {
        let delivery = match &receiver.delivery {
            Delivery::Push { endpoint, .. } => {
                let host = endpoint.authority().map_or("", |a| a.as_str());
                format!("push to {host}")
            }
            Delivery::Poll => format!("poll (POST /events/{})", receiver.name),
        };
        let types: Vec<&str> = receiver.resource_types.iter().map(|k| k.resource_type()).collect();
        eprintln!(
            "    {:<11} {delivery}, payload {}, types {}, start {}",
            receiver.name,
            receiver.payload.as_str(),
            types.join(" and "),
            receiver.start.as_str()
        );
    }
}

pub async fn token_create(
    config: &Config,
    name: String,
    read_only: bool,
    expires_in: Option<u32>,
    events: Option<String>,
) -> Result<()> {
    if let Some(receiver) = &events {
        let declared = config
            .events
            .receivers
            .iter()
            .any(|r| &r.name == receiver && r.delivery == Delivery::Poll);
        if !declared {
            bail!(
                "--events {receiver:?}: the config file declares no [[events.receivers]] entry \
                 named {receiver:?} with delivery = \"poll\"; add it first"
            );
        }
    }
    let result = admin_request(
        config,
        AdminRequest::TokenCreate { name, read_only, expires_in_days: expires_in, events },
    )
    .await?;
    let token: IssuedToken = serde_json::from_value(result).context("reading the new token")?;
    eprintln!("Created token '{}' (id {}, {}).", token.name, token.id, token.scope);
    if let Some(expires) = token.expires {
        eprintln!("It expires at {}.", format_unix(expires));
    }
    if let scimd::service::TokenScope::Events { receiver } = &token.scope {
        eprintln!("Give it to the receiver's poller; it is shown only this once.");
        eprintln!("Poll URL: {}/events/{receiver}", config.public_url);
    } else {
        eprintln!("Paste it into the IdP as the Secret Token; it is shown only this once.");
        eprintln!("Tenant URL: {}", config.tenant_url());
    }
    println!("{}", token.token);
    Ok(())
}

pub async fn token_list(config: &Config) -> Result<()> {
    let result = admin_request(config, AdminRequest::TokenList).await?;
    let tokens: Vec<TokenInfo> =
        serde_json::from_value(result).context("reading the token list")?;
    if tokens.is_empty() {
        eprintln!("No tokens. Create one with: scimd token create --name NAME");
        return Ok(());
    }
    println!(
        "{:<16}  {:<20}  {:<16}  {:<20}  {:<20}  {:<20}  STATUS",
        "ID", "NAME", "SCOPE", "CREATED", "EXPIRES", "LAST USED"
    );
    let now = scimd::service::now_unix();
    for t in tokens {
        let status = match (t.revoked, t.expires) {
            (Some(_), _) => "revoked",
            (None, Some(e)) if e <= now => "expired",
            _ => "active",
        };
        println!(
            "{:<16}  {:<20}  {:<16}  {:<20}  {:<20}  {:<20}  {status}",
            t.id,
            scimd::domain::text::escape(&t.name),
            t.scope,
            format_unix(t.created),
            t.expires.map_or("never".into(), format_unix),
            t.last_used.map_or("never".into(), format_unix),
        );
    }
    Ok(())
}

pub async fn token_revoke(config: &Config, id: String) -> Result<()> {
    let result = admin_request(config, AdminRequest::TokenRevoke { id }).await?;
    let token: TokenInfo = serde_json::from_value(result).context("reading the revoked token")?;
    eprintln!("Revoked token '{}' (id {}).", token.name, token.id);
    Ok(())
}

/// Path with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// `scimd backup FILE`: through the running server, else from the file directly.
pub async fn backup(config: &Config, file: PathBuf) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let partial = with_suffix(&file, ".partial");
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, created);
    let taken = match admin::call_backup(&config.admin_socket(), &mut out).await {
        Ok((header, found)) => Ok((header, found, "the running server")),
        Err(ClientError::NotRunning) => open_data_file(config, false)
            .and_then(|data_file| Ok(data_file.write_backup(&mut out)?))
            .map(|header| (header.clone(), header.counts, "the data file")),
        Err(e) => Err(e.into()),
    };
    let finished = taken.and_then(|(header, found, source)| {
        if found != header.counts {
            bail!(
                "the backup stream ended early: the header counts {} but {} arrived",
                header.counts,
                found
            );
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&partial, &file)?;
        Ok((header, source))
    });
    let (header, source) = finished.inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })?;
    eprintln!(
        "Backed up {} from {source} to {} (schema {}).",
        header.counts,
        file.display(),
        header.schema
    );
    Ok(())
}

/// Refuses to go on while a server answers on the admin socket.
async fn require_stopped(config: &Config, what: &str) -> Result<()> {
    match admin::probe(&config.admin_socket()).await {
        Err(ClientError::NotRunning) => Ok(()),
        _ => bail!("scimd is running on {}; stop it first to {what}", config.data_dir.display()),
    }
}

/// `scimd restore FILE [--force]`.
pub async fn restore(config: &Config, file: PathBuf, force: bool) -> Result<()> {
    require_stopped(config, "restore").await?;
    let data = config.data_file();
    let held = if data.exists() {
        if !force {
            bail!(
                "{} exists; pass --force to replace it (the old file is kept as {})",
                data.display(),
                with_suffix(&data, ".before-restore").display()
            );
        }
        Some(open_data_file(config, false)?)
    } else {
        None
    };
    let input =
        std::fs::File::open(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let staging = with_suffix(&data, ".restoring");
    let _ = std::fs::remove_file(&staging);
    let restored = DataFile::restore(std::io::BufReader::new(input), &staging);
    let header = match restored {
        Ok(header) => header,
        Err(e) => {
            let _ = std::fs::remove_file(&staging);
            bail!("cannot restore {}: {e}; the data directory is unchanged", file.display());
        }
    };
    if let Some(dir) = data.parent()
        && let Err(e) = give_to_directory_owner(&staging, dir)
    {
        let _ = std::fs::remove_file(&staging);
        bail!("cannot hand the restored file over: {e}; the data directory is unchanged");
    }
    drop(held);
    if data.exists() {
        std::fs::rename(&data, with_suffix(&data, ".before-restore"))?;
    }
    std::fs::rename(&staging, &data)?;
    if let Some(dir) = data.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    eprintln!(
        "Restored {} from {} (taken {}) into {}; indexes checked.",
        header.counts,
        file.display(),
        header.created,
        data.display()
    );
    Ok(())
}

/// Makes `file` mode 0600 and owned like the data directory holding it, so a restore run as
/// root leaves a file the service user can open. It works on the open file, after checking that
/// the name still is that plain file: the directory belongs to the service user, who must not
/// be able to point root's chown at another file with a symlink or a hard link.
fn give_to_directory_owner(file: &Path, dir: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let owner = std::fs::metadata(dir)?;
    let handle = std::fs::File::open(file)?;
    let (opened, named) = (handle.metadata()?, std::fs::symlink_metadata(file)?);
    if !named.file_type().is_file()
        || (opened.dev(), opened.ino()) != (named.dev(), named.ino())
        || opened.nlink() != 1
    {
        bail!("{} changed while it was restored", file.display());
    }
    handle.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    if (opened.uid(), opened.gid()) != (owner.uid(), owner.gid()) {
        std::os::unix::fs::fchown(&handle, Some(owner.uid()), Some(owner.gid()))
            .with_context(|| format!("cannot give it to the owner of {}", dir.display()))?;
    }
    Ok(())
}

/// `scimd compact`.
pub async fn compact(config: &Config) -> Result<()> {
    require_stopped(config, "compact the data file").await?;
    let mut data_file = open_data_file(config, false)?;
    let (before, after) = data_file.compact()?;
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    eprintln!(
        "Compacted {}: {:.1} MiB -> {:.1} MiB.",
        config.data_file().display(),
        mib(before),
        mib(after)
    );
    Ok(())
}

pub async fn serve(config: Config) -> Result<()> {
    if config.source.is_none() {
        tracing::info!("no config file found; using built-in defaults (see config.example.toml)");
    }
    if config.public_url_derived {
        tracing::warn!(
            public_url = %config.public_url,
            "public_url is not set; it was derived from listen. Set it to the URL the IdP uses"
        );
    }
    let listen = config.listen;
    let tenant_url = config.tenant_url();
    let server = Server::open(config)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (is another program using it?)"))?;
    if let Some(token) = server.first_token()? {
        print_first_token(&tenant_url, &token);
    }
    let reloads = signals::reload_on_hangup(server.reloader())
        .context("cannot install the SIGHUP handler")?;
    tokio::spawn(reloads);
    server.run(listener, signals::shutdown_requested()).await?;
    Ok(())
}

fn print_first_token(tenant_url: &str, token: &IssuedToken) {
    println!();
    println!("scimd's first start: paste these into Entra ID (Provisioning > Admin Credentials)");
    println!("or Okta (Provisioning > Integration):");
    println!();
    println!("  Tenant URL:    {tenant_url}");
    println!("  Secret Token:  {}", token.token);
    println!();
    println!("The token is shown only this once (token id {}). Create more with", token.id);
    println!(
        "`scimd token create --name NAME`; revoke this one with `scimd token revoke {}`.",
        token.id
    );
    println!();
}

fn format_unix(secs: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}
