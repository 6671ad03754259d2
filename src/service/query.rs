//! Listing and searching: filters, sorting and paging over users and groups.
//!
//! An `eq` on an indexed attribute (`id`, `userName`, `externalId`, group `displayName`) or a
//! `sw` on the name or `externalId`, alone or on either side of an `and` (both sides of an
//! `or`), narrows the candidates through the index first; the whole filter is then evaluated
//! on each candidate, unless the index alone answers it. [`Plan`] says which of those it is,
//! before any row is read. Anything else scans in id order, which is also the stable order
//! pages are cut from when no `sortBy` is given. Either way only one page of resources is kept:
//! matches outside it are counted, not collected (with `sortBy`, only their sort keys).

use std::collections::HashSet;

use serde_json::Value;

use crate::domain::{Kind, ResourceId};
use crate::scim::filter::{self, CompValue, CompareOp, Filter};
use crate::scim::list::{self, ListResponseWriter, SortOrder};
use crate::scim::path::AttrPath;
use crate::scim::projection::Projection;
use crate::scim::schema::{AttrDef, SchemaDef, resource_type};
use crate::store::{RawRow, ReadQueries, Reader, StoredResource};

use super::checked_filter::CheckedFilter;
use super::render::{JsonBody, relation, render_owned, write_view};
use super::{Service, ServiceError};

/// A parsed list or search request.
#[derive(Debug)]
pub struct ListRequest {
    /// Checked against the kinds the request searches ([`CheckedFilter::parse`]).
    pub filter: Option<CheckedFilter>,
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
        // The kinds the filter fits (it was checked against each when it was parsed); a root
        // `.search` skips the others.
        let searched: Vec<Kind> = kinds
            .iter()
            .copied()
            .filter(|&kind| request.filter.as_ref().is_none_or(|f| f.fits(kind)))
            .collect();
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

        // Which rows each searched kind has to look at: read from the indexes once, here.
        let mut plans = Vec::with_capacity(searched.len());
        for &kind in &searched {
            plans.push((kind, Plan::for_filter(&reader, kind, request.filter.as_deref())?));
        }

        // A filter an index answers exactly (`userName eq "…"`): no row is decoded.
        let skip = usize::try_from(start - 1).unwrap_or(usize::MAX);
        let take = usize::try_from(request.count).unwrap_or(usize::MAX);
        if let ([_], [(kind, Plan::Indexed(ids))], None) =
            (kinds, plans.as_slice(), &request.sort_by)
        {
            let kind = *kind;
            let mut rows = Vec::with_capacity(ids.len());
            for &id in ids {
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
        for (kind, plan) in plans {
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
            each_candidate(&reader, kind, plan, false, &mut consider)?;
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

    /// Every resource of `kind` that `filter` (checked against `kind`) matches, in id order,
    /// from one read transaction, each rendered as `GET` returns it and handed to `emit` (the
    /// admin `users list`). An indexed filter reads only its candidates; any other reads each
    /// row once. Blocking.
    pub fn export(
        &self,
        kind: Kind,
        filter: Option<&CheckedFilter>,
        mut emit: impl FnMut(Value) -> Result<(), ServiceError>,
    ) -> Result<u64, ServiceError> {
        let rt = resource_type(kind);
        let filter = filter.map(|f| &**f);
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
        each_candidate(&reader, kind, Plan::for_filter(&reader, kind, filter)?, true, consider)?;
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

/// Hands `visit` each resource of `kind` that `plan` names (in id order when `id_order`, else
/// in the plan's order), or every resource, in id order, for [`Plan::All`]. `visit` still has
/// to evaluate the filter.
fn each_candidate(
    reader: &Reader,
    kind: Kind,
    plan: Plan,
    id_order: bool,
    mut visit: impl FnMut(StoredResource) -> Result<(), ServiceError>,
) -> Result<(), ServiceError> {
    match plan {
        Plan::Indexed(mut ids) | Plan::Partial(mut ids) => {
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
        Plan::All => reader.scan(kind, |stored| visit(stored).map(|()| true)),
    }
}

/// Which rows a filter has to look at, as the indexes decide it before any row is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Plan {
    /// Exactly the resources the filter matches (an id whose row is gone is skipped): no
    /// row needs checking. Only a lone `eq` on the naming attribute (its index folds case as
    /// the attribute's comparison does), on `externalId` (case-exact, as is its index) or on
    /// a declared unique attribute (its index keys values as the filter compares them).
    Indexed(Vec<ResourceId>),
    /// A superset of the matches: the filter is still evaluated on each. An `eq` on `id`
    /// (a UUID in any spelling finds the row; the comparison is case-exact), a `sw` on the
    /// name or `externalId`, and every `and`/`or` of indexed terms, exact ones included.
    Partial(Vec<ResourceId>),
    /// No index narrows the filter (or there is none): every row is read, in id order.
    All,
}

impl Plan {
    /// The plan for `filter` over the resources of `kind`, reading only index rows.
    pub(super) fn for_filter(
        reader: &Reader,
        kind: Kind,
        filter: Option<&Filter>,
    ) -> Result<Plan, ServiceError> {
        let Some(f) = filter else {
            return Ok(Plan::All);
        };
        Ok(match candidates(reader, kind, f)? {
            Some(ids) if answered_by_index(kind, f) => Plan::Indexed(ids),
            Some(ids) => Plan::Partial(ids),
            None => Plan::All,
        })
    }
}

/// An attribute with an index, as a filter path names it.
#[derive(Debug, Clone, Copy)]
enum Indexed {
    Id,
    Name,
    ExternalId,
    /// A declared extension attribute with `uniqueness = "server"` (`store::unique`).
    Unique(&'static SchemaDef, &'static AttrDef),
}

/// Which index `path` names for `kind`: `id`, the naming attribute or `externalId`, as a
/// plain or core-URN-qualified name without a sub-attribute; or a declared unique attribute,
/// URN-qualified or not.
fn indexed(kind: Kind, path: &AttrPath) -> Option<Indexed> {
    if path.sub.is_some() {
        return None;
    }
    let rt = resource_type(kind);
    let core = path.schema.as_deref().is_none_or(|s| s.eq_ignore_ascii_case(rt.schema.id));
    if !core || rt.attribute(None, &path.attr).is_none_or(|(s, _)| rt.is_extension(s)) {
        let unique = rt.unique_extension_attributes().find(|(s, a)| {
            a.name.eq_ignore_ascii_case(&path.attr)
                && path.schema.as_deref().is_none_or(|urn| urn.eq_ignore_ascii_case(s.id))
        });
        if let Some((schema, attr)) = unique {
            return Some(Indexed::Unique(schema, attr));
        }
        if !core {
            return None;
        }
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

/// Whether [`candidates`] is the whole answer to `f`, with no row to check ([`Plan::Indexed`]).
fn answered_by_index(kind: Kind, f: &Filter) -> bool {
    matches!(
        f,
        Filter::Compare { path, op: CompareOp::Eq, value: CompValue::Str(_) }
            if matches!(
                indexed(kind, path),
                Some(Indexed::Name | Indexed::ExternalId | Indexed::Unique(..))
            )
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

/// The ids an index can narrow `f` to, or None when the filter needs a scan. A term's ids come
/// in its index's order; an `and` keeps its left side's order (its right side's when only
/// that one is indexed), an `or` is in id order.
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
                // Exact: the index keys values as the filter compares them (`text::fold`
                // unless case-exact).
                (Some(Indexed::Unique(schema, attr)), false) => {
                    Some(reader.unique_owner(kind, schema, attr, value)?.into_iter().collect())
                }
                (Some(Indexed::Id | Indexed::Unique(..)), true) | (None, _) => None,
            })
        }
        Filter::And(a, b) => {
            Ok(match (candidates(reader, kind, a)?, candidates(reader, kind, b)?) {
                (Some(x), Some(y)) => Some(intersection(x, &y)),
                (Some(x), None) | (None, Some(x)) => Some(x),
                (None, None) => None,
            })
        }
        Filter::Or(a, b) => {
            Ok(match (candidates(reader, kind, a)?, candidates(reader, kind, b)?) {
                (Some(x), Some(y)) => Some(union(x, y)),
                _ => None,
            })
        }
        _ => Ok(None),
    }
}

/// The ids of `x` that `y` holds too, in `x`'s order: linear in both (a hashed `y`).
fn intersection(x: Vec<ResourceId>, y: &[ResourceId]) -> Vec<ResourceId> {
    let y: HashSet<ResourceId> = y.iter().copied().collect();
    x.into_iter().filter(|id| y.contains(id)).collect()
}

/// The ids of `x` and `y`, each once, in id order.
fn union(mut x: Vec<ResourceId>, y: Vec<ResourceId>) -> Vec<ResourceId> {
    x.extend(y);
    x.sort_unstable();
    x.dedup();
    x
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::{Store, StoreError};

    /// Three users (two names starting `al`, external ids `ext-a`, `ext-b`, `x-1`) and one
    /// group, in a fresh data file.
    struct Directory {
        _dir: tempfile::TempDir,
        store: Store,
        alice: ResourceId,
        alan: ResourceId,
        bob: ResourceId,
        admins: ResourceId,
    }

    fn row(attributes: Value) -> StoredResource {
        StoredResource::for_test(attributes)
    }

    fn directory() -> Directory {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("scimd.redb")).unwrap();
        let alice = row(json!({"userName": "alice@example.org", "externalId": "ext-a"}));
        let alan = row(json!({"userName": "alan@example.org", "externalId": "ext-b"}));
        let bob = row(json!({"userName": "bob@example.org", "externalId": "x-1", "title": "x"}));
        let admins = row(json!({"displayName": "Admins"}));
        store
            .write(|w| {
                for user in [&alice, &alan, &bob] {
                    w.put(Kind::User, user, None)?;
                }
                w.put(Kind::Group, &admins, None)?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        Directory {
            _dir: dir,
            store,
            alice: alice.id,
            alan: alan.id,
            bob: bob.id,
            admins: admins.id,
        }
    }

    fn plan(d: &Directory, kind: Kind, f: &str) -> Plan {
        let f = filter::parse(f).unwrap();
        Plan::for_filter(&d.store.read().unwrap(), kind, Some(&f)).unwrap()
    }

    fn sorted(mut ids: Vec<ResourceId>) -> Vec<ResourceId> {
        ids.sort();
        ids
    }

    #[test]
    fn an_eq_on_the_name_or_external_id_is_answered_by_its_index() {
        let d = directory();
        let user = Kind::User;
        assert_eq!(
            plan(&d, user, r#"userName eq "ALICE@example.org""#),
            Plan::Indexed(vec![d.alice])
        );
        assert_eq!(
            plan(
                &d,
                user,
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@example.org""#
            ),
            Plan::Indexed(vec![d.bob])
        );
        assert_eq!(plan(&d, user, r#"userName eq "nobody@example.org""#), Plan::Indexed(vec![]));
        assert_eq!(plan(&d, user, r#"externalId eq "ext-b""#), Plan::Indexed(vec![d.alan]));
        // externalId is case-exact, and so is its index.
        assert_eq!(plan(&d, user, r#"externalId eq "EXT-B""#), Plan::Indexed(vec![]));
        assert_eq!(
            plan(&d, Kind::Group, r#"displayName eq "admins""#),
            Plan::Indexed(vec![d.admins])
        );
    }

    #[test]
    fn an_id_eq_or_a_prefix_narrows_but_is_still_checked() {
        let d = directory();
        let user = Kind::User;
        // Any spelling of the UUID finds the row; only the filter decides whether it matches.
        let shouting = d.alice.to_string().to_uppercase();
        assert_eq!(plan(&d, user, &format!(r#"id eq "{shouting}""#)), Plan::Partial(vec![d.alice]));
        assert_eq!(plan(&d, user, r#"id eq "not-a-uuid""#), Plan::Partial(vec![]));
        // In the index's order: `alan` sorts before `alice`.
        assert_eq!(plan(&d, user, r#"userName sw "AL""#), Plan::Partial(vec![d.alan, d.alice]));
        assert_eq!(plan(&d, user, r#"externalId sw "ext-""#), Plan::Partial(vec![d.alice, d.alan]));
    }

    #[test]
    fn and_narrows_to_its_indexed_sides() {
        let d = directory();
        let user = Kind::User;
        assert_eq!(
            plan(&d, user, r#"userName eq "alice@example.org" and title eq "x""#),
            Plan::Partial(vec![d.alice])
        );
        assert_eq!(
            plan(&d, user, r#"title eq "x" and externalId sw "ext-""#),
            Plan::Partial(vec![d.alice, d.alan])
        );
        // Both sides indexed: the ids both name, in the left side's order.
        assert_eq!(
            plan(&d, user, r#"userName sw "al" and externalId eq "ext-b""#),
            Plan::Partial(vec![d.alan])
        );
        assert_eq!(
            plan(&d, user, r#"userName eq "alice@example.org" and externalId eq "x-1""#),
            Plan::Partial(vec![])
        );
    }

    #[test]
    fn or_narrows_only_when_both_sides_are_indexed() {
        let d = directory();
        let user = Kind::User;
        assert_eq!(
            plan(&d, user, r#"userName eq "alice@example.org" or externalId eq "x-1""#),
            Plan::Partial(sorted(vec![d.alice, d.bob]))
        );
        // The same id from both sides is there once.
        assert_eq!(
            plan(&d, user, r#"userName sw "al" or externalId eq "ext-a""#),
            Plan::Partial(sorted(vec![d.alice, d.alan]))
        );
        assert_eq!(plan(&d, user, r#"userName eq "alice@example.org" or title eq "x""#), Plan::All);
    }

    #[test]
    fn unindexed_attributes_and_operators_read_every_row() {
        let d = directory();
        let user = Kind::User;
        for f in [
            r#"title eq "x""#,
            r#"userName co "al""#,
            r#"userName ew "example.org""#,
            "userName pr",
            r#"not (userName eq "alice@example.org")"#,
            r#"name.givenName eq "Alice""#,
            r#"emails[value eq "alice@example.org"]"#,
            r#"id sw "0""#,
            // The naming attribute of a group is not a user's.
            r#"displayName eq "Admins""#,
        ] {
            assert_eq!(plan(&d, user, f), Plan::All, "{f}");
        }
        assert_eq!(plan(&d, Kind::Group, r#"userName eq "alice@example.org""#), Plan::All);
        assert_eq!(Plan::for_filter(&d.store.read().unwrap(), user, None).unwrap(), Plan::All);
    }

    #[test]
    fn intersection_keeps_the_left_order_and_union_is_in_id_order() {
        let ids: Vec<ResourceId> = [5, 1, 4, 2, 3].into_iter().map(ResourceId).collect();
        let [five, one, four, two, three] = ids[..] else { unreachable!() };
        assert_eq!(intersection(ids.clone(), &[three, five, two]), vec![five, two, three]);
        assert_eq!(intersection(ids.clone(), &[]), vec![]);
        assert_eq!(union(vec![four, two], vec![three, two, one]), vec![one, two, three, four]);
        assert_eq!(union(vec![], vec![five]), vec![five]);
    }
}
