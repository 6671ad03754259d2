//! The provisioning log (`/admin/log`): newest first, filtered by outcome (refusals first in
//! the choice), resource type, token and day range, paged by sequence number; each entry links
//! to the resource it is about.

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::Console;
use super::guard::SignedIn;
use super::layout::{self, Nav};
use crate::service::LogEntry;

const PAGE: usize = 100;

#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    /// `refused`, `ok`, or empty for both.
    #[serde(default)]
    outcome: String,
    /// `User`, `Group`, `Token`, `Console`, or empty.
    #[serde(default)]
    resource: String,
    #[serde(default)]
    token: String,
    /// First day shown, `YYYY-MM-DD` (UTC).
    #[serde(default)]
    from: String,
    /// Last day shown, `YYYY-MM-DD` (UTC).
    #[serde(default)]
    to: String,
    /// Entries below this sequence number (the next page).
    before: Option<u64>,
}

/// Whether `entry` passes the page's filters.
fn wanted(query: &LogQuery) -> impl Fn(&LogEntry) -> bool + Send + 'static {
    let outcome = query.outcome.clone();
    let resource = query.resource.clone();
    let token = query.token.trim().to_string();
    let from = query.from.trim().to_string();
    let to = query.to.trim().to_string();
    move |e: &LogEntry| {
        let day = e.time.get(..10).unwrap_or("");
        (match outcome.as_str() {
            "refused" => e.status >= 400,
            "ok" => e.status < 400,
            _ => true,
        }) && (resource.is_empty() || e.resource_type.eq_ignore_ascii_case(&resource))
            && (token.is_empty() || e.token == token)
            && (from.is_empty() || day >= from.as_str())
            && (to.is_empty() || day <= to.as_str())
    }
}

/// `GET /admin/log`.
pub async fn log(
    State(console): State<Console>,
    Extension(signed_in): Extension<SignedIn>,
    Query(query): Query<LogQuery>,
) -> Response {
    let slice = match console.service.log_slice(query.before, PAGE, wanted(&query)).await {
        Ok(slice) => slice,
        Err(e) => return layout::service_error(&e),
    };
    let mut token_names: Vec<String> = console
        .service
        .list_tokens()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.name)
        .collect();
    token_names.push(super::sign_in::ACTOR.to_string());
    token_names.sort();
    token_names.dedup();
    let filters = [
        ("outcome", query.outcome.as_str()),
        ("resource", query.resource.as_str()),
        ("token", query.token.as_str()),
        ("from", query.from.as_str()),
        ("to", query.to.as_str()),
    ];
    let older = slice.older.map(|before| {
        let before = before.to_string();
        let mut pairs = filters.to_vec();
        pairs.push(("before", before.as_str()));
        format!("/admin/log{}", layout::query(&pairs))
    });
    let body = html! {
        form.search method="get" action="/admin/log" {
            select name="outcome" aria-label="Outcome" {
                option value="" selected[query.outcome.is_empty()] { "Every outcome" }
                option value="refused" selected[query.outcome == "refused"] { "Refused" }
                option value="ok" selected[query.outcome == "ok"] { "Succeeded" }
            }
            select name="resource" aria-label="Resource" {
                @for (value, label) in [("", "Every resource"), ("User", "Users"), ("Group", "Groups"), ("Token", "Tokens"), ("Console", "Console")] {
                    option value=(value) selected[query.resource == value] { (label) }
                }
            }
            select name="token" aria-label="Token" {
                option value="" selected[query.token.is_empty()] { "Every token" }
                @for name in &token_names {
                    option value=(name) selected[&query.token == name] { (name) }
                }
            }
            label { "From " input type="date" name="from" value=(query.from); }
            label { "to " input type="date" name="to" value=(query.to); }
            button.primary type="submit" { "Filter" }
        }
        @if slice.entries.is_empty() {
            p.muted { "No entries" @if slice.older.is_some() { " in this stretch of the log" } "." }
        } @else {
            div.scroll { table.log {
                thead { tr { th { "#" } th { "Time (UTC)" } th { "Operation" } th { "Resource" } th { "Outcome" } th { "Token" } th { "What happened" } } }
                tbody {
                    @for e in &slice.entries {
                        tr.refused[e.status >= 400] {
                            td.num.muted { (e.seq) }
                            td.nowrap { (layout::log_time(&e.time)) }
                            td { (e.operation) }
                            td { (resource_link(e)) }
                            td { (layout::outcome(e.status)) }
                            td { (e.token) }
                            td { (layout::what_happened(e)) }
                        }
                    }
                }
            } }
        }
        nav.pager {
            @if query.before.is_some() { a href={ "/admin/log" (layout::query(&filters)) } { "← Newest" } }
            @if let Some(older) = &older { a href=(older) { "Older →" } }
        }
    };
    layout::page("Provisioning log", Nav::Log, &signed_in.csrf, body)
}

fn resource_link(e: &LogEntry) -> maud::Markup {
    let label = e.name.as_deref().or(e.resource_id.as_deref()).unwrap_or("");
    let href = match (e.resource_type.as_str(), &e.resource_id) {
        ("User", Some(id)) => Some(format!("/admin/users/{id}")),
        ("Group", Some(id)) => Some(format!("/admin/groups/{id}")),
        ("Token", _) => Some("/admin/tokens".to_string()),
        _ => None,
    };
    html! {
        span.muted { (e.resource_type) } " "
        @match href {
            Some(href) => a href=(href) { (label) },
            None => (label),
        }
    }
}
