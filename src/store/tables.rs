//! Every redb table scimd uses, in one place, with its key/value layout.
//!
//! A table's name carries its layout version (`.v1`): a change of layout is a new table plus a
//! numbered migration in `migrate.rs`, never an in-place reinterpretation. Values are our own
//! envelope (`codec.rs`), never redb-derived types, so a redb major upgrade cannot change them.
//! Only `store` names these tables.

use redb::TableDefinition;

/// Store-wide facts. Key: a fixed name (`schema_version`). Value: envelope(JSON number).
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta.v1");

/// Users. Key: the user id (a UUID as u128). Value: envelope(`StoredResource`).
pub const USERS: TableDefinition<u128, &[u8]> = TableDefinition::new("users.v1");

/// Groups. Key: the group id (a UUID as u128). Value: envelope(`StoredResource`).
pub const GROUPS: TableDefinition<u128, &[u8]> = TableDefinition::new("groups.v1");

/// Unique index: the `userName`'s comparison key (`domain::text::name_key`: NFKD, full case
/// folding, NFKC) -> user id. Version 2: version 1 (schema 5 and before) was keyed by the
/// lower-cased name; migration 5 → 6 rebuilds it and drops v1.
pub const USER_NAME_INDEX: TableDefinition<&str, u128> = TableDefinition::new("user_name_idx.v2");

/// Unique index: the group `displayName`'s comparison key -> group id, as `USER_NAME_INDEX`.
pub const GROUP_NAME_INDEX: TableDefinition<&str, u128> = TableDefinition::new("group_name_idx.v2");

/// The name indexes of schema 5 and before (lower-cased keys), read only by the migration
/// that replaces them.
pub const USER_NAME_INDEX_V1: TableDefinition<&str, u128> =
    TableDefinition::new("user_name_idx.v1");
pub const GROUP_NAME_INDEX_V1: TableDefinition<&str, u128> =
    TableDefinition::new("group_name_idx.v1");

/// Index: `externalId` (exactly as sent; it is caseExact) followed by 0x00 and the 16 id bytes
/// -> (). `externalId` is not unique, so the id is part of the key; a prefix range finds all.
pub const USER_EXTERNAL_INDEX: TableDefinition<&[u8], ()> =
    TableDefinition::new("user_external_idx.v1");

/// Index: group `externalId` + 0x00 + id bytes -> (), as `USER_EXTERNAL_INDEX`.
pub const GROUP_EXTERNAL_INDEX: TableDefinition<&[u8], ()> =
    TableDefinition::new("group_external_idx.v1");

/// Index: a user's `manager.value` (exactly as stored) + 0x00 + the user's id bytes -> ().
/// Finds the users a deleted user managed without scanning every user.
pub const USER_MANAGER_INDEX: TableDefinition<&[u8], ()> =
    TableDefinition::new("user_manager_idx.v1");

/// Index: the ids of deactivated users (`active` false) -> (). Its length is the inactive
/// count the metrics report, without reading a row.
pub const INACTIVE_USERS: TableDefinition<u128, ()> = TableDefinition::new("inactive_users.v1");

/// Membership rows. Key: group id (16 bytes BE) ++ member id (16 bytes BE).
/// Value: the member's kind (`MemberKind` as u8). One row per member, so adding or removing a
/// member touches O(1) rows whatever the group's size.
pub const GROUP_MEMBERS: TableDefinition<&[u8], u8> = TableDefinition::new("group_members.v1");

/// Reverse membership. Key: member id ++ group id. Value: the member's kind. Serves a user's
/// read-only `groups` attribute and member clean-up on delete without scanning groups.
pub const MEMBER_GROUPS: TableDefinition<&[u8], u8> = TableDefinition::new("member_groups.v1");

/// Bearer tokens. Key: the token id (the `<id>` in `scimd_<id>_<secret>`).
/// Value: envelope(`StoredToken`), which holds an argon2id PHC hash, never the secret.
pub const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens.v1");

/// The provisioning log. Key: a sequence number, increasing. Value: envelope(`LogEntry`).
pub const PROVISIONING_LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log.v1");

/// The provisioning log by what each entry is about, so a resource's history is read without
/// walking the log (`log.rs`). Key: the entry's bucket (its sequence number / 128, 4 bytes BE)
/// ++ [`super::log::subject_key`] (the entry's resource id, or for an entry without one, such
/// as a refused create, its name's key) ++ the sequence number (8 bytes BE). Kept with the
/// log: appended, restored and pruned together.
pub const LOG_BY_SUBJECT: TableDefinition<&[u8], ()> = TableDefinition::new("log_by_subject.v1");

/// How many rows each slice of the id space holds, so a page can start at any offset without
/// walking the rows before it. Key: the kind (0 users, 1 groups). Value: 4,096 big-endian u32
/// counts, one per 12-bit id prefix, in prefix order. Ids are random UUIDs, so the slices fill
/// evenly. One value per kind: a batch of writes rewrites it once.
pub const ROW_BUCKETS: TableDefinition<u8, &[u8]> = TableDefinition::new("row_buckets.v1");

/// The change-event outbox (`events.rs`). Key: the event's sequence number, increasing from 1
/// across the directory. Value: envelope(`domain::events::ChangeEvent`). Appended in the same
/// transaction as the change; pruned once every receiver has it and it is old enough.
pub const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events.v1");

/// Each event receiver's progress. Key: the receiver's name. Value: envelope(`EventCursor`):
/// the last sequence number it acknowledged, and its state.
pub const EVENT_CURSORS: TableDefinition<&str, &[u8]> = TableDefinition::new("event_cursors.v1");

/// Events a receiver refused as malformed (`invalid_request`) and was moved past. Key: the
/// receiver's name, 0x00, the sequence number (8 bytes, big-endian). Value: envelope(the error).
pub const EVENT_FAILURES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("event_failures.v1");

/// The feed of a receiver that starts from the beginning: one `feed:add` event per resource in
/// the read snapshot it was taken from, delivered before the outbox's events after that
/// snapshot. Key: the receiver's name, 0x00, the feed index from 1 (8 bytes, big-endian).
/// Value: envelope(`domain::events::ChangeEvent`). Rows go as the receiver acknowledges them.
pub const EVENT_FEED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("event_feed.v1");

/// The values of declared extension attributes with `uniqueness = "server"`. Key: the kind
/// (0 user, 1 group), the attribute's URN-qualified name in lower case, 0x00, then the value
/// (as `domain::text::name_key` folds it unless the attribute is case-exact). Value: the id
/// holding it. Built when such an attribute is declared (`service::schemas`), kept in step by
/// every put and delete.
pub const UNIQUE_VALUES: TableDefinition<&[u8], u128> = TableDefinition::new("unique_values.v1");
