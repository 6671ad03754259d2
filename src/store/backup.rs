//! Backup and restore: the whole directory as JSON Lines, independent of the file format.
//!
//! ```text
//! {"format":"scimd-backup","version":1,"schema":8,"scimd":"0.1.0","created":"…","counts":{…}}
//! {"user":{"id":"…","version":3,"created":"…","lastModified":"…","attributes":{…}}}
//! {"group":{…}}
//! {"member":{"group":"…","member":"…","type":"User"}}
//! {"token":{"id":"…","name":"entra","scope":"read_write","hash":"$argon2id$…",…}}
//! {"log":{"seq":1,"time":"…","token":"entra","operation":"create",…}}
//! {"event":{"seq":41,"txn":"…","toe_millis":…,"kind":"User","id":"…","change":"patch",…}}
//! {"cursor":{"receiver":"wiki","acked":38,"failed":1}}
//! {"event_failure":{"receiver":"wiki","seq":12,"time":"…","error":"invalid_request: …"}}
//! ```
//!
//! A backup is written from one read transaction, so it is one consistent state however many
//! writes run meanwhile; the header's counts are that state's, and restore refuses a file whose
//! records do not add up to them (a truncated copy). Restore writes a new data file through the
//! same writer the server uses, so every index is rebuilt (names under this version's
//! `name_key`; two names that now collide stop the restore, naming both), then checks the
//! counts and that every user and group is found through its name and externalId indexes.
//! Tokens keep their argon2 hashes: the IdP's Secret Token works against the restored
//! directory.
//!
//! The change-event outbox travels whole: every event still kept, under its own sequence
//! number, with the `ChangeEvent`'s own fields beside it (whatever fields it has, so fields
//! added later travel too; its `id` is written as the hyphenated UUID the other records use,
//! see `event_object`); every receiver's cursor (the `EventCursor` flattened beside the
//! receiver's name, likewise); and every failure a receiver reported. A receiver therefore
//! resumes after a restore from the event it had not acknowledged, with the same `jti`s (they
//! follow from the receiver, the sequence number and the `txn`), and the next change continues
//! the numbering after the newest event restored. Restore refuses a cursor past the newest
//! event (it would skip changes made after the restore). A receiver that was still being fed
//! the existing resources (`start = "beginning"`) is fed them again after the restore, from
//! a snapshot of the restored directory: the feed's rows are not in a backup. The signing keys
//! (`<data_dir>/event-signing-keys.json`) are not in a backup: they are private keys, kept out
//! of a file that is copied around.
//!
//! Format version: still 1. The new records and header counts need no bump: the counts default
//! to 0, so an older backup restores unchanged, and an older scimd reading a newer backup
//! cannot misread it: a backup without events or cursors restores completely, and any other
//! stops at its first `event` or `cursor` line as an unknown record, naming the line, before
//! the data directory is touched.

use std::io::{BufRead, Write};
use std::path::Path;

use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use super::events::{EventCursor, EventFailure, decode_failure_row};
use super::log::LogEntry;
use super::members::MemberKind;
use super::migrate::SCHEMA_VERSION;
use super::records::StoredResource;
use super::tables::{
    EVENT_CURSORS, EVENT_FAILURES, EVENTS, GROUP_MEMBERS, PROVISIONING_LOG, TOKENS,
};
use super::tokens::StoredToken;
use super::{ReadQueries, Reader, Store, StoreError, codec};
use crate::domain::events::ChangeEvent;
use crate::domain::text::escape;
use crate::domain::{Kind, ResourceId};

const FORMAT: &str = "scimd-backup";
const VERSION: u32 = 1;
/// Records restored per write transaction.
const BATCH: usize = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("line {line}: {reason}")]
    Format { line: u64, reason: String },
    #[error(
        "the backup is incomplete or altered: its header counts {expected} but it holds {found}"
    )]
    // Boxed: eight counts apiece would make every `Result<_, BackupError>` large.
    Counts { expected: Box<Counts>, found: Box<Counts> },
    #[error("the restored directory failed its check: {0}")]
    Check(String),
}

impl From<redb::TableError> for BackupError {
    fn from(e: redb::TableError) -> Self {
        BackupError::Store(e.into())
    }
}

impl From<redb::StorageError> for BackupError {
    fn from(e: redb::StorageError) -> Self {
        BackupError::Store(e.into())
    }
}

/// How many of each record a backup holds. The event counts came later: a header without them
/// (an older backup) reads as 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub users: u64,
    pub groups: u64,
    pub members: u64,
    pub tokens: u64,
    pub log: u64,
    /// Change events in the outbox.
    #[serde(default)]
    pub events: u64,
    /// Event receivers' cursors.
    #[serde(default)]
    pub cursors: u64,
    /// Events receivers refused as malformed, as recorded.
    #[serde(default)]
    pub event_failures: u64,
}

impl Counts {
    /// Counts one record line of a backup by its type, reading only the line's start (the
    /// CLI tallies a streamed backup this way without parsing each record).
    pub fn tally(&mut self, line: &str) {
        let tag = line.strip_prefix("{\"").and_then(|rest| rest.split_once('"')).map(|(t, _)| t);
        let counter = match tag {
            Some("user") => &mut self.users,
            Some("group") => &mut self.groups,
            Some("member") => &mut self.members,
            Some("token") => &mut self.tokens,
            Some("event") => &mut self.events,
            Some("cursor") => &mut self.cursors,
            Some("event_failure") => &mut self.event_failures,
            _ => &mut self.log,
        };
        *counter += 1;
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} users, {} groups, {} memberships, {} tokens, {} log entries, {} events, {} \
             receiver cursors, {} event failures",
            self.users,
            self.groups,
            self.members,
            self.tokens,
            self.log,
            self.events,
            self.cursors,
            self.event_failures
        )
    }
}

/// The first line of a backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// The schema version of the data file it was taken from.
    pub schema: u64,
    /// The scimd version that wrote it.
    pub scimd: String,
    pub created: String,
    pub counts: Counts,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceRecord {
    id: String,
    version: u64,
    created: String,
    last_modified: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    roles_derived: bool,
    attributes: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize)]
struct MemberRecord {
    group: String,
    member: String,
    #[serde(rename = "type")]
    kind: String,
}

/// An outbox event as a backup line's object: `seq`, then the `ChangeEvent`'s own fields (all
/// of them, as it serialises), with `id` as the hyphenated UUID. The stored row writes the id as
/// a 128-bit number, which common JSON tools (jq, JavaScript, serde_json's `Value`) turn into a
/// rounded float: a backup passed through one would restore events about other ids.
fn event_object(seq: u64, event: &ChangeEvent) -> Result<JsonObject, BackupError> {
    let text = serde_json::to_string(event).map_err(std::io::Error::from)?;
    // The big id number parses here as a float; it is replaced right away.
    let fields: JsonObject = serde_json::from_str(&text).map_err(std::io::Error::from)?;
    let mut object = JsonObject::new();
    object.insert("seq".into(), seq.into());
    object.extend(fields);
    object.insert("id".into(), event.id.to_string().into());
    Ok(object)
}

/// The sequence number and event of a backup's event object (see [`event_object`]).
fn event_from_object(mut object: JsonObject, line: u64) -> Result<(u64, ChangeEvent), BackupError> {
    let format = |reason: &str| BackupError::Format { line, reason: reason.into() };
    let seq = object.remove("seq").and_then(|v| v.as_u64()).filter(|&seq| seq > 0);
    let seq = seq.ok_or_else(|| format("event seq must be a number of at least 1"))?;
    let id = match object.get("id") {
        Some(serde_json::Value::String(text)) => parse_id(text, line)?,
        _ => return Err(format("event id must be a resource id (a UUID string)")),
    };
    // A placeholder a `Value` can hold; the parsed id replaces it.
    object.insert("id".into(), 0.into());
    let mut event: ChangeEvent = serde_json::from_value(object.into())
        .map_err(|e| BackupError::Format { line, reason: format!("event: {e}") })?;
    event.id = id;
    Ok((seq, event))
}

type JsonObject = serde_json::Map<String, serde_json::Value>;

/// A receiver's cursor: the name, then the cursor's own fields.
#[derive(Debug, Serialize, Deserialize)]
struct CursorRecord {
    receiver: String,
    #[serde(flatten)]
    cursor: EventCursor,
}

/// A failure a receiver reported: the name, then the failure's own fields.
#[derive(Debug, Serialize, Deserialize)]
struct EventFailureRecord {
    receiver: String,
    #[serde(flatten)]
    failure: EventFailure,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Record {
    User(ResourceRecord),
    Group(ResourceRecord),
    Member(MemberRecord),
    Token(StoredToken),
    Log(LogEntry),
    Event(JsonObject),
    Cursor(CursorRecord),
    EventFailure(EventFailureRecord),
}

/// Refuses a receiver name a configured receiver cannot have (`[a-z0-9-]{1,64}`, as the config
/// checks): it keys the cursor and failure rows and names the poll URL.
fn check_receiver(name: &str, line: u64) -> Result<(), BackupError> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if name.is_empty() || name.len() > 64 || !name.chars().all(allowed) {
        return Err(BackupError::Format {
            line,
            reason: format!(
                "receiver {:?} is not a receiver name ([a-z0-9-], 1 to 64 characters)",
                escape(name)
            ),
        });
    }
    Ok(())
}

impl From<StoredResource> for ResourceRecord {
    fn from(r: StoredResource) -> Self {
        ResourceRecord {
            id: r.id.to_string(),
            version: r.version,
            created: r.created,
            last_modified: r.last_modified,
            roles_derived: r.roles_derived,
            attributes: r.attributes,
        }
    }
}

fn parse_id(text: &str, line: u64) -> Result<ResourceId, BackupError> {
    ResourceId::parse(text)
        .ok_or_else(|| BackupError::Format { line, reason: format!("{text:?} is not an id") })
}

impl ResourceRecord {
    fn into_stored(self, line: u64) -> Result<StoredResource, BackupError> {
        if !self.attributes.is_object() {
            return Err(BackupError::Format {
                line,
                reason: "attributes must be an object".into(),
            });
        }
        Ok(StoredResource {
            id: parse_id(&self.id, line)?,
            version: self.version,
            created: self.created,
            last_modified: self.last_modified,
            attributes: self.attributes,
            roles_derived: self.roles_derived,
        })
    }
}

fn write_line(out: &mut impl Write, value: &impl Serialize) -> Result<(), BackupError> {
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

impl Reader {
    /// The counts a backup of this state holds.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        Ok(Counts {
            users: self.count(Kind::User)?,
            groups: self.count(Kind::Group)?,
            members: self.tx.open_table(GROUP_MEMBERS)?.len()?,
            tokens: self.tx.open_table(TOKENS)?.len()?,
            log: self.tx.open_table(PROVISIONING_LOG)?.len()?,
            events: self.tx.open_table(EVENTS)?.len()?,
            cursors: self.tx.open_table(EVENT_CURSORS)?.len()?,
            event_failures: self.tx.open_table(EVENT_FAILURES)?.len()?,
        })
    }

    /// Writes this read transaction's state as a backup; `created` goes into the header.
    pub fn backup(&self, out: &mut impl Write, created: &str) -> Result<Header, BackupError> {
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
            schema: SCHEMA_VERSION,
            scimd: env!("CARGO_PKG_VERSION").into(),
            created: created.into(),
            counts: self.counts()?,
        };
        write_line(out, &header)?;
        for kind in [Kind::User, Kind::Group] {
            self.scan(kind, |resource| {
                let record = match kind {
                    Kind::User => Record::User(resource.into()),
                    Kind::Group => Record::Group(resource.into()),
                };
                write_line(out, &record).map(|()| true)
            })?;
        }
        let mut failed = None;
        self.each_membership(|group, member| {
            let record = MemberRecord {
                group: group.to_string(),
                member: member.id.to_string(),
                kind: member.kind.kind().resource_type().into(),
            };
            if failed.is_none() {
                failed = write_line(out, &Record::Member(record)).err();
            }
            Ok(())
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        for token in self.tokens()? {
            write_line(out, &Record::Token(token))?;
        }
        for entry in self.tx.open_table(PROVISIONING_LOG)?.iter()? {
            let (seq, bytes) = entry?;
            write_line(out, &Record::Log(super::log::decode(seq.value(), bytes.value())?))?;
        }
        for row in self.tx.open_table(EVENTS)?.iter()? {
            let (seq, bytes) = row?;
            let (seq, what) = (seq.value(), format!("event {}", seq.value()));
            let event = codec::decode(bytes.value(), &what)?;
            write_line(out, &Record::Event(event_object(seq, &event)?))?;
        }
        for (receiver, cursor) in self.event_cursors()? {
            write_line(out, &Record::Cursor(CursorRecord { receiver, cursor }))?;
        }
        for row in self.tx.open_table(EVENT_FAILURES)?.iter()? {
            let (key, bytes) = row?;
            let (receiver, failure) = decode_failure_row(key.value(), bytes.value())?;
            write_line(out, &Record::EventFailure(EventFailureRecord { receiver, failure }))?;
        }
        out.flush()?;
        Ok(header)
    }

    /// Checks that every user and group is found through its name and externalId indexes, and
    /// that the indexes hold nothing else.
    pub fn check_indexes(&self) -> Result<(), BackupError> {
        for kind in [Kind::User, Kind::Group] {
            let (mut named, mut external, mut inactive) = (0u64, 0u64, 0u64);
            self.scan(kind, |r| {
                inactive += u64::from(kind == Kind::User && r.is_inactive());
                if let Some(name) = r.name(kind) {
                    named += 1;
                    if self.id_by_name(kind, name)? != Some(r.id) {
                        let problem = format!("{kind:?} {} is not found by its name", r.id);
                        return Err(BackupError::Check(problem));
                    }
                }
                if let Some(ext) = r.external_id() {
                    external += 1;
                    if !self.ids_by_external_id(kind, ext)?.contains(&r.id) {
                        let problem = format!("{kind:?} {} is not found by externalId", r.id);
                        return Err(BackupError::Check(problem));
                    }
                }
                Ok(true)
            })?;
            let (names, externals) = self.index_sizes(kind)?;
            if (names, externals) != (named, external) {
                return Err(BackupError::Check(format!(
                    "{kind:?} indexes hold {names} names and {externals} externalIds for \
                     {named} and {external}"
                )));
            }
            let indexed = if kind == Kind::User { self.inactive_users()? } else { 0 };
            if indexed != inactive {
                return Err(BackupError::Check(format!(
                    "the inactive-user index holds {indexed} users for {inactive}"
                )));
            }
        }
        Ok(())
    }
}

/// Restores the backup read from `input` into a new data file at `target` (which must not
/// exist), checks it, compacts it, and returns the header.
pub fn restore(input: impl BufRead, target: &Path) -> Result<Header, BackupError> {
    if target.exists() {
        return Err(BackupError::Check(format!("{} already exists", target.display())));
    }
    let mut lines = input.lines();
    let first = lines.next().transpose()?.unwrap_or_default();
    let header: Header = serde_json::from_str(&first).map_err(|e| BackupError::Format {
        line: 1,
        reason: format!("not a scimd backup header: {e}"),
    })?;
    if header.format != FORMAT || header.version != VERSION {
        return Err(BackupError::Format {
            line: 1,
            reason: format!(
                "format {:?} version {} (this scimd reads {FORMAT:?} version {VERSION})",
                header.format, header.version
            ),
        });
    }
    let mut store = Store::open(target)?;
    let mut found = Counts::default();
    let mut batch: Vec<(u64, Record)> = Vec::with_capacity(BATCH);
    let mut number = 1u64;
    for line in lines {
        let line = line?;
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(&line)
            .map_err(|e| BackupError::Format { line: number, reason: e.to_string() })?;
        batch.push((number, record));
        if batch.len() == BATCH {
            apply(&store, &mut batch, &mut found)?;
        }
    }
    apply(&store, &mut batch, &mut found)?;
    if found != header.counts {
        return Err(BackupError::Counts {
            expected: Box::new(header.counts),
            found: Box::new(found),
        });
    }
    let reader = store.read()?;
    let stored = reader.counts()?;
    if stored != header.counts {
        return Err(BackupError::Check(format!(
            "the new file holds {stored}, the backup {}",
            header.counts
        )));
    }
    reader.check_indexes()?;
    check_cursors(&reader)?;
    drop(reader);
    // Batches grow the file in redb's doubling steps; a restored file starts at its real size.
    store.compact()?;
    Ok(header)
}

/// Writes `batch` in one transaction and empties it.
fn apply(
    store: &Store,
    batch: &mut Vec<(u64, Record)>,
    found: &mut Counts,
) -> Result<(), BackupError> {
    store.write(|w| -> Result<(), BackupError> {
        for (line, record) in batch.drain(..) {
            match record {
                Record::User(r) => {
                    put_unique(w, Kind::User, &r.into_stored(line)?, line)?;
                    found.users += 1;
                }
                Record::Group(r) => {
                    put_unique(w, Kind::Group, &r.into_stored(line)?, line)?;
                    found.groups += 1;
                }
                Record::Member(m) => {
                    let kind = MemberKind::from_resource_type(&m.kind).ok_or_else(|| {
                        BackupError::Format { line, reason: format!("member type {:?}", m.kind) }
                    })?;
                    w.add_member(parse_id(&m.group, line)?, parse_id(&m.member, line)?, kind)?;
                    found.members += 1;
                }
                Record::Token(t) => {
                    w.put_token(&t)?;
                    found.tokens += 1;
                }
                Record::Log(entry) => {
                    w.restore_log(entry)?;
                    found.log += 1;
                }
                Record::Event(object) => {
                    let (seq, event) = event_from_object(object, line)?;
                    w.restore_event(seq, &event)?;
                    found.events += 1;
                }
                Record::Cursor(mut c) => {
                    check_receiver(&c.receiver, line)?;
                    // A feed's rows are not in a backup: it is taken again, from the restored
                    // directory, before the receiver's stream goes on (`service::feed`).
                    if c.cursor.feed.is_some() {
                        c.cursor.feed = Some(super::events::FeedProgress::default());
                    }
                    w.set_event_cursor(&c.receiver, &c.cursor)?;
                    found.cursors += 1;
                }
                Record::EventFailure(f) => {
                    check_receiver(&f.receiver, line)?;
                    w.record_event_failure(&f.receiver, &f.failure)?;
                    found.event_failures += 1;
                }
            }
        }
        Ok(())
    })
}

/// Refuses a restored cursor past the newest restored event: the receiver would silently miss
/// the changes made after the restore that reuse those sequence numbers.
fn check_cursors(reader: &Reader) -> Result<(), BackupError> {
    let newest = reader.last_event_seq()?;
    for (receiver, cursor) in reader.event_cursors()? {
        if cursor.acked > newest {
            return Err(BackupError::Check(format!(
                "receiver '{}' has acknowledged event {} but the newest event is {newest}",
                escape(&receiver),
                cursor.acked
            )));
        }
    }
    Ok(())
}

/// Writes a restored resource, refusing one whose name another restored resource already
/// holds under `name_key` (a backup from a scimd that compared names by lower-casing only can
/// hold `straße` and `strasse`): the restore stops with both named instead of an index that
/// misses one of them.
fn put_unique(
    w: &mut super::Writer,
    kind: Kind,
    resource: &StoredResource,
    line: u64,
) -> Result<(), BackupError> {
    if let Some(name) = resource.name(kind)
        && let Some(holder) = w.id_by_name(kind, name)?.filter(|h| *h != resource.id)
    {
        let other = w.name_of(kind, holder)?.unwrap_or_default();
        return Err(BackupError::Format {
            line,
            reason: format!(
                "{} '{}' ({}) has the same name as {} '{}' ({holder}) under Unicode \
                 normalisation and case folding; rename one of them before backing up, or \
                 restore with the scimd version that made the backup",
                kind.resource_type(),
                escape(name),
                resource.id,
                kind.resource_type(),
                escape(&other),
            ),
        });
    }
    w.put(kind, resource, None)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::{Activation, Change};

    fn event(n: i64) -> ChangeEvent {
        ChangeEvent {
            txn: format!("txn-{n}"),
            toe_millis: 1_000 * n,
            kind: Kind::User,
            // Above u64::MAX: the id must survive the backup's JSON exactly.
            id: ResourceId(u128::MAX - n as u128),
            external_id: Some(format!("ext-{n}")),
            change: Change::Patch,
            activation: Some(Activation::Deactivate),
            version: Some(2),
            attributes: vec!["active".into()],
            data: crate::domain::events::raw_data(
                &serde_json::json!([{"op": "replace", "path": "active", "value": false}]),
            ),
        }
    }

    fn backup_of(store: &Store) -> String {
        let mut out = Vec::new();
        store.read().unwrap().backup(&mut out, "2026-01-01T00:00:00.000Z").unwrap();
        String::from_utf8(out).unwrap()
    }

    fn restore_text(text: &str) -> (tempfile::TempDir, Result<Header, BackupError>) {
        let dir = tempfile::tempdir().unwrap();
        let result = restore(text.as_bytes(), &dir.path().join("restored.redb"));
        (dir, result)
    }

    /// An outbox whose oldest events were pruned (4..=9 left), a cursor and a failure.
    fn outbox() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("scimd.redb")).unwrap();
        store
            .write(|w| -> Result<(), StoreError> {
                for n in 1..=9 {
                    assert_eq!(w.append_event(event(n))?, n as u64);
                }
                w.prune_events(3, i64::MAX, 100)?;
                let stalled = Some("HTTP 401".into());
                let cursor = EventCursor { acked: 6, stalled, failed: 1, feed: None };
                w.set_event_cursor("wiki", &cursor)?;
                w.set_event_cursor("vpn", &EventCursor::default())?;
                let failure = EventFailure {
                    seq: 5,
                    feed: None,
                    time: "2026-01-01T00:00:05.000Z".into(),
                    error: "invalid_request: cannot parse".into(),
                };
                w.record_event_failure("wiki", &failure)
            })
            .unwrap();
        (dir, store)
    }

    #[test]
    fn events_cursors_and_failures_come_back_and_numbering_continues() {
        let (_dir, store) = outbox();
        let text = backup_of(&store);
        let header: Header = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(
            (header.counts.events, header.counts.cursors, header.counts.event_failures),
            (6, 2, 1)
        );
        let mut tallied = Counts::default();
        text.lines().skip(1).for_each(|line| tallied.tally(line));
        assert_eq!(tallied, header.counts);

        // As a JSON tool would pass it on: every line through serde_json's `Value`.
        let text: String = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap().to_string() + "\n")
            .collect();
        let first_event = text.lines().find(|l| l.starts_with("{\"event\"")).unwrap();
        assert!(
            first_event.starts_with("{\"event\":{\"seq\":4,\"txn\":\"txn-4\""),
            "{first_event}"
        );
        assert!(first_event.contains(&format!("\"id\":\"{}\"", event(4).id)), "{first_event}");

        let (dir, restored) = restore_text(&text);
        assert_eq!(restored.unwrap(), header);
        let copy = Store::open(&dir.path().join("restored.redb")).unwrap();
        let (original, restored) = (store.read().unwrap(), copy.read().unwrap());
        let events = restored.events_after(0, 100).unwrap();
        assert_eq!(events, original.events_after(0, 100).unwrap());
        assert_eq!(events.first().map(|(seq, e)| (*seq, e.id)), Some((4, event(4).id)));
        assert_eq!(restored.event_cursors().unwrap(), original.event_cursors().unwrap());
        assert_eq!(
            restored.event_failures("wiki", 10).unwrap(),
            original.event_failures("wiki", 10).unwrap()
        );
        assert_eq!(restored.events_pending(6).unwrap(), 3);
        drop(restored);
        assert_eq!(copy.write(|w| w.append_event(event(10))).unwrap(), 10, "after the newest");
    }

    #[test]
    fn a_backup_from_before_the_outbox_restores() {
        let (_dir, store) = outbox();
        let text = backup_of(&store);
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut header: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        for field in ["events", "cursors", "event_failures"] {
            header["counts"].as_object_mut().unwrap().remove(field);
        }
        lines[0] = header.to_string();
        lines.retain(|l| !["{\"event", "{\"cursor"].iter().any(|tag| l.starts_with(tag)));
        let (_target, restored) = restore_text(&lines.join("\n"));
        assert_eq!(restored.unwrap().counts, Counts::default());
    }

    #[test]
    fn a_missing_or_extra_event_record_is_refused() {
        let (_dir, store) = outbox();
        let text = backup_of(&store);
        for tag in ["{\"event\"", "{\"cursor\"", "{\"event_failure\""] {
            let mut cut: Vec<&str> = text.lines().collect();
            let first = cut.iter().position(|l| l.starts_with(tag)).unwrap();
            cut.remove(first);
            let (_target, restored) = restore_text(&cut.join("\n"));
            let error = restored.unwrap_err().to_string();
            assert!(error.contains("incomplete or altered"), "{tag}: {error}");
        }
        // A repeated event line overwrites its row: the file holds fewer than the records.
        let event_line = text.lines().find(|l| l.starts_with("{\"event\"")).unwrap();
        let mut doubled: Vec<&str> = text.lines().collect();
        doubled.push(event_line);
        let header = doubled[0].replace("\"events\":6", "\"events\":7");
        doubled[0] = &header;
        let (_target, restored) = restore_text(&doubled.join("\n"));
        assert!(restored.unwrap_err().to_string().contains("the new file holds"));
    }

    #[test]
    fn a_receiver_being_fed_is_fed_again_after_a_restore() {
        let (_dir, store) = outbox();
        store
            .write(|w| {
                let feed =
                    Some(super::super::events::FeedProgress { ready: true, total: 3, acked: 1 });
                w.set_event_cursor("hr", &EventCursor { acked: 6, feed, ..Default::default() })?;
                w.append_feed_rows("hr", 2, &[event(1), event(2)])
            })
            .unwrap();
        let (dir, restored) = restore_text(&backup_of(&store));
        restored.unwrap();
        let copy = Store::open(&dir.path().join("restored.redb")).unwrap();
        let r = copy.read().unwrap();
        let cursor = r.event_cursor("hr").unwrap().unwrap();
        assert_eq!((cursor.acked, cursor.feed), (6, Some(Default::default())), "taken again");
        assert!(r.feed_after("hr", 0, 10).unwrap().is_empty());
    }

    #[test]
    fn a_cursor_past_the_newest_event_or_a_bad_receiver_name_is_refused() {
        let (_dir, store) = outbox();
        let text = backup_of(&store);
        let ahead = text.replace("\"acked\":6", "\"acked\":12");
        let error = restore_text(&ahead).1.unwrap_err().to_string();
        assert!(
            error.contains("'wiki' has acknowledged event 12 but the newest event is 9"),
            "{error}"
        );
        let renamed = text.replace("\"receiver\":\"vpn\"", "\"receiver\":\"VPN/x\"");
        let error = restore_text(&renamed).1.unwrap_err().to_string();
        assert!(error.contains("receiver \"VPN/x\" is not a receiver name"), "{error}");
        assert!(error.starts_with("line "), "{error}");
        let unnumbered = text.replacen("{\"event\":{\"seq\":4", "{\"event\":{\"seq\":0", 1);
        let error = restore_text(&unnumbered).1.unwrap_err().to_string();
        assert!(error.contains("event seq must be a number of at least 1"), "{error}");
        let unnamed = text.replacen(&format!("\"id\":\"{}\"", event(4).id), "\"id\":7", 1);
        let error = restore_text(&unnamed).1.unwrap_err().to_string();
        assert!(error.contains("event id must be a resource id"), "{error}");
    }
}
