//! Browsing for a person, not an IdP: keyset pages of users and groups in name order, a
//! group's members a page at a time, and a resource's provisioning history. The admin console
//! calls these; each reads a bounded number of rows per call (a page, or a scan budget), so a
//! search on a 100,000-user directory or the history of one user in a long log answers in
//! milliseconds and says where to go on, instead of reading everything.

use serde_json::Value;

use super::checked_filter::CheckedFilter;
use super::query::Plan;
use super::render::render_owned;
use super::{Service, ServiceError};
use crate::domain::text::name_key;
use crate::domain::{Kind, ResourceId};
use crate::scim::filter;
use crate::scim::schema::resource_type;
use crate::scim::text::fold;
use crate::store::{LogEntry, ReadQueries, Reader, Subject};

/// Rows one browse call may look at before it answers with what it found so far.
pub const SCAN_BUDGET: usize = 5_000;

/// Log entries one history or log call may look at.
pub const LOG_SCAN_BUDGET: usize = 20_000;

/// A page of users or groups in name order.
#[derive(Debug, Default)]
pub struct BrowseRequest {
    /// Only resources this filter matches (checked against the kind browsed).
    pub search: Option<CheckedFilter>,
    /// A text every match of `search` holds somewhere in its attributes (a plain-text
    /// search's words): a row whose attributes do not contain it, folded as caseExact=false
    /// comparisons fold, is passed over without being rendered. Ignored when the folded text
    /// holds a character JSON escapes (`"`, `\`, a control character), which the stored text
    /// would spell otherwise.
    pub contains: Option<String>,
    /// The name key the previous page ended at (exclusive).
    pub after: Option<String>,
    /// Z to A instead of A to Z.
    pub descending: bool,
    pub limit: usize,
}

/// What [`Service::browse`] found.
#[derive(Debug, Clone, Default)]
pub struct BrowsePage {
    /// Rendered as `GET` renders them, without `groups`/`members`.
    pub items: Vec<Value>,
    /// Where the next page starts (`after`), when there may be more.
    pub next: Option<String>,
    /// The page stopped at [`SCAN_BUDGET`] rows looked at, not because it was full.
    pub budget_spent: bool,
}

/// One member of a group, as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSummary {
    pub id: String,
    pub kind: Kind,
    /// The member's userName or displayName; `None` when its row is gone.
    pub name: Option<String>,
}

/// A group and one page of its members.
#[derive(Debug, Clone)]
pub struct MembersPage {
    /// The group without `members`.
    pub group: Value,
    pub members: Vec<MemberSummary>,
    /// The member id the next page starts after, when there may be more.
    pub next: Option<String>,
}

/// Log entries newest first and where an older look goes on.
#[derive(Debug, Clone, Default)]
pub struct LogSlice {
    pub entries: Vec<LogEntry>,
    /// The `before` of the next call; `None` once the oldest entry was looked at.
    pub older: Option<u64>,
}

impl Service {
    /// A page of `kind` in name order (userName or displayName, compared as the uniqueness
    /// rule compares them), read along the name index from `after`.
    pub async fn browse(
        &self,
        kind: Kind,
        request: BrowseRequest,
    ) -> Result<BrowsePage, ServiceError> {
        self.blocking(move |s| s.browse_blocking(kind, request)).await
    }

    fn browse_blocking(
        &self,
        kind: Kind,
        request: BrowseRequest,
    ) -> Result<BrowsePage, ServiceError> {
        let reader = self.store.read()?;
        if let Some(search) = &request.search
            && let Plan::Indexed(ids) | Plan::Partial(ids) =
                Plan::for_filter(&reader, kind, Some(search))?
            && ids.len() <= SCAN_BUDGET
        {
            return self.browse_candidates(&reader, kind, ids, &request);
        }
        self.browse_names(&reader, kind, request)
    }

    /// A page along the name index, each row checked against the search.
    fn browse_names(
        &self,
        reader: &Reader,
        kind: Kind,
        request: BrowseRequest,
    ) -> Result<BrowsePage, ServiceError> {
        const CHUNK: usize = 256;
        let rt = resource_type(kind);
        let base = &self.settings.base_url;
        let limit = request.limit.max(1);
        let needle = request.contains.as_deref().map(|t| fold(t).into_owned()).filter(|t| {
            !t.is_empty() && !t.chars().any(|c| c == '"' || c == '\\' || c.is_control())
        });
        let mut page = BrowsePage::default();
        let mut cursor = request.after;
        let mut looked = 0;
        loop {
            let keys = reader.names_after(kind, cursor.as_deref(), request.descending, CHUNK)?;
            let last_chunk = keys.len() < CHUNK;
            for (key, id) in keys {
                looked += 1;
                // With a text to look for, the row's attributes are searched before it is
                // decoded; only rows that hold the text are decoded and rendered.
                let stored = match &needle {
                    None => reader.get(kind, id)?,
                    Some(needle) => match reader.get_raw(kind, id)? {
                        Some(raw) if fold(&raw.view()?.attributes).contains(needle.as_str()) => {
                            Some(raw.decode()?)
                        }
                        _ => None,
                    },
                };
                if let Some(stored) = stored {
                    let value = render_owned(reader, base, kind, stored, false)?;
                    if request.search.as_ref().is_none_or(|f| filter::matches(f, &value, rt)) {
                        page.items.push(value);
                    }
                }
                if page.items.len() >= limit || looked >= SCAN_BUDGET {
                    page.budget_spent = page.items.len() < limit;
                    page.next = Some(key);
                    return Ok(page);
                }
                cursor = Some(key);
            }
            if last_chunk {
                return Ok(page);
            }
        }
    }

    /// A page of the resources an index names for the search (at most [`SCAN_BUDGET`]): each
    /// read and checked, then put in name order and cut at `after` and `limit`.
    fn browse_candidates(
        &self,
        reader: &Reader,
        kind: Kind,
        ids: Vec<ResourceId>,
        request: &BrowseRequest,
    ) -> Result<BrowsePage, ServiceError> {
        let rt = resource_type(kind);
        let base = &self.settings.base_url;
        let mut found = Vec::new();
        for id in ids {
            let Some(stored) = reader.get(kind, id)? else { continue };
            let value = render_owned(reader, base, kind, stored, false)?;
            if request.search.as_ref().is_none_or(|f| filter::matches(f, &value, rt)) {
                let key = value.get(kind.name_attribute()).and_then(Value::as_str).map(name_key);
                found.push((key.unwrap_or_default(), value));
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        if request.descending {
            found.reverse();
        }
        let after = request.after.as_deref();
        let past = |key: &str| match after {
            None => true,
            Some(a) if request.descending => key < a,
            Some(a) => key > a,
        };
        let limit = request.limit.max(1);
        let mut rest = found.into_iter().filter(|(key, _)| past(key));
        let mut page = BrowsePage::default();
        let mut last = None;
        for (key, value) in rest.by_ref().take(limit) {
            page.items.push(value);
            last = Some(key);
        }
        if rest.next().is_some() {
            page.next = last;
        }
        Ok(page)
    }

    /// Group `id` without its members, and up to `limit` of them after member id `after`.
    pub async fn members_page(
        &self,
        id: String,
        after: Option<String>,
        limit: usize,
    ) -> Result<MembersPage, ServiceError> {
        self.blocking(move |s| s.members_page_blocking(&id, after.as_deref(), limit)).await
    }

    fn members_page_blocking(
        &self,
        id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<MembersPage, ServiceError> {
        let not_found = || ServiceError::NotFound(format!("no group with id {id}"));
        let group_id = ResourceId::parse(id).ok_or_else(not_found)?;
        let reader = self.store.read()?;
        let stored = reader.get(Kind::Group, group_id)?.ok_or_else(not_found)?;
        let group = render_owned(&reader, &self.settings.base_url, Kind::Group, stored, false)?;
        let after = after.and_then(ResourceId::parse);
        let limit = limit.max(1);
        // One more than the page says whether there is a next one.
        let mut rows = reader.members_after(group_id, after, limit + 1)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = more.then(|| rows.last().map(|r| r.id.to_string())).flatten();
        let mut members = Vec::with_capacity(rows.len());
        for row in rows {
            let kind = row.kind.kind();
            members.push(MemberSummary {
                id: row.id.to_string(),
                kind,
                name: reader.name_of(kind, row.id)?,
            });
        }
        Ok(MembersPage { group, members, next })
    }

    /// The newest `limit` provisioning-log entries about resource `id` of `kind`, and, given
    /// its `name`, the refused writes that named it without an id (a create refused before the
    /// resource existed), newest first, read through the log's by-subject index.
    pub async fn history(
        &self,
        kind: Kind,
        id: String,
        name: Option<String>,
        limit: usize,
    ) -> Result<Vec<LogEntry>, ServiceError> {
        self.blocking(move |s| s.history_blocking(kind, &id, name, limit)).await
    }

    /// [`Service::history`] on the calling thread. Blocking: one read.
    pub fn history_blocking(
        &self,
        kind: Kind,
        id: &str,
        name: Option<String>,
        limit: usize,
    ) -> Result<Vec<LogEntry>, ServiceError> {
        let mut subjects: Vec<Subject> =
            ResourceId::parse(id).map(Subject::Id).into_iter().collect();
        if let Some(name) = name {
            subjects.push(Subject::Name { resource_type: kind.resource_type().to_string(), name });
        }
        Ok(self.store.read()?.log_about(&subjects, limit)?)
    }

    /// Up to `limit` provisioning-log entries `wanted` accepts written at `since` (RFC 3339) or
    /// later, newest first, looking at no more than [`LOG_SCAN_BUDGET`] entries.
    pub async fn log_since(
        &self,
        since: String,
        limit: usize,
        wanted: impl Fn(&LogEntry) -> bool + Send + 'static,
    ) -> Result<Vec<LogEntry>, ServiceError> {
        self.blocking(move |s| {
            Ok(s.store.read()?.log_since(&since, limit, LOG_SCAN_BUDGET, wanted)?)
        })
        .await
    }

    /// Up to `limit` provisioning-log entries `wanted` accepts, newest first, below sequence
    /// number `before`, looking at no more than [`LOG_SCAN_BUDGET`] entries.
    pub async fn log_slice(
        &self,
        before: Option<u64>,
        limit: usize,
        wanted: impl Fn(&LogEntry) -> bool + Send + 'static,
    ) -> Result<LogSlice, ServiceError> {
        self.blocking(move |s| {
            let reader = s.store.read()?;
            let (entries, older) = reader.log_before(before, limit, LOG_SCAN_BUDGET, wanted)?;
            Ok(LogSlice { entries, older })
        })
        .await
    }
}
