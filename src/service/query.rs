//! Listing and searching: filters, sorting and paging over users and groups.
//!
//! An `eq` on an indexed attribute (`id`, `userName`, `externalId`, group `displayName`) or a
//! `sw` on the name or `externalId`, alone or on either side of an `and` (both sides of an
//! `or`), narrows the candidates through the index first; the whole filter is then evaluated
//! on each candidate. Anything else scans in id order, which is also the stable order pages
//! are cut from when no `sortBy` is given. Either way only one page of resources is kept:
//! matches outside it are counted, not collected (with `sortBy`, only their sort keys).

use serde_json::Value;

use crate::domain::{Kind, ResourceId};
use crate::scim::filter::{self, CompValue, CompareOp, Filter};
use crate::scim::list::{self, ListResponseWriter, SortOrder};
use crate::scim::path::AttrPath;
use crate::scim::projection::Projection;
use crate::scim::schema::resource_type;
use crate::store::{RawRow, Reader, StoredResource};

use super::render::{JsonBody, relation, render_owned, write_view};
use super::{Service, ServiceError};

/// A parsed list or search request.
#[derive(Debug)]
pub struct ListRequest {
    pub filter: Option<Filter>,
    pub sort_by: Option<AttrPath>,
    pub sort_order: SortOrder,
    /// 1-based.
    pub start_index: u64,
    pub count: u64,
    /// `attributes`/`excludedAttributes` read against each resource type's schema, so a root
    /// `.search` projects users and groups alike.
    pub user_projection: Projection,
    pub group_projection: Projection,
}

impl ListRequest {
    pub fn projection(&self, kind: Kind) -> &Projection {
        match kind {
            Kind::User => &self.user_projection,
            Kind::Group => &self.group_projection,
        }
    }
}

impl Service {
    /// Answers `GET /Users`, `GET /Groups`, their `.search`, and the root `.search` (with both
    /// kinds) with a ListResponse.
    pub async fn list(
        &self,
        kinds: Vec<Kind>,
        request: ListRequest,
    ) -> Result<JsonBody, ServiceError> {
        // A point lookup reads a handful of rows: run it on the request's worker (no
        // blocking-pool round trip). Scans may read every row: they go to the blocking pool.
        let indexed = request.sort_by.is_none()
            && request
                .filter
                .as_ref()
                .is_some_and(|f| kinds.iter().all(|&k| is_point_lookup(k, f)));
        if indexed {
            return self.list_blocking(&kinds, request);
        }
        self.blocking(move |s| s.list_blocking(&kinds, request)).await
    }

    fn list_blocking(
        &self,
        kinds: &[Kind],
        request: ListRequest,
    ) -> Result<JsonBody, ServiceError> {
        // The kinds the filter makes sense for; it must fit at least one of those searched.
        let mut searched = Vec::new();
        let mut first_error = None;
        for &kind in kinds {
            match request.filter.as_ref().map(|f| filter::validate(f, resource_type(kind))) {
                Some(Err(e)) => first_error = first_error.or(Some(e)),
                _ => searched.push(kind),
            }
        }
        if let (true, Some(e)) = (searched.is_empty(), first_error) {
            return Err(ServiceError::Invalid(e));
        }
        if let Some(sort_by) = &request.sort_by
            && kinds.iter().all(|k| sort_by.resolve(resource_type(*k)).is_err())
        {
            return Err(ServiceError::Invalid(crate::scim::ScimError::invalid_value(format!(
                "sortBy names an attribute the resource has not: {}",
                sort_by.attr
            ))));
        }
        let reader = self.store.read()?;
        let base = &self.settings.base_url;
        let start = request.start_index.max(1);

        // Without filter or sort, pages are cut straight from the table in id order.
        if let ([kind], None, None) = (kinds, &request.filter, &request.sort_by) {
            let kind = *kind;
            let total = reader.count(kind)?;
            let rows = reader.page(kind, start - 1, request.count)?;
            let mut out = ListResponseWriter::new(total, start, rows.len());
            self.write_rows(&reader, kind, &rows, request.projection(kind), &mut out)?;
            return Ok(JsonBody(out.finish()));
        }

        // A filter an index answers exactly (`userName eq "…"`): no row is decoded.
        let skip = usize::try_from(start - 1).unwrap_or(usize::MAX);
        let take = usize::try_from(request.count).unwrap_or(usize::MAX);
        if let ([kind], Some(f), None) = (kinds, &request.filter, &request.sort_by)
            && answered_by_index(*kind, f)
            && let Some(ids) = candidates(&reader, *kind, f)?
        {
            let kind = *kind;
            let mut rows = Vec::with_capacity(ids.len());
            for id in ids {
                rows.extend(reader.get_raw(kind, id)?);
            }
            let total = rows.len() as u64;
            let page: Vec<RawRow> = rows.into_iter().skip(skip).take(take).collect();
            let mut out = ListResponseWriter::new(total, start, page.len());
            self.write_rows(&reader, kind, &page, request.projection(kind), &mut out)?;
            return Ok(JsonBody(out.finish()));
        }

        // Otherwise count every match but keep only the page: the resources themselves
        // without sortBy, just (sort key, id) with it, rendering the page once sorted.
        let mut total: usize = 0;
        let mut page: Vec<(Kind, Value)> = Vec::new();
        let mut keyed: Vec<(list::SortKey, Kind, ResourceId)> = Vec::new();
        for &kind in &searched {
            let rt = resource_type(kind);
            let needs_relations = request.projection(kind).wants(rt, relation(kind))
                || request.filter.as_ref().is_some_and(|f| reads(f, relation(kind)))
                || request
                    .sort_by
                    .as_ref()
                    .is_some_and(|p| p.attr.eq_ignore_ascii_case(relation(kind)));
            let mut consider = |stored: StoredResource| -> Result<(), ServiceError> {
                let id = stored.id;
                let full = render_owned(&reader, base, kind, stored, needs_relations)?;
                if request.filter.as_ref().is_some_and(|f| !filter::matches(f, &full, rt)) {
                    return Ok(());
                }
                match &request.sort_by {
                    Some(sort_by) => keyed.push((list::sort_key(&full, sort_by, rt), kind, id)),
                    None if total >= skip && page.len() < take => page.push((kind, full)),
                    None => {}
                }
                total += 1;
                Ok(())
            };
            each_candidate(&reader, kind, request.filter.as_ref(), false, &mut consider)?;
        }

        if request.sort_by.is_some() {
            // A stable sort: ties keep id order, so pages do not overlap.
            keyed.sort_by(|a, b| list::compare_sort_keys(&a.0, &b.0, request.sort_order));
            for (_, kind, id) in keyed.into_iter().skip(skip).take(take) {
                if let Some(stored) = reader.get(kind, id)? {
                    let rt = resource_type(kind);
                    let with_relations = request.projection(kind).wants(rt, relation(kind));
                    page.push((kind, render_owned(&reader, base, kind, stored, with_relations)?));
                }
            }
        }
        let mut out = ListResponseWriter::new(total as u64, start, page.len());
        for (kind, v) in page {
            out.value(&request.projection(kind).apply_owned(resource_type(kind), v));
        }
        Ok(JsonBody(out.finish()))
    }

    /// Every resource of `kind` that `filter` matches, in id order, from one read transaction,
    /// each rendered as `GET` returns it and handed to `emit` (the admin `users list`). An
    /// indexed filter reads only its candidates; any other reads each row once. Blocking.
    pub fn export(
        &self,
        kind: Kind,
        filter: Option<&Filter>,
        mut emit: impl FnMut(Value) -> Result<(), ServiceError>,
    ) -> Result<u64, ServiceError> {
        let rt = resource_type(kind);
        if let Some(f) = filter {
            filter::validate(f, rt)?;
        }
        let reader = self.store.read()?;
        let base = &self.settings.base_url;
        let mut total = 0;
        let consider = |stored: StoredResource| -> Result<(), ServiceError> {
            let full = render_owned(&reader, base, kind, stored, true)?;
            if filter.is_none_or(|f| filter::matches(f, &full, rt)) {
                total += 1;
                emit(full)?;
            }
            Ok(())
        };
        each_candidate(&reader, kind, filter, true, consider)?;
        Ok(total)
    }

    /// Writes the rows of a page, projected: straight from the stored text with the default
    /// projection, through the rendered value with any other.
    fn write_rows(
        &self,
        reader: &Reader,
        kind: Kind,
        rows: &[RawRow],
        projection: &Projection,
        out: &mut ListResponseWriter,
    ) -> Result<(), ServiceError> {
        let base = &self.settings.base_url;
        let rt = resource_type(kind);
        let with_relations = projection.wants(rt, relation(kind));
        for row in rows {
            if projection.is_default() {
                write_view(reader, base, kind, &row.view()?, with_relations, out.item())?;
            } else {
                let full = render_owned(reader, base, kind, row.decode()?, with_relations)?;
                out.value(&projection.apply_owned(rt, full));
            }
        }
        Ok(())
    }
}

/// Hands `visit` each resource of `kind` that `filter`'s index narrows it to (in id order when
/// `id_order`, else in the index's order), or every resource, in id order, when no index
/// narrows it. `visit` still has to evaluate the filter.
fn each_candidate(
    reader: &Reader,
    kind: Kind,
    filter: Option<&Filter>,
    id_order: bool,
    mut visit: impl FnMut(StoredResource) -> Result<(), ServiceError>,
) -> Result<(), ServiceError> {
    match filter.map(|f| candidates(reader, kind, f)).transpose()?.flatten() {
        Some(mut ids) => {
            if id_order {
                ids.sort();
                ids.dedup();
            }
            for id in ids {
                if let Some(stored) = reader.get(kind, id)? {
                    visit(stored)?;
                }
            }
            Ok(())
        }
        None => reader.scan(kind, |stored| visit(stored).map(|()| true)),
    }
}

/// An attribute with an index, as a filter path names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Indexed {
    Id,
    Name,
    ExternalId,
}

/// Which index `path` names for `kind`: `id`, the naming attribute or `externalId`, as a
/// plain or core-URN-qualified name without a sub-attribute.
fn indexed(kind: Kind, path: &AttrPath) -> Option<Indexed> {
    let core = path
        .schema
        .as_deref()
        .is_none_or(|s| s.eq_ignore_ascii_case(resource_type(kind).schema.id));
    if !core || path.sub.is_some() {
        return None;
    }
    let attr = path.attr.as_str();
    if attr.eq_ignore_ascii_case("id") {
        Some(Indexed::Id)
    } else if attr.eq_ignore_ascii_case(kind.name_attribute()) {
        Some(Indexed::Name)
    } else if attr.eq_ignore_ascii_case("externalId") {
        Some(Indexed::ExternalId)
    } else {
        None
    }
}

/// Whether [`candidates`] is the whole answer to `f`, with no row to check: an `eq` on the
/// naming attribute (its index folds case as the attribute's comparison does) or on
/// `externalId` (case-exact, as is its index).
fn answered_by_index(kind: Kind, f: &Filter) -> bool {
    matches!(
        f,
        Filter::Compare { path, op: CompareOp::Eq, value: CompValue::Str(_) }
            if matches!(indexed(kind, path), Some(Indexed::Name | Indexed::ExternalId))
    )
}

/// Whether the filter reads the top-level attribute `attr`.
fn reads(f: &Filter, attr: &str) -> bool {
    // `members` and `groups` are core attributes, so a URN-qualified name counts only with a
    // core schema URN (`urn:…:core:2.0:Group:members`).
    f.attributes().iter().any(|p| {
        p.attr.eq_ignore_ascii_case(attr)
            && p.schema.as_deref().is_none_or(|s| s.to_ascii_lowercase().contains(":core:"))
    })
}

/// Whether [`candidates`] narrows `f` to a few rows for `kind`: an `eq` on `id`, the name or
/// `externalId`, alone, in an `and`, or on both sides of an `or` (`sw` may match thousands).
fn is_point_lookup(kind: Kind, f: &Filter) -> bool {
    match f {
        Filter::Compare { path, op: CompareOp::Eq, value: CompValue::Str(_) } => {
            indexed(kind, path).is_some()
        }
        Filter::And(a, b) => is_point_lookup(kind, a) || is_point_lookup(kind, b),
        Filter::Or(a, b) => is_point_lookup(kind, a) && is_point_lookup(kind, b),
        _ => false,
    }
}

/// The ids an index can narrow `f` to, or None when the filter needs a scan.
fn candidates(
    reader: &Reader,
    kind: Kind,
    f: &Filter,
) -> Result<Option<Vec<ResourceId>>, ServiceError> {
    match f {
        Filter::Compare {
            path,
            op: op @ (CompareOp::Eq | CompareOp::Sw),
            value: CompValue::Str(value),
        } => {
            let sw = *op == CompareOp::Sw;
            Ok(match (indexed(kind, path), sw) {
                (Some(Indexed::Id), false) => Some(ResourceId::parse(value).into_iter().collect()),
                (Some(Indexed::Name), false) => {
                    Some(reader.id_by_name(kind, value)?.into_iter().collect())
                }
                (Some(Indexed::Name), true) => Some(reader.ids_by_name_prefix(kind, value)?),
                (Some(Indexed::ExternalId), false) => Some(reader.ids_by_external_id(kind, value)?),
                (Some(Indexed::ExternalId), true) => {
                    Some(reader.ids_by_external_prefix(kind, value)?)
                }
                (Some(Indexed::Id), true) | (None, _) => None,
            })
        }
        Filter::And(a, b) => {
            Ok(match (candidates(reader, kind, a)?, candidates(reader, kind, b)?) {
                (Some(x), Some(y)) => Some(x.into_iter().filter(|id| y.contains(id)).collect()),
                (Some(x), None) | (None, Some(x)) => Some(x),
                (None, None) => None,
            })
        }
        Filter::Or(a, b) => {
            Ok(match (candidates(reader, kind, a)?, candidates(reader, kind, b)?) {
                (Some(mut x), Some(y)) => {
                    for id in y {
                        if !x.contains(&id) {
                            x.push(id);
                        }
                    }
                    x.sort();
                    Some(x)
                }
                _ => None,
            })
        }
        _ => Ok(None),
    }
}
