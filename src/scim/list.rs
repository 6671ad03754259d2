//! List responses (RFC 7644 §3.4.2), paging (§3.4.2.4) and sorting (§3.4.2.3).
//!
//! Owns the ListResponse shape, the `startIndex`/`count` arithmetic and the sort order of
//! resources. It must not fetch, filter or project resources: the service hands it values.

use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::datetime::{self, Instant};
use super::filter::compare_numbers;
use super::path::{AttrPath, flatten};
use super::schema::{AttrType, LIST_RESPONSE, ResourceType};

/// A ListResponse written as JSON text around resources serialised one by one: the head
/// (`schemas`, `totalResults`, `startIndex`, `itemsPerPage`) first, then each resource into
/// [`ListResponseWriter::item`], then [`ListResponseWriter::finish`]. `itemsPerPage` is the
/// number of resources on the page, and `Resources` is always present (empty when nothing
/// matched), as Entra's connection test expects.
pub struct ListResponseWriter {
    out: Vec<u8>,
    items: usize,
}

impl ListResponseWriter {
    pub fn new(total: u64, start_index: u64, items_per_page: usize) -> ListResponseWriter {
        let mut out = Vec::with_capacity(256 + items_per_page * 1024);
        out.extend_from_slice(b"{\"schemas\":[\"");
        out.extend_from_slice(LIST_RESPONSE.as_bytes());
        out.extend_from_slice(
            format!(
                "\"],\"totalResults\":{total},\"startIndex\":{start_index},\
                 \"itemsPerPage\":{items_per_page},\"Resources\":["
            )
            .as_bytes(),
        );
        ListResponseWriter { out, items: 0 }
    }

    /// The buffer to write the next resource into (the separator is already written).
    pub fn item(&mut self) -> &mut Vec<u8> {
        if self.items > 0 {
            self.out.push(b',');
        }
        self.items += 1;
        &mut self.out
    }

    /// Adds a resource given as a value.
    pub fn value(&mut self, resource: &Value) {
        // Serialising a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(self.item(), resource);
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(b"]}");
        self.out
    }
}

/// A whole ListResponse of `resources`, as JSON text.
pub fn list_response(total: u64, start_index: u64, resources: &[Value]) -> Vec<u8> {
    let mut writer = ListResponseWriter::new(total, start_index, resources.len());
    for resource in resources {
        writer.value(resource);
    }
    writer.finish()
}

/// The page a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// 1-based index of the first resource returned.
    pub start_index: u64,
    /// Most resources to return; 0 asks for `totalResults` only.
    pub count: u64,
}

impl Paging {
    /// RFC 7644 §3.4.2.4: a `startIndex` below 1 is read as 1, a negative `count` as 0;
    /// `count` defaults to `default_count` and is capped at `max_count`.
    pub fn from_query(
        start_index: Option<i64>,
        count: Option<i64>,
        default_count: u64,
        max_count: u64,
    ) -> Paging {
        let start_index = start_index.and_then(|s| u64::try_from(s).ok()).unwrap_or(1).max(1);
        let count = match count {
            Some(c) => u64::try_from(c).unwrap_or(0),
            None => default_count,
        };
        Paging { start_index, count: count.min(max_count) }
    }

    /// The indexes into a full result list of `total` items that this page covers.
    pub fn range(&self, total: usize) -> std::ops::Range<usize> {
        let start =
            usize::try_from(self.start_index.saturating_sub(1)).unwrap_or(usize::MAX).min(total);
        let count = usize::try_from(self.count).unwrap_or(usize::MAX);
        start..start.saturating_add(count).min(total)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Ascending,
    Descending,
}

/// The value a resource is sorted by.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    Bool(bool),
    Num(Number),
    Time(Instant),
    /// Case-folded unless the attribute is caseExact.
    Str(String),
    /// No value: sorts last ascending and first descending (RFC 7644 §3.4.2.3).
    Missing,
}

impl SortKey {
    /// Different kinds only meet when a value has the wrong type; rank them so the order is
    /// still total.
    fn rank(&self) -> u8 {
        match self {
            SortKey::Bool(_) => 0,
            SortKey::Num(_) => 1,
            SortKey::Time(_) => 2,
            SortKey::Str(_) => 3,
            SortKey::Missing => 4,
        }
    }
}

/// The key `resource` sorts by. A multi-valued attribute sorts by its primary value, else
/// its first; a complex attribute without a sub-attribute sorts by its `value`; a dateTime
/// sorts as an instant. A path `rt` does not have gives [`SortKey::Missing`].
pub fn sort_key(resource: &Value, sort_by: &AttrPath, rt: &ResourceType) -> SortKey {
    let Ok(resolved) = sort_by.resolve(rt) else {
        return SortKey::Missing;
    };
    let Some(top) = resolved.attr_value(resource) else {
        return SortKey::Missing;
    };
    let items = flatten(top);
    let chosen = items
        .iter()
        .find(|i| i.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| items.first());
    let Some(chosen) = chosen else {
        return SortKey::Missing;
    };
    let (def, leaf) = match (resolved.sub, resolved.attr.sub_attribute("value")) {
        (Some(sub), _) => (sub, chosen.get(sub.name)),
        (None, Some(value)) if resolved.attr.ty == AttrType::Complex => {
            (value, chosen.get(value.name))
        }
        (None, _) => (resolved.attr, Some(*chosen)),
    };
    match (def.ty, leaf) {
        (_, None | Some(Value::Null)) => SortKey::Missing,
        (AttrType::DateTime, Some(Value::String(s))) => match datetime::parse(s) {
            Some(t) => SortKey::Time(t),
            None => SortKey::Str(s.clone()),
        },
        (_, Some(Value::String(s))) if s.is_empty() => SortKey::Missing,
        (_, Some(Value::String(s))) if def.case_exact => SortKey::Str(s.clone()),
        (_, Some(Value::String(s))) => SortKey::Str(s.to_lowercase()),
        (_, Some(Value::Number(n))) => SortKey::Num(n.clone()),
        (_, Some(Value::Bool(b))) => SortKey::Bool(*b),
        (_, Some(_)) => SortKey::Missing,
    }
}

/// Orders two sort keys. Missing values are "largest": last when ascending, first when
/// descending, exactly as RFC 7644 §3.4.2.3 asks.
pub fn compare_sort_keys(a: &SortKey, b: &SortKey, order: SortOrder) -> Ordering {
    let ascending = match (a, b) {
        (SortKey::Bool(x), SortKey::Bool(y)) => x.cmp(y),
        (SortKey::Num(x), SortKey::Num(y)) => compare_numbers(x, y).unwrap_or(Ordering::Equal),
        (SortKey::Time(x), SortKey::Time(y)) => x.cmp(y),
        (SortKey::Str(x), SortKey::Str(y)) => x.cmp(y),
        _ => a.rank().cmp(&b.rank()),
    };
    match order {
        SortOrder::Ascending => ascending,
        SortOrder::Descending => ascending.reverse(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::super::path::parse_attr_path;
    use super::super::schema::{ENTERPRISE_USER, GROUP, USER};
    use super::*;
    use serde_json::json;

    #[test]
    fn list_response_shape() {
        let parse = |bytes: Vec<u8>| serde_json::from_slice::<Value>(&bytes).unwrap();
        let v = parse(list_response(0, 1, &[]));
        assert_eq!(
            v,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []
            })
        );
        let v = parse(list_response(12, 6, &[json!({"id": "a"}), json!({"id": "b"})]));
        assert_eq!(v["Resources"], json!([{"id": "a"}, {"id": "b"}]));
        assert_eq!(v["itemsPerPage"], 2);
        assert_eq!(v["totalResults"], 12);
        assert_eq!(v["startIndex"], 6);
        assert!(v["totalResults"].is_u64());
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["schemas", "totalResults", "startIndex", "itemsPerPage", "Resources"]);
    }

    #[test]
    fn paging_rules() {
        let p = |s, c| Paging::from_query(s, c, 100, 200);
        assert_eq!(p(None, None), Paging { start_index: 1, count: 100 });
        assert_eq!(p(Some(0), None).start_index, 1);
        assert_eq!(p(Some(-5), None).start_index, 1);
        assert_eq!(p(Some(11), Some(5)), Paging { start_index: 11, count: 5 });
        assert_eq!(p(None, Some(-1)).count, 0);
        assert_eq!(p(None, Some(0)).count, 0);
        assert_eq!(p(None, Some(10_000)).count, 200);
        assert_eq!(Paging::from_query(None, None, 500, 200).count, 200);
    }

    #[test]
    fn paging_ranges() {
        let r = |s, c, total| Paging { start_index: s, count: c }.range(total);
        assert_eq!(r(1, 5, 12), 0..5);
        assert_eq!(r(11, 5, 12), 10..12);
        assert_eq!(r(13, 5, 12), 12..12);
        assert_eq!(r(1, 0, 12), 0..0);
        assert_eq!(r(u64::MAX, u64::MAX, 3), 3..3);
        assert_eq!(r(2, u64::MAX, 3), 1..3);
    }

    fn key(resource: Value, path: &str) -> SortKey {
        sort_key(&resource, &parse_attr_path(path).unwrap(), &USER)
    }

    #[test]
    fn sort_keys_by_type() {
        assert_eq!(key(json!({"userName": "BJensen"}), "userName"), SortKey::Str("bjensen".into()));
        assert_eq!(key(json!({"externalId": "AbC"}), "externalId"), SortKey::Str("AbC".into()));
        assert_eq!(key(json!({"active": true}), "active"), SortKey::Bool(true));
        assert_eq!(key(json!({"title": ""}), "title"), SortKey::Missing);
        assert_eq!(key(json!({}), "title"), SortKey::Missing);
        assert_eq!(key(json!({"title": "x"}), "noSuchAttr"), SortKey::Missing);
        assert_eq!(
            key(json!({"name": {"givenName": "Zoe"}}), "NAME.GIVENNAME"),
            SortKey::Str("zoe".into())
        );
        let t = key(
            json!({"meta": {"lastModified": "2011-05-13T06:42:34+02:00"}}),
            "meta.lastModified",
        );
        assert_eq!(t, SortKey::Time(datetime::parse("2011-05-13T04:42:34Z").unwrap()));
        let m = key(json!({ENTERPRISE_USER: {"manager": {"value": "M1"}}}), "manager");
        assert_eq!(m, SortKey::Str("m1".into()));
        let g = sort_key(
            &json!({"displayName": "Admins"}),
            &parse_attr_path("displayName").unwrap(),
            &GROUP,
        );
        assert_eq!(g, SortKey::Str("admins".into()));
    }

    #[test]
    fn multi_valued_sorts_by_primary_then_first() {
        let emails = json!({"emails": [{"value": "B@x"}, {"value": "a@x", "primary": true}]});
        assert_eq!(key(emails.clone(), "emails"), SortKey::Str("a@x".into()));
        assert_eq!(key(emails, "emails.value"), SortKey::Str("a@x".into()));
        let no_primary = json!({"emails": [{"value": "B@x"}, {"value": "a@x"}]});
        assert_eq!(key(no_primary, "emails.value"), SortKey::Str("b@x".into()));
        assert_eq!(key(json!({"emails": []}), "emails"), SortKey::Missing);
    }

    #[test]
    fn missing_sorts_last_ascending_first_descending() {
        let mut keys = [
            SortKey::Missing,
            SortKey::Str("b".into()),
            SortKey::Str("a".into()),
            SortKey::Missing,
        ];
        keys.sort_by(|a, b| compare_sort_keys(a, b, SortOrder::Ascending));
        assert_eq!(keys[0], SortKey::Str("a".into()));
        assert_eq!(keys[1], SortKey::Str("b".into()));
        assert_eq!(keys[3], SortKey::Missing);
        keys.sort_by(|a, b| compare_sort_keys(a, b, SortOrder::Descending));
        assert_eq!(keys[0], SortKey::Missing);
        assert_eq!(keys[1], SortKey::Missing);
        assert_eq!(keys[2], SortKey::Str("b".into()));
    }

    #[test]
    fn numbers_and_times_compare_by_value() {
        let n = |v: Value| match v {
            Value::Number(n) => SortKey::Num(n),
            _ => SortKey::Missing,
        };
        assert_eq!(
            compare_sort_keys(&n(json!(9)), &n(json!(10)), SortOrder::Ascending),
            Ordering::Less
        );
        assert_eq!(
            compare_sort_keys(&n(json!(2.5)), &n(json!(2)), SortOrder::Ascending),
            Ordering::Greater
        );
        let t = |s| SortKey::Time(datetime::parse(s).unwrap());
        assert_eq!(
            compare_sort_keys(
                &t("2011-05-13T04:42:34Z"),
                &t("2011-05-13T05:00:00+01:00"),
                SortOrder::Ascending
            ),
            Ordering::Greater
        );
        assert_eq!(
            compare_sort_keys(
                &SortKey::Str("a".into()),
                &SortKey::Str("b".into()),
                SortOrder::Descending
            ),
            Ordering::Greater
        );
    }
}
