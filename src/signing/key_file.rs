//! `<data_dir>/event-signing-keys.json`: reading it (refusing a file others can read, and
//! naming what is wrong in a malformed one without ever echoing key bytes) and writing it
//! atomically (a temporary file created with mode 0600 in the same directory, fsync'd, renamed
//! over the old one, then the directory fsync'd).
//!
//! The format, newest key last:
//!
//! ```json
//! {"keys": [{"kid": "<RFC 7638 thumbprint>", "created": "2026-05-01T10:00:00Z", "pkcs8": "<base64url>"}]}
//! ```

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use serde_json::{Value, json};

use super::SigningError;

/// A key file larger than this is not one scimd wrote (a key entry is about 250 bytes).
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// One entry of the file, decoded but not yet parsed as a key.
pub(super) struct StoredKey {
    pub kid: String,
    pub created: SystemTime,
    pub pkcs8: Vec<u8>,
}

/// Reads the key file at `path`; `Ok(None)` when there is none.
pub(super) fn read(path: &Path) -> Result<Option<Vec<StoredKey>>, SigningError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SigningError::io("cannot open", path, source)),
    };
    let metadata = file.metadata().map_err(|e| SigningError::io("cannot inspect", path, e))?;
    refuse_exposed(path, &metadata)?;
    if !metadata.is_file() {
        return Err(SigningError::malformed(path, "it is not a regular file"));
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(SigningError::malformed(
            path,
            format!("it is {} bytes, more than a key file can be", metadata.len()),
        ));
    }
    let mut text = String::new();
    file.take(MAX_FILE_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| SigningError::io("cannot read", path, e))?;
    parse(&text).map(Some).map_err(|detail| SigningError::malformed(path, detail))
}

/// A file holding private keys must be the owner's alone.
fn refuse_exposed(path: &Path, metadata: &std::fs::Metadata) -> Result<(), SigningError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SigningError::Exposed { path: path.display().to_string(), mode });
    }
    Ok(())
}

/// Parses the file's text. The error names the field at fault and never quotes a value (a
/// value may be key material): serde's own messages can quote the string they reject, so the
/// structure is walked by hand.
fn parse(text: &str) -> Result<Vec<StoredKey>, String> {
    let root: Value = serde_json::from_str(text).map_err(|e| {
        // Syntax errors give a position only; the category keeps a type error from quoting.
        format!("not JSON ({:?} error at line {} column {})", e.classify(), e.line(), e.column())
    })?;
    let entries = root
        .get("keys")
        .ok_or("no \"keys\" member")?
        .as_array()
        .ok_or("\"keys\" is not an array")?;
    if entries.is_empty() {
        return Err("\"keys\" is empty".into());
    }
    entries.iter().enumerate().map(|(i, entry)| parse_entry(i, entry)).collect()
}

fn parse_entry(index: usize, entry: &Value) -> Result<StoredKey, String> {
    let field = |name: &str| -> Result<&str, String> {
        match entry.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(format!("keys[{index}].{name} is not a string")),
            None => Err(format!("keys[{index}] has no \"{name}\"")),
        }
    };
    let kid = field("kid")?.to_string();
    let created = humantime::parse_rfc3339(field("created")?).map_err(|_| {
        format!("keys[{index}].created is not an RFC 3339 UTC time such as 2026-05-01T10:00:00Z")
    })?;
    let pkcs8 = BASE64URL
        .decode(field("pkcs8")?)
        .map_err(|_| format!("keys[{index}].pkcs8 is not base64url without padding"))?;
    Ok(StoredKey { kid, created, pkcs8 })
}

/// Writes `keys` (oldest first) to `path`, replacing it atomically.
pub(super) fn write<'a>(
    path: &Path,
    keys: impl Iterator<Item = (&'a str, SystemTime, &'a [u8])>,
) -> Result<(), SigningError> {
    let entries: Vec<Value> = keys
        .map(|(kid, created, pkcs8)| {
            json!({
                "kid": kid,
                "created": humantime::format_rfc3339_seconds(created).to_string(),
                "pkcs8": BASE64URL.encode(pkcs8),
            })
        })
        .collect();
    let mut bytes = serde_json::to_vec_pretty(&json!({ "keys": entries }))
        .map_err(|e| SigningError::io("cannot encode", path, std::io::Error::other(e)))?;
    bytes.push(b'\n');
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let temp = path.with_extension("json.tmp");
    let written = write_temp(&temp, dir, &bytes).and_then(|()| {
        std::fs::rename(&temp, path).map_err(|e| SigningError::io("cannot replace", path, e))
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SigningError::io("cannot sync the directory", dir, e))
}

/// Creates `temp` afresh with mode 0600 (never through a link left in its place), writes
/// `bytes` and syncs them.
fn write_temp(temp: &Path, dir: &Path, bytes: &[u8]) -> Result<(), SigningError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::remove_file(temp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(SigningError::io("cannot remove the stale", temp, e)),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temp)
        .map_err(|e| SigningError::io("cannot create", temp, e))?;
    // The umask may only have removed bits; make the mode exactly 0600.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| give_to_directory_owner(&file, dir))
        .and_then(|()| file.write_all(bytes))
        .and_then(|()| file.sync_all())
        .map_err(|e| SigningError::io("cannot write", temp, e))
}

/// Run as root (an offline `scimd events rotate-key`), hands the new file to the data
/// directory's owner, so the service's user can still read it.
fn give_to_directory_owner(file: &File, dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let (mine, owner) = (file.metadata()?, std::fs::metadata(dir)?);
    if mine.uid() == 0 && (mine.uid(), mine.gid()) != (owner.uid(), owner.gid()) {
        std::os::unix::fs::fchown(file, Some(owner.uid()), Some(owner.gid()))?;
    }
    Ok(())
}
