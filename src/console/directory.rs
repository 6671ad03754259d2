//! Users and groups: the lists (`/admin/users`, `/admin/groups`: search, filters, keyset pages
//! in name order) and the detail pages (every attribute, roles and where they came from,
//! groups, manager, members a page at a time, and the provisioning history).

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::Console;
use super::guard::SignedIn;
use super::layout::{self, Nav};
use crate::domain::Kind;
use crate::scim::projection::Projection;
use crate::service::{BrowseRequest, CheckedFilter, LogEntry, ServiceError};

/// Rows on one list page.
const PAGE: usize = 50;
/// Members on one group page.
const MEMBERS_PAGE: usize = 100;
/// History entries a detail page shows.
const HISTORY: usize = 100;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    /// `active`, `inactive`, or empty for both (users only).
    #[serde(default)]
    status: String,
    #[serde(default, rename = "userType")]
    user_type: String,
    #[serde(default)]
    after: String,
    /// `desc` for Z to A.
    #[serde(default)]
    order: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct MembersQuery {
    #[serde(default)]
    after: String,
}

/// A search from the search box and the list's filters: a SCIM filter, and for plain text
/// the text itself (every match holds it, which lets a page pass over rows without rendering
/// them). A `q` that parses as a filter is used as one; anything else is plain text, matched
/// against the names, emails and externalId.
struct Search {
    filter: Option<CheckedFilter>,
    text: Option<String>,
}

fn list_filter(kind: Kind, query: &ListQuery) -> Result<Search, String> {
    let mut clauses = Vec::new();
    let mut text_searched = None;
    let q = query.q.trim();
    if !q.is_empty() {
        if CheckedFilter::parse(Some(q), &[kind]).is_ok() {
            clauses.push(format!("({q})"));
        } else {
            text_searched = Some(q.to_string());
            let text = q.replace('\\', "\\\\").replace('"', "\\\"");
            clauses.push(match kind {
                Kind::User => format!(
                    "(userName co \"{text}\" or displayName co \"{text}\" or emails.value co \
                     \"{text}\" or externalId eq \"{text}\")"
                ),
                Kind::Group => {
                    format!("(displayName co \"{text}\" or externalId eq \"{text}\")")
                }
            });
        }
    }
    if kind == Kind::User {
        match query.status.as_str() {
            "active" => clauses.push("not (active eq false)".into()),
            "inactive" => clauses.push("active eq false".into()),
            _ => {}
        }
        let user_type = query.user_type.trim();
        if !user_type.is_empty() {
            let text = user_type.replace('\\', "\\\\").replace('"', "\\\"");
            clauses.push(format!("userType eq \"{text}\""));
        }
    }
    if clauses.is_empty() {
        return Ok(Search { filter: None, text: None });
    }
    let filter =
        CheckedFilter::parse(Some(&clauses.join(" and ")), &[kind]).map_err(|e| e.to_string())?;
    Ok(Search { filter, text: text_searched })
}

/// `GET /admin/users`.
pub async fn users(
    State(console): State<Console>,
    Extension(signed_in): Extension<SignedIn>,
    Query(query): Query<ListQuery>,
) -> Response {
    list(console, signed_in, Kind::User, query).await
}

/// `GET /admin/groups`.
pub async fn groups(
    State(console): State<Console>,
    Extension(signed_in): Extension<SignedIn>,
    Query(query): Query<ListQuery>,
) -> Response {
    list(console, signed_in, Kind::Group, query).await
}

async fn list(console: Console, signed_in: SignedIn, kind: Kind, query: ListQuery) -> Response {
    let (title, nav, base) = match kind {
        Kind::User => ("Users", Nav::Users, "/admin/users"),
        Kind::Group => ("Groups", Nav::Groups, "/admin/groups"),
    };
    let descending = query.order == "desc";
    let (page, problem) = match list_filter(kind, &query) {
        Ok(search) => {
            let request = BrowseRequest {
                search: search.filter,
                contains: search.text,
                after: Some(query.after.clone()).filter(|a| !a.is_empty()),
                descending,
                limit: PAGE,
            };
            match console.service.browse(kind, request).await {
                Ok(page) => (page, None),
                Err(e) => return layout::service_error(&e),
            }
        }
        Err(e) => (Default::default(), Some(e)),
    };
    let keep = |after: &str, order: &str| {
        let mut pairs = vec![("q", query.q.as_str()), ("order", order), ("after", after)];
        if kind == Kind::User {
            pairs.push(("status", query.status.as_str()));
            pairs.push(("userType", query.user_type.as_str()));
        }
        format!("{base}{}", layout::query(&pairs))
    };
    let order = if descending { "desc" } else { "" };
    let flip = if descending { "" } else { "desc" };
    let name_column = if kind == Kind::User { "userName" } else { "displayName" };
    let body = html! {
        form.search method="get" action=(base) {
            input type="search" name="q" value=(query.q) placeholder=(search_hint(kind)) aria-label="Search";
            @if kind == Kind::User {
                select name="status" aria-label="Status" {
                    option value="" selected[query.status.is_empty()] { "Active and inactive" }
                    option value="active" selected[query.status == "active"] { "Active" }
                    option value="inactive" selected[query.status == "inactive"] { "Inactive" }
                }
                input type="text" name="userType" value=(query.user_type) placeholder="userType" aria-label="userType";
            }
            @if descending { input type="hidden" name="order" value="desc"; }
            button.primary type="submit" { "Search" }
        }
        @if let Some(problem) = &problem {
            p.notice.bad { "This search is not a filter scimd can run: " (problem) }
        }
        @if page.items.is_empty() && problem.is_none() {
            p.muted { @if page.budget_spent { "No match in the first rows looked at." } @else { "Nothing found." } }
        } @else if problem.is_none() {
            div.scroll { table.list {
                thead { tr {
                    th { a href=(keep("", flip)) { (name_column) " " (if descending { "▲" } else { "▼" }) } }
                    @if kind == Kind::User {
                        th { "displayName" } th { "Email" } th { "userType" } th { "Status" }
                    } @else {
                        th { "externalId" }
                    }
                    th { "Last modified" }
                } }
                tbody {
                    @for item in &page.items { (row(kind, item)) }
                }
            } }
        }
        nav.pager {
            @if !query.after.is_empty() { a href=(keep("", order)) { "← First page" } }
            @if let Some(next) = &page.next {
                a href=(keep(next, order)) {
                    @if page.budget_spent { "Search further →" } @else { "Next page →" }
                }
            }
        }
        @if page.budget_spent {
            p.muted { "Only part of the directory was searched for this page (a search reads at most 5,000 entries per page); go on to search further." }
        }
    };
    layout::page(title, nav, &signed_in.csrf, body)
}

fn search_hint(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "Name, email or externalId, or a SCIM filter",
        Kind::Group => "Name or externalId, or a SCIM filter",
    }
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

fn row(kind: Kind, item: &Value) -> Markup {
    let id = text(item, "id");
    let modified = item.pointer("/meta/lastModified").and_then(Value::as_str).unwrap_or("");
    match kind {
        Kind::User => {
            let active = item.get("active").and_then(Value::as_bool).unwrap_or(true);
            html! {
                tr {
                    td { a href={ "/admin/users/" (id) } { (text(item, "userName")) } }
                    td { (text(item, "displayName")) }
                    td { (primary_email(item)) }
                    td { (text(item, "userType")) }
                    td { (status_badge(active)) }
                    td.muted { (layout::log_time(modified)) }
                }
            }
        }
        Kind::Group => html! {
            tr {
                td { a href={ "/admin/groups/" (id) } { (text(item, "displayName")) } }
                td { (text(item, "externalId")) }
                td.muted { (layout::log_time(modified)) }
            }
        },
    }
}

fn status_badge(active: bool) -> Markup {
    html! { @if active { span.badge.ok { "active" } } @else { span.badge.muted { "inactive" } } }
}

fn primary_email(user: &Value) -> &str {
    let emails = user.get("emails").and_then(Value::as_array);
    let Some(emails) = emails else { return "" };
    let primary = emails.iter().find(|e| e.get("primary").and_then(Value::as_bool) == Some(true));
    primary.or(emails.first()).map_or("", |e| text(e, "value"))
}

/// `GET /admin/users/{id}`.
pub async fn user(
    State(console): State<Console>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Response {
    let user = match resource(&console, Kind::User, &id).await {
        Ok(user) => user,
        Err(e) => return layout::service_error(&e),
    };
    let user_name = text(&user, "userName").to_string();
    let history = history(&console, Kind::User, &id, Some(user_name.clone())).await;
    let roles_origin = history.iter().find_map(|e| e.roles.clone());
    let active = user.get("active").and_then(Value::as_bool).unwrap_or(true);
    let roles: Vec<&str> = user
        .get("roles")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(|r| r.get("value").and_then(Value::as_str)).collect())
        .unwrap_or_default();
    let groups = user.get("groups").and_then(Value::as_array).cloned().unwrap_or_default();
    let manager = user.pointer(&format!("/{ENTERPRISE}/manager/value")).and_then(Value::as_str);
    // The manager's own name (Entra sends only the id).
    let manager_name = match manager {
        Some(m) => resource(&console, Kind::User, m).await.ok().map(|u| {
            let display = text(&u, "displayName");
            let name = text(&u, "userName");
            if display.is_empty() { name.to_string() } else { format!("{display} ({name})") }
        }),
        None => None,
    };
    let body = html! {
        p.lead {
            (status_badge(active)) " "
            @let display = text(&user, "displayName");
            @if !display.is_empty() { strong { (display) } " · " }
            span.mono { (user_name) }
        }
        section.cards {
            div.card {
                h2 { "Roles" }
                @if roles.is_empty() { p.muted { "No roles." } }
                @else { p { @for r in &roles { span.chip { (r) } " " } } }
                p.muted {
                    @if let Some(origin) = &roles_origin { "How they were decided: " (origin) }
                    @else { "No write in the log decided them (the log may have been pruned)." }
                }
            }
            div.card {
                h2 { "Groups" }
                @if groups.is_empty() { p.muted { "In no group." } }
                ul.plain {
                    @for g in &groups {
                        li { a href={ "/admin/groups/" (text(g, "value")) } { (group_label(g)) } }
                    }
                }
            }
            div.card {
                h2 { "Manager" }
                @if let Some(manager) = manager {
                    p { a href={ "/admin/users/" (manager) } { (manager_name.clone().unwrap_or_else(|| manager_label(&user, manager))) } }
                } @else { p.muted { "None." } }
            }
        }
        section {
            h2 { "Attributes" }
            (attributes(&user))
        }
        section {
            h2 { "Provisioning history" }
            (history_table(&history))
        }
    };
    layout::page(&format!("User {user_name}"), Nav::Users, &signed_in.csrf, body)
}

fn group_label(group: &Value) -> String {
    let display = text(group, "display");
    if display.is_empty() { text(group, "value").to_string() } else { display.to_string() }
}

fn manager_label(user: &Value, manager_id: &str) -> String {
    let name = user.pointer(&format!("/{ENTERPRISE}/manager/displayName")).and_then(Value::as_str);
    name.map_or_else(|| manager_id.to_string(), str::to_string)
}

/// `GET /admin/groups/{id}`.
pub async fn group(
    State(console): State<Console>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Query(query): Query<MembersQuery>,
) -> Response {
    let after = Some(query.after.clone()).filter(|a| !a.is_empty());
    let page = match console.service.members_page(id.clone(), after, MEMBERS_PAGE).await {
        Ok(page) => page,
        Err(e) => return layout::service_error(&e),
    };
    let name = text(&page.group, "displayName").to_string();
    let history = history(&console, Kind::Group, &id, Some(name.clone())).await;
    let body = html! {
        section {
            h2 { "Attributes" }
            (attributes(&page.group))
        }
        section {
            h2 { "Members" }
            @if page.members.is_empty() { p.muted { "No members" @if !query.after.is_empty() { " after this point" } "." } }
            @else {
                div.scroll { table.list {
                    thead { tr { th { "Member" } th { "Type" } th { "id" } } }
                    tbody {
                        @for m in &page.members {
                            tr {
                                td {
                                    @let href = match m.kind { Kind::User => "/admin/users/", Kind::Group => "/admin/groups/" };
                                    a href={ (href) (m.id) } { (m.name.as_deref().unwrap_or("(removed)")) }
                                }
                                td { (m.kind.resource_type()) }
                                td.mono.muted { (m.id) }
                            }
                        }
                    }
                } }
            }
            nav.pager {
                @if !query.after.is_empty() { a href={ "/admin/groups/" (id) } { "← First page" } }
                @if let Some(next) = &page.next {
                    a href={ "/admin/groups/" (id) (layout::query(&[("after", next)])) } { "Next " (MEMBERS_PAGE) " →" }
                }
            }
        }
        section {
            h2 { "Provisioning history" }
            (history_table(&history))
        }
    };
    layout::page(&format!("Group {name}"), Nav::Groups, &signed_in.csrf, body)
}

async fn resource(console: &Console, kind: Kind, id: &str) -> Result<Value, ServiceError> {
    let rendered = console.service.get(kind, id.to_string(), Projection::default()).await?;
    serde_json::from_slice(&rendered.body.0).map_err(|e| ServiceError::Internal(e.to_string()))
}

/// The newest log entries about resource `id`, and (given its name) refused writes that
/// named it before it had an id.
async fn history(console: &Console, kind: Kind, id: &str, name: Option<String>) -> Vec<LogEntry> {
    match console.service.history(kind, id.to_string(), name, HISTORY).await {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a resource's history for the console");
            Vec::new()
        }
    }
}

/// Log entries as a table, newest first.
pub fn history_table(entries: &[LogEntry]) -> Markup {
    html! {
        @if entries.is_empty() { p.muted { "No entries." } }
        @else {
            div.scroll { table.log {
                thead { tr { th { "Time (UTC)" } th { "Operation" } th { "Outcome" } th { "Token" } th { "What happened" } } }
                tbody {
                    @for e in entries {
                        tr.refused[e.status >= 400] {
                            td.nowrap { (layout::log_time(&e.time)) }
                            td { (e.operation) }
                            td { (layout::outcome(e.status)) }
                            td { (e.token) }
                            td { (layout::what_happened(e)) }
                        }
                    }
                }
            } }
        }
    }
}

/// Every attribute of a resource (custom ones too), nested values as nested tables; `meta`
/// and `schemas` last.
fn attributes(resource: &Value) -> Markup {
    let Some(object) = resource.as_object() else { return html! {} };
    let skip = ["groups", "members", "meta", "schemas"];
    html! {
        table.attrs {
            tbody {
                @for (key, value) in object.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
                    tr { th { (key) } td { (value_markup(value)) } }
                }
                @if let Some(meta) = resource.get("meta") { tr { th { "meta" } td { (value_markup(meta)) } } }
                @if let Some(schemas) = resource.get("schemas") { tr { th { "schemas" } td { (value_markup(schemas)) } } }
            }
        }
    }
}

fn value_markup(value: &Value) -> Markup {
    match value {
        Value::Object(map) => html! {
            table.nested { tbody {
                @for (k, v) in map { tr { th { (k) } td { (value_markup(v)) } } }
            } }
        },
        Value::Array(items) => html! {
            @for item in items { div.item { (value_markup(item)) } }
        },
        Value::String(s) => html! { (s) },
        Value::Null => html! { span.muted { "null" } },
        other => html! { code { (other.to_string()) } },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str) -> ListQuery {
        ListQuery { q: q.into(), ..Default::default() }
    }

    #[test]
    fn plain_text_searches_names_emails_and_external_id_and_filters_pass_through() {
        let search = |kind, q: ListQuery| list_filter(kind, &q).unwrap();
        assert!(search(Kind::User, query("")).filter.is_none());
        // Plain text, with a quote in it: escaped, not a filter injection.
        let quoted = search(Kind::User, query("o\"brien or userName pr"));
        assert!(quoted.filter.is_some());
        assert_eq!(quoted.text.as_deref(), Some("o\"brien or userName pr"));
        assert!(search(Kind::User, query("ann smith")).filter.is_some());
        let filter = search(Kind::User, query("userName sw \"a\""));
        assert!(filter.filter.is_some() && filter.text.is_none(), "a filter is no text");
        assert!(search(Kind::Group, query("Sales")).filter.is_some());
        let inactive = ListQuery { status: "inactive".into(), ..Default::default() };
        assert!(search(Kind::User, inactive).filter.is_some());
    }
}
