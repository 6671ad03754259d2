//! The overview (`/admin/`), the connect guide (`/admin/connect`, with its live "last request
//! seen" line), and the read-only settings (`/admin/settings`).

use std::collections::HashMap;

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use maud::{Markup, html};
use serde_json::json;

use super::Console;
use super::guard::SignedIn;
use super::layout::{self, Nav, copy_button};
use crate::config::{TlsMode, UnknownAttributes, UnknownRole, UnknownUserType};
use crate::service::{ReceiverStatus, TokenInfo, TokenScope};

/// Refusals the overview groups by reason, at most.
const REFUSALS_READ: usize = 2_000;

/// `GET /admin/`: what an admin checks first.
pub async fn overview(
    State(console): State<Console>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    let svc = console.service.clone();
    let blocking = tokio::task::spawn_blocking(move || {
        let counts = svc.directory_counts();
        let receivers = svc.event_status().unwrap_or_default();
        let size = std::fs::metadata(svc.data_file()).map(|m| m.len()).ok();
        (counts, receivers, size)
    })
    .await;
    let Ok((counts, receivers, size)) = blocking else {
        return layout::error_page(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "the overview's read task failed; see scimd's log",
        );
    };
    let counts = match counts {
        Ok(c) => c,
        Err(e) => return layout::service_error(&e.into()),
    };
    let tokens = tokens_seen(&console).await;
    let cutoff = humantime::format_rfc3339_millis(
        std::time::SystemTime::now() - std::time::Duration::from_secs(86_400),
    )
    .to_string();
    let refusals = console
        .service
        .log_since(cutoff, REFUSALS_READ, |e| e.status >= 400)
        .await
        .map(|entries| top_reasons(entries.iter().map(reason_of)))
        .unwrap_or_default();
    let tenant_url = console.config.tenant_url();
    let scim_enabled = console.service.scim().enabled;
    let body = html! {
        section.cards {
            div.card.wide {
                h2 { "Tenant URL" }
                p.mono { code { (tenant_url) } " " (copy_button(&tenant_url)) }
                p {
                    "SCIM is "
                    @if scim_enabled { span.badge.ok { "enabled" } } @else { span.badge.bad { "disabled" } }
                    " · " a href="/admin/connect" { "Connect your IdP" }
                }
            }
            div.card {
                h2 { "Users" }
                p.big { (layout::count(counts.users)) }
                p.muted {
                    (layout::count(counts.users - counts.inactive_users)) " active · "
                    (layout::count(counts.inactive_users)) " inactive"
                }
            }
            div.card {
                h2 { "Groups" }
                p.big { (layout::count(counts.groups)) }
                p.muted { (layout::count(counts.log_entries)) " log entries" }
            }
        }
        section {
            h2 { "Last request from each token" }
            (token_table(&tokens, false))
        }
        section {
            h2 { "Refusals in the last 24 hours" }
            @if refusals.is_empty() {
                p.muted { "None." }
            } @else {
                table {
                    thead { tr { th { "Count" } th { "Reason" } } }
                    tbody {
                        @for (reason, n) in &refusals {
                            tr { td.num { (n) } td { (reason) } }
                        }
                    }
                }
                p { a href="/admin/log?outcome=refused" { "See every refusal in the log" } }
            }
        }
        @if !receivers.is_empty() {
            section {
                h2 { "Change-event receivers" }
                (receivers_table(&receivers))
            }
        }
        section {
            h2 { "Server" }
            dl.facts {
                dt { "Version" } dd { "scimd " (env!("CARGO_PKG_VERSION")) }
                dt { "Certificate" } dd { (certificate(&console)) }
                dt { "Data file" }
                dd {
                    code { (console.service.data_file().display()) }
                    @if let Some(size) = size { " · " (layout::size(size)) }
                }
            }
        }
    };
    layout::page("Overview", Nav::Overview, &signed_in.csrf, body)
}

/// Each token with when it was last used (the running server's memory of requests, or the
/// stored time), newest first.
pub async fn tokens_seen(console: &Console) -> Vec<(TokenInfo, Option<i64>)> {
    let seen = console.service.token_cache().last_seen();
    let mut tokens: Vec<_> = console
        .service
        .list_tokens()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            let last = seen.get(&t.id).copied().max(t.last_used);
            (t, last)
        })
        .collect();
    tokens.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.name.cmp(&b.0.name)));
    tokens
}

/// The tokens as a table; with `actions`, each live token has a revoke link.
pub fn token_table(tokens: &[(TokenInfo, Option<i64>)], actions: bool) -> Markup {
    html! {
        @if tokens.is_empty() {
            p.muted { "No tokens yet. " a href="/admin/tokens" { "Create one" } "." }
        } @else {
            div.scroll { table {
                thead { tr {
                    th { "Name" } th { "Scope" } th { "Last request" }
                    @if actions { th { "Created" } th { "Expires" } th { "Status" } th {} }
                } }
                tbody {
                    @for (t, last) in tokens {
                        tr.revoked[t.revoked.is_some()] {
                            td { strong { (t.name) } br; span.mono.muted { (t.id) } }
                            td { (scope_text(&t.scope)) }
                            td {
                                @if let Some(at) = last {
                                    (layout::unix_time(*at)) br; span.muted { (layout::ago(*at)) }
                                } @else { span.muted { "never" } }
                            }
                            @if actions {
                                td { (layout::unix_time(t.created)) }
                                td { @if let Some(e) = t.expires { (layout::unix_time(e)) } @else { span.muted { "never" } } }
                                td {
                                    @if let Some(r) = t.revoked { span.badge.bad { "revoked" } " " span.muted { (layout::unix_time(r)) } }
                                    @else { span.badge.ok { "active" } }
                                }
                                td {
                                    @if t.revoked.is_none() {
                                        a.button.danger href={ "/admin/tokens/" (t.id) "/revoke" } { "Revoke…" }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
        }
    }
}

pub fn scope_text(scope: &TokenScope) -> String {
    match scope {
        TokenScope::ReadWrite => "read-write".into(),
        TokenScope::ReadOnly => "read-only".into(),
        TokenScope::Events { receiver } => format!("events of {receiver}"),
    }
}

fn receivers_table(receivers: &[ReceiverStatus]) -> Markup {
    html! {
        table {
            thead { tr { th { "Receiver" } th { "State" } th.num { "Backlog" } th { "Last error" } } }
            tbody {
                @for r in receivers {
                    tr {
                        td { (r.name) }
                        td {
                            @if let Some(reason) = &r.cursor.stalled {
                                span.badge.bad { "held" } " " (reason)
                            } @else if let Some(s) = &r.stream {
                                (s.state.to_string())
                            } @else { span.muted { "poll" } }
                        }
                        td.num {
                            (layout::count(r.backlog))
                            @if let Some(secs) = r.oldest_pending_secs { br; span.muted { "oldest " (secs) " s" } }
                        }
                        td {
                            @if let Some(s) = &r.stream {
                                @if let (Some(e), Some(at)) = (&s.last_error, &s.last_error_at) {
                                    span.muted { (layout::log_time(at)) } " " (e)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn certificate(console: &Console) -> String {
    let expiry = console.certificate.as_ref().and_then(|f| f());
    let until = expiry
        .map(|e| format!(", valid until {} ({})", layout::unix_time(e), days_left(e)))
        .unwrap_or_default();
    match &console.config.tls {
        TlsMode::Files { cert, .. } => format!("from {}{until}", cert.display()),
        TlsMode::SelfSigned => format!("self-signed, generated by scimd{until}"),
        TlsMode::Acme(acme) => format!("from ACME ({}){until}", acme.directory),
        TlsMode::Off => "none: TLS is off (a proxy in front must terminate HTTPS)".into(),
    }
}

fn days_left(expiry: i64) -> String {
    let days = (expiry - crate::service::now_unix()) / 86_400;
    if days < 0 { "expired".into() } else { format!("{days} days left") }
}

/// What a refusal was about, short enough to group: its SCIM error type and the first
/// clause of its message.
fn reason_of(entry: &crate::service::LogEntry) -> String {
    let detail = entry.detail.as_deref().unwrap_or("");
    let clause = detail.split([';', '.']).next().unwrap_or(detail);
    let clause: String = clause.chars().take(120).collect();
    match &entry.scim_type {
        Some(t) => format!("{} {t}: {clause}", entry.status),
        None => format!("{}: {clause}", entry.status),
    }
}

/// The five most frequent reasons, most frequent first.
fn top_reasons(reasons: impl Iterator<Item = String>) -> Vec<(String, usize)> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in reasons {
        *counts.entry(r).or_default() += 1;
    }
    let mut top: Vec<_> = counts.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(5);
    top
}

/// `GET /admin/connect`: Entra ID's and Okta's steps with scimd's values filled in.
pub async fn connect(
    State(console): State<Console>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    let tenant_url = console.config.tenant_url();
    let seen = last_seen_text(&console).await;
    let body = html! {
        p.notice { span data-last-seen="/admin/connect/last-seen" { (seen) } " " a href="/admin/connect" { "Refresh" } }
        section.card {
            h2 { "1. Create a token for the IdP" }
            p { "The IdP sends it as its bearer token. It is shown once; scimd keeps only a hash." }
            form.inline method="post" action="/admin/tokens" {
                input type="hidden" name="csrf" value=(signed_in.csrf);
                label { "Name " input type="text" name="name" value="entra" required maxlength="100"; }
                input type="hidden" name="scope" value="read-write";
                button.primary type="submit" { "Create token" }
            }
        }
        section.card {
            h2 { "2a. Microsoft Entra ID" }
            ol.steps {
                li { "In the Entra admin center: " em { "Enterprise applications → New application → Create your own application" } ", name it, and choose " em { "Integrate any other application you don't find in the gallery (Non-gallery)" } "." }
                li { "Open " em { "Provisioning" } ", set " em { "Provisioning Mode" } " to " strong { "Automatic" } "." }
                li { "Tenant URL: " code { (tenant_url) } " " (copy_button(&tenant_url)) }
                li { "Secret Token: the token from step 1." }
                li { "Press " strong { "Test Connection" } ". The line at the top of this page shows when scimd saw it." }
                li { "Under " em { "Mappings" } ", keep " code { "userName" } " as the matching attribute; map " code { "userType" } " if your roles follow it (see " a href="/admin/settings" { "Settings" } ")." }
                li { "Use " em { "Provision on demand" } " for one user, check them under " a href="/admin/users" { "Users" } ", then set " em { "Provisioning Status" } " to " strong { "On" } "." }
            }
        }
        section.card {
            h2 { "2b. Okta" }
            ol.steps {
                li { "In the Okta admin console: " em { "Applications → Browse App Catalog" } ", add " strong { "SCIM 2.0 Test App (Header Auth)" } ", or create an App Integration Wizard app with SCIM provisioning." }
                li { "On its " em { "Provisioning" } " tab, SCIM connector base URL: " code { (tenant_url) } " " (copy_button(&tenant_url)) }
                li { "Unique identifier field for users: " code { "userName" } "; Authentication Mode: " strong { "HTTP Header" } ", with the token from step 1 as the bearer token." }
                li { "Supported provisioning actions: Push New Users, Push Profile Updates, Push Groups. Press " strong { "Test Connector Configuration" } " (the line at the top shows when scimd saw it), then save." }
                li { "Under " em { "To App" } ", enable Create Users, Update User Attributes and Deactivate Users; assign a user and check them under " a href="/admin/users" { "Users" } "." }
            }
        }
    };
    layout::page("Connect your IdP", Nav::Connect, &signed_in.csrf, body)
}

/// The "last request" line of the connect page.
async fn last_seen_text(console: &Console) -> String {
    let tokens = tokens_seen(console).await;
    match tokens.iter().find_map(|(t, last)| last.map(|at| (t, at))) {
        Some((t, at)) => format!(
            "Last request seen at {} ({}), with the token '{}'.",
            layout::unix_time(at),
            layout::ago(at),
            t.name
        ),
        None => "No IdP request seen yet: scimd has not been called with any token.".into(),
    }
}

/// `GET /admin/connect/last-seen`: the same line as JSON, for console.js to refresh.
pub async fn last_seen(State(console): State<Console>) -> Response {
    let text = last_seen_text(&console).await;
    let mut response = json!({ "text": text }).to_string().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `GET /admin/settings`: the configuration in force, read-only.
pub async fn settings(
    State(console): State<Console>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    let roles = console.service.roles();
    let scim = console.service.scim();
    let config = &console.config;
    let limits = &config.limits;
    let path = config.source.as_ref().map(|p| p.display().to_string());
    let body = html! {
        p.notice {
            "Read-only. Edit "
            @if let Some(p) = &path { code { (p) } } @else { "a config file (none is in use: built-in defaults)" }
            ", check it with " code { "scimd check-config" } ", then apply it with "
            code { "sudo systemctl reload scimd" } " (roles, [scim], event receivers, custom attributes and the certificate apply at once; other settings need a restart)."
        }
        section.card {
            h2 { "Roles" }
            table {
                thead { tr { th { "userType" } th { "Roles" } } }
                tbody {
                    @for (written, mapped) in roles.user_types.values() {
                        tr { td { code { (written) } } td { (mapped.join(", ")) } }
                    }
                    tr { td { em { "no userType" } } td { (roles.default.join(", ")) } }
                }
            }
            dl.facts {
                dt { "Unknown userType" }
                dd { (match roles.unknown_user_type { UnknownUserType::Default => "gets the default roles", UnknownUserType::Reject => "is refused (400)" }) }
                dt { "Unknown role sent by the IdP" }
                dd { (match roles.unknown_role { UnknownRole::Accept => "is kept", UnknownRole::Reject => "is refused (400)" }) }
            }
        }
        section.card {
            h2 { "SCIM" }
            dl.facts {
                dt { "Enabled" } dd { (if scim.enabled { "yes" } else { "no" }) }
                dt { "Allowed email domains" }
                dd { @if scim.allowed_domains.is_empty() { "every domain" } @else { (scim.allowed_domains.join(", ")) } }
                dt { "Page size" } dd { (scim.default_page_size) " by default, at most " (scim.max_page_size) }
                dt { "Unknown attributes" }
                dd { (match scim.unknown_attributes { UnknownAttributes::Reject => "refused (400), naming the attribute", UnknownAttributes::Ignore => "dropped, and listed in the log" }) }
                dt { "Custom attributes" }
                dd {
                    @if config.schemas.is_empty() { "none declared" }
                    @for ext in &config.schemas { code { (ext.id) } " (" (ext.attributes.len()) " attributes) " }
                }
            }
        }
        section.card {
            h2 { "Server" }
            dl.facts {
                dt { "Public URL" } dd { code { (config.public_url) } }
                dt { "Listen" } dd { code { (config.listen) } }
                dt { "TLS" } dd { (certificate(&console)) }
                dt { "Data directory" } dd { code { (config.data_dir.display()) } }
                dt { "Console networks" }
                dd {
                    @if config.console.allowed_networks.is_empty() { "every client" }
                    @else { (config.console.allowed_networks.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) }
                }
                dt { "Log kept" } dd { @if config.log.keep_days == 0 { "forever" } @else { (config.log.keep_days) " days" } }
            }
        }
        section.card {
            h2 { "Limits" }
            dl.facts {
                dt { "Connections" } dd { (limits.max_connections) " in all, " (limits.max_connections_per_address) " per address" }
                dt { "Request body" } dd { (layout::size(limits.max_body_bytes as u64)) }
                dt { "Request time" } dd { (limits.request_timeout.as_secs()) " s" }
                dt { "Header read / first byte / TLS handshake" }
                dd { (limits.header_read_timeout.as_secs()) " s / " (limits.first_byte_timeout.as_secs()) " s / " (limits.tls_handshake_timeout.as_secs()) " s" }
                dt { "Idle connection" } dd { (limits.idle_timeout.as_secs()) " s" }
                dt { "Write queue" } dd { (limits.write_queue) " writes" }
            }
        }
    };
    layout::page("Settings", Nav::Settings, &signed_in.csrf, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_reasons_counts_and_orders() {
        let reasons = ["a", "b", "a", "c", "a", "b"].into_iter().map(String::from);
        assert_eq!(
            top_reasons(reasons),
            vec![("a".to_string(), 3), ("b".to_string(), 2), ("c".to_string(), 1)]
        );
    }
}
