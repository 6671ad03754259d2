//! Reaching the directory from the command line: an admin request goes to the running server
//! over its admin socket, or, when no server runs, is run on the data file directly (the same
//! `admin::execute`, so both answer alike); and opening a stopped server's data file with
//! messages that say what to do. Used by `cli` (tokens, backup, restore, compact, events) and
//! `directory` (users, groups, log); it uses neither.

use anyhow::{Result, bail};
use serde_json::Value;

use scimd::admin::{self, AdminRequest, AdminResponse, ClientError};
use scimd::config::Config;
use scimd::service::{DataFile, Service, Settings, StoreError};
use scimd::signing::KeyRing;

/// Sends an admin request to the running server, or runs it on the data file when stopped.
pub async fn admin_request(config: &Config, request: AdminRequest) -> Result<Value> {
    let response = match admin::call(&config.admin_socket(), &request).await {
        Ok(response) => response,
        Err(ClientError::NotRunning) => offline(config, request)?,
        Err(e) => return Err(e.into()),
    };
    match response {
        AdminResponse { ok: true, result, .. } => Ok(result.unwrap_or(Value::Null)),
        AdminResponse { error, .. } => {
            bail!("{}", error.unwrap_or_else(|| "the request failed".into()))
        }
    }
}

fn offline(config: &Config, request: AdminRequest) -> Result<AdminResponse> {
    let first_token = matches!(request, AdminRequest::TokenCreate { .. });
    let service = if matches!(request, AdminRequest::EventsRotateKey) {
        // The data file's lock, held meanwhile, keeps a starting server off the key file.
        let data_file = open_data_file(config, false)?;
        let mut settings = Settings::from_config(config);
        settings.signing_keys = Some(KeyRing::open(&config.data_dir)?.into_shared());
        data_file.start(settings)?
    } else {
        offline_service(config, first_token)?
    };
    let response = admin::execute(&service, request);
    service.stop_writes();
    Ok(response)
}

/// The use cases over the data file of a stopped server (`create`: made when missing, for a
/// first token). The caller stops its writer thread when done.
pub fn offline_service(config: &Config, create: bool) -> Result<Service> {
    let data_file = open_data_file(config, create)?;
    Ok(data_file.start(Settings::from_config(config))?)
}

/// Opens the data file of a stopped server (`create`: made when missing).
pub fn open_data_file(config: &Config, create: bool) -> Result<DataFile> {
    let path = config.data_file();
    if !create && !path.exists() {
        bail!(
            "no data file at {} and no running server; start `scimd serve` first (or pass the \
             --config the server uses)",
            path.display()
        );
    }
    match DataFile::open(config) {
        Ok(data_file) => Ok(data_file),
        Err(StoreError::Locked(_)) => bail!(
            "a scimd server holds {} but its admin socket {} does not answer; stop it \
             (systemctl stop scimd), or run this as the server's user with its --config",
            path.display(),
            config.admin_socket().display()
        ),
        Err(e) => Err(e.into()),
    }
}
