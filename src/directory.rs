//! `scimd users …`, `scimd groups …` and `scimd log`: the directory as an admin checks it from
//! a terminal, to see that provisioning worked and why a change was refused.
//!
//! Users and groups come from an export: every match of a SCIM filter, read in one transaction
//! by the running server (over its admin socket) or from the data file when it is stopped, in
//! id order, so two runs over the same directory print the same bytes. Data goes to stdout,
//! explanations to stderr. Table and text output escape control and bidi characters
//! (`domain::text::escape`); JSON and CSV carry the values as stored.

use std::collections::HashMap;
use std::io::Write;

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use serde_json::Value;

use scimd::admin::{self, AdminRequest, ClientError, LogFilter, LogPage, Resources};
use scimd::config::Config;
use scimd::scim::path::{ResolvedPath, parse_attr_path};
use scimd::scim::schema::resource_type;
use scimd::service::LogEntry;

use crate::admin_client::{admin_request, offline_service};

#[derive(Debug, Subcommand)]
pub enum ResourceCommand {
    /// List them in id order, optionally filtered
    List {
        /// A SCIM filter, e.g. 'userName sw "a"' or 'active eq false'
        #[arg(long)]
        filter: Option<String>,
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// More columns for the table or CSV, as attribute paths separated by commas, e.g.
        /// 'title,urn:ietf:params:scim:schemas:extension:acme:2.0:User:badgeNumber'
        #[arg(long, value_delimiter = ',', value_name = "PATHS")]
        columns: Vec<String>,
    },
    /// Show one, with its recent provisioning log
    Show {
        /// Its id, externalId, or userName (users) / displayName (groups)
        key: String,
        #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
        format: ShowFormat,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListFormat {
    /// Aligned columns
    Table,
    /// A JSON array of the SCIM resources, one per line
    Json,
    /// RFC 4180 CSV with a header row
    Csv,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ShowFormat {
    /// The fields an admin checks, then the recent log
    Text,
    /// The SCIM resource as the IdP sees it
    Json,
}

/// `scimd users|groups list`: one export (one read transaction), printed as it arrives.
pub async fn list(
    config: &Config,
    resources: Resources,
    filter: Option<String>,
    format: ListFormat,
    extra_columns: &[String],
) -> Result<()> {
    let columns = Columns::of(resources, extra_columns)?;
    let noun_of = |n| Columns::noun(resources, n);
    let mut printer = ListPrinter::new(columns, format);
    let total = export(config, resources, filter, |v| printer.push(&v)).await?;
    printer.finish()?;
    eprintln!("{total} {}", noun_of(total));
    Ok(())
}

/// Hands `on_resource` every user or group `filter` matches, from the running server or, when
/// it is stopped, from the data file; returns how many.
async fn export(
    config: &Config,
    resources: Resources,
    filter: Option<String>,
    mut on_resource: impl FnMut(Value) -> std::io::Result<()>,
) -> Result<u64> {
    let request = AdminRequest::Export { resources, filter: filter.clone() };
    match admin::call_export(&config.admin_socket(), &request, &mut on_resource).await {
        Ok(total) => Ok(total),
        Err(ClientError::NotRunning) => {
            let service = offline_service(config, false)?;
            let exported = admin::export(&service, resources, filter.as_deref(), on_resource);
            service.stop_writes();
            exported.map_err(anyhow::Error::msg)
        }
        Err(e) => Err(e.into()),
    }
}

/// Every user or group `filter` matches, collected.
async fn matching(config: &Config, resources: Resources, filter: String) -> Result<Vec<Value>> {
    let mut found = Vec::new();
    export(config, resources, Some(filter), |v| {
        found.push(v);
        Ok(())
    })
    .await?;
    Ok(found)
}

/// Prints list rows in one format as they come.
struct ListPrinter {
    columns: Columns,
    format: ListFormat,
    out: std::io::BufWriter<std::io::Stdout>,
    csv: csv::Writer<std::io::Stdout>,
    /// Table rows held until [`TABLE_SAMPLE`] have come, to size the columns.
    pending: Vec<Vec<String>>,
    widths: Option<Vec<usize>>,
    printed: u64,
}

/// Rows a table is sized by; later wider cells push their line on.
const TABLE_SAMPLE: usize = 5000;

impl ListPrinter {
    fn new(columns: Columns, format: ListFormat) -> ListPrinter {
        ListPrinter {
            columns,
            format,
            out: std::io::BufWriter::new(std::io::stdout()),
            csv: csv::Writer::from_writer(std::io::stdout()),
            pending: Vec::new(),
            widths: None,
            printed: 0,
        }
    }

    fn push(&mut self, resource: &Value) -> std::io::Result<()> {
        let first = self.printed == 0;
        self.printed += 1;
        match self.format {
            ListFormat::Table => {
                let row: Vec<String> =
                    self.columns.row(resource).iter().map(|c| printable(c)).collect();
                match &self.widths {
                    Some(widths) => write_table_row(&mut self.out, widths, &row)?,
                    None => {
                        self.pending.push(row);
                        if self.pending.len() >= TABLE_SAMPLE {
                            self.print_pending()?;
                        }
                    }
                }
            }
            ListFormat::Csv => {
                if first {
                    self.csv.write_record(self.columns.header())?;
                }
                let row = self.columns.row(resource);
                self.csv.write_record(row.iter().map(|cell| spreadsheet_safe(cell)))?;
            }
            ListFormat::Json => {
                let lead = if first { "[" } else { "," };
                writeln!(self.out, "{lead}{}", serde_json::to_string(resource)?)?;
            }
        }
        Ok(())
    }

    /// Sizes the table by the rows held, then prints the header and them.
    fn print_pending(&mut self) -> std::io::Result<()> {
        let header = self.columns.header();
        let widths = column_widths(&header, &self.pending);
        write_table_row(&mut self.out, &widths, &header)?;
        for row in std::mem::take(&mut self.pending) {
            write_table_row(&mut self.out, &widths, &row)?;
        }
        self.widths = Some(widths);
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<()> {
        match self.format {
            ListFormat::Table if self.widths.is_none() => self.print_pending()?,
            ListFormat::Table => {}
            ListFormat::Csv if self.printed == 0 => self.csv.write_record(self.columns.header())?,
            ListFormat::Csv => {}
            ListFormat::Json if self.printed == 0 => writeln!(self.out, "[]")?,
            ListFormat::Json => writeln!(self.out, "]")?,
        }
        self.csv.flush()?;
        self.out.flush()
    }
}

/// `scimd users|groups show KEY`.
pub async fn show(
    config: &Config,
    resources: Resources,
    key: String,
    format: ShowFormat,
) -> Result<()> {
    let quoted = serde_json::to_string(&key)?;
    let name = match resources {
        Resources::Users => "userName",
        Resources::Groups => "displayName",
    };
    let filter = format!("id eq {quoted} or externalId eq {quoted} or {name} eq {quoted}");
    let items = matching(config, resources, filter).await?;
    let resource = match items.as_slice() {
        [one] => one,
        [] => bail!("no {} with id, externalId or {name} {quoted}", Columns::noun(resources, 1)),
        _ => bail!("more than one {} matches {quoted}; use the id", Columns::noun(resources, 1)),
    };
    if let ShowFormat::Json = format {
        println!("{}", serde_json::to_string_pretty(resource)?);
        return Ok(());
    }
    let names = match resources {
        Resources::Users => Default::default(),
        Resources::Groups => member_names(config, resource).await?,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (field, value) in describe(resources, resource, &names) {
        writeln!(out, "{}", format!("{field:<14}{}", printable(&value)).trim_end())?;
    }
    // By id, and by name too: a refused create names the user but has no id.
    let history = AdminRequest::History {
        resources,
        id: text(resource, "id"),
        name: Some(text(resource, name)),
        limit: 10,
    };
    let entries: Vec<LogEntry> = serde_json::from_value(admin_request(config, history).await?)
        .context("reading the history")?;
    writeln!(out)?;
    if entries.is_empty() {
        writeln!(out, "No provisioning log entries (they may have been pruned; see keep_days).")?;
    } else {
        writeln!(out, "Recent provisioning, newest first:")?;
        for e in &entries {
            writeln!(out, "  {}", log_line(e))?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `scimd log`: the newest entries first; with `follow`, oldest first and then every new entry
/// as it is written, until interrupted.
pub async fn log(config: &Config, limit: usize, filter: LogFilter, follow: bool) -> Result<()> {
    let page = log_page(config, limit, filter.clone(), None).await?;
    if !follow {
        if page.entries.is_empty() {
            eprintln!("No provisioning log entries match.");
        }
        for e in &page.entries {
            println!("{}", log_line(e));
        }
        return Ok(());
    }
    for e in page.entries.iter().rev() {
        println!("{}", log_line(e));
    }
    let mut after = page.next;
    let mut waiting = false;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let request = AdminRequest::Log { limit: 1000, filter: filter.clone(), after: Some(after) };
        let response = match admin::call(&config.admin_socket(), &request).await {
            Ok(response) => response,
            Err(ClientError::NotRunning) => {
                if !waiting {
                    eprintln!("scimd is not running; waiting for it to start...");
                    waiting = true;
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        waiting = false;
        let result = response.result.filter(|_| response.ok).with_context(|| {
            response.error.clone().unwrap_or_else(|| "the log request failed".into())
        })?;
        let page: LogPage = serde_json::from_value(result).context("reading the log")?;
        let mut stdout = std::io::stdout().lock();
        for e in &page.entries {
            writeln!(stdout, "{}", log_line(e))?;
        }
        stdout.flush()?;
        after = page.next;
    }
}

/// Member ids looked up per request: their `id eq` filter stays under the 4 KiB filter limit.
const NAMES_PER_REQUEST: usize = 64;

/// The userName or displayName of each member of `group`, by id, a few dozen per request.
async fn member_names(config: &Config, group: &Value) -> Result<HashMap<String, String>> {
    let members = group.get("members").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut names = HashMap::new();
    for (resources, name, kind) in
        [(Resources::Users, "userName", "User"), (Resources::Groups, "displayName", "Group")]
    {
        let ids: Vec<String> = members
            .iter()
            .filter(|m| m.get("type").and_then(Value::as_str).unwrap_or("User") == kind)
            .filter_map(|m| m.get("value").and_then(Value::as_str))
            .map(|id| serde_json::to_string(id).unwrap_or_default())
            .collect();
        for chunk in ids.chunks(NAMES_PER_REQUEST) {
            let filter = chunk.iter().map(|id| format!("id eq {id}")).collect::<Vec<_>>();
            for r in matching(config, resources, filter.join(" or ")).await? {
                names.insert(text(&r, "id"), text(&r, name));
            }
        }
    }
    Ok(names)
}

async fn log_page(
    config: &Config,
    limit: usize,
    filter: LogFilter,
    after: Option<u64>,
) -> Result<LogPage> {
    let result = admin_request(config, AdminRequest::Log { limit, filter, after }).await?;
    serde_json::from_value(result).context("reading the log")
}

/// One log entry on one line: time, token, operation, type, status, what, and why.
pub fn log_line(e: &LogEntry) -> String {
    let what = e.name.as_deref().or(e.resource_id.as_deref()).unwrap_or("-");
    let mut line = format!(
        "{}  {:<12} {:<8} {:<6} {} {}",
        e.time, e.token, e.operation, e.resource_type, e.status, what
    );
    if let Some(id) = e.resource_id.as_deref().filter(|id| Some(*id) != e.name.as_deref()) {
        line.push_str(&format!(" ({id})"));
    }
    if let Some(t) = &e.scim_type {
        line.push_str(&format!(" [{t}]"));
    }
    if let Some(d) = &e.detail {
        line.push_str(&format!(": {d}"));
    }
    if let Some(r) = &e.roles {
        line.push_str(&format!("; roles {r}"));
    }
    printable(&line)
}

/// Client text as a terminal may show it: control, bidi and invisible format characters
/// escaped (`\n`, `\u{202e}`), so a crafted name cannot forge a row or reorder a line. Names
/// stored before scimd refused such characters still reach here. JSON and CSV output keep the
/// data as stored (their quoting already delimits it).
fn printable(text: &str) -> String {
    scimd::domain::text::escape(text).into_owned()
}

/// The columns of a list, by resource type.
/// The columns of a list: the built-in ones of the resource type, then the `--columns` paths.
struct Columns {
    resources: Resources,
    extra: Vec<(String, ResolvedPath)>,
}

impl Columns {
    /// The built-in columns and `extra`, each checked against the schema in force.
    fn of(resources: Resources, extra: &[String]) -> Result<Columns> {
        let rt = resource_type(resources.kind());
        let mut resolved = Vec::new();
        for path in extra.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
            match parse_attr_path(path).and_then(|p| p.resolve(rt)) {
                Ok(r) => resolved.push((path.to_string(), r)),
                Err(e) => {
                    bail!("--columns: {path:?} is not an attribute of {}: {}", rt.name, e.detail)
                }
            }
        }
        Ok(Columns { resources, extra: resolved })
    }

    fn noun(resources: Resources, n: u64) -> &'static str {
        match (resources, n == 1) {
            (Resources::Users, true) => "user",
            (Resources::Users, false) => "users",
            (Resources::Groups, true) => "group",
            (Resources::Groups, false) => "groups",
        }
    }

    fn header(&self) -> Vec<String> {
        let built_in: &[&str] = match self.resources {
            Resources::Users => &[
                "ID",
                "USERNAME",
                "ACTIVE",
                "USERTYPE",
                "ROLES",
                "EXTERNALID",
                "DISPLAYNAME",
                "LASTMODIFIED",
            ],
            Resources::Groups => &["ID", "DISPLAYNAME", "MEMBERS", "EXTERNALID", "LASTMODIFIED"],
        };
        let extra = self.extra.iter().map(|(path, _)| path.clone());
        built_in.iter().map(|h| h.to_string()).chain(extra).collect()
    }

    fn row(&self, r: &Value) -> Vec<String> {
        let modified = r.pointer("/meta/lastModified").and_then(Value::as_str).unwrap_or("");
        let mut row = match self.resources {
            Resources::Users => vec![
                text(r, "id"),
                text(r, "userName"),
                r.get("active").and_then(Value::as_bool).unwrap_or(true).to_string(),
                text(r, "userType"),
                values(r, "roles").join(","),
                text(r, "externalId"),
                display_name(r),
                modified.to_string(),
            ],
            Resources::Groups => vec![
                text(r, "id"),
                text(r, "displayName"),
                r.get("members").and_then(Value::as_array).map_or(0, Vec::len).to_string(),
                text(r, "externalId"),
                modified.to_string(),
            ],
        };
        row.extend(self.extra.iter().map(|(_, path)| cell(&path.values(r))));
        row
    }
}

/// The values a path reaches, as one cell: strings as they are, other values as JSON, a
/// complex value by its `value`, several joined with commas.
fn cell(values: &[&Value]) -> String {
    let one = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => match o.get("value") {
            Some(Value::String(s)) => s.clone(),
            _ => v.to_string(),
        },
        other => other.to_string(),
    };
    values.iter().map(|v| one(v)).collect::<Vec<_>>().join(",")
}

/// The fields `show` prints, in order.
fn describe(
    resources: Resources,
    r: &Value,
    member_names: &HashMap<String, String>,
) -> Vec<(&'static str, String)> {
    let meta = |name: &str| r.pointer(&format!("/meta/{name}")).and_then(Value::as_str);
    let mut fields = vec![("id", text(r, "id")), ("externalId", text(r, "externalId"))];
    match resources {
        Resources::Users => {
            fields.push(("userName", text(r, "userName")));
            fields.push(("displayName", display_name(r)));
            let active = r.get("active").and_then(Value::as_bool).unwrap_or(true);
            fields.push(("active", active.to_string()));
            fields.push(("userType", text(r, "userType")));
            fields.push(("roles", values(r, "roles").join(", ")));
            fields.push(("emails", values(r, "emails").join(", ")));
            let manager = r.pointer(&format!("/{}/manager/value", ENTERPRISE));
            fields.push(("manager", manager.and_then(Value::as_str).unwrap_or("").into()));
            let groups = elements(r, "groups");
            fields.push(("groups", groups.join(", ")));
        }
        Resources::Groups => {
            fields.push(("displayName", text(r, "displayName")));
            let members = r.get("members").and_then(Value::as_array).cloned();
            let members = members.unwrap_or_default();
            fields.push(("members", members.len().to_string()));
            for m in &members {
                let id = m.get("value").and_then(Value::as_str).unwrap_or("");
                let kind = m.get("type").and_then(Value::as_str).unwrap_or("User");
                let name = member_names.get(id).map_or("(not found)", String::as_str);
                fields.push(("", format!("{name} ({kind} {id})")));
            }
        }
    }
    // Declared extensions' attributes (the enterprise ones the admin checks are above).
    let rt = resource_type(resources.kind());
    for ext in rt.extensions.iter().filter(|e| e.id != ENTERPRISE) {
        for attr in ext.attributes {
            if let Some(v) = r.get(ext.id).and_then(|o| o.get(attr.name)) {
                let values: Vec<&Value> = match v {
                    Value::Array(items) => items.iter().collect(),
                    one => vec![one],
                };
                fields.push((attr.name, cell(&values)));
            }
        }
    }
    fields.push(("created", meta("created").unwrap_or("").into()));
    fields.push(("lastModified", meta("lastModified").unwrap_or("").into()));
    fields.push(("version", meta("version").unwrap_or("").into()));
    fields
}

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn text(r: &Value, name: &str) -> String {
    r.get(name).and_then(Value::as_str).unwrap_or("").to_string()
}

/// displayName, else name.formatted, else given and family name.
fn display_name(r: &Value) -> String {
    let name = |part: &str| r.pointer(&format!("/name/{part}")).and_then(Value::as_str);
    r.get("displayName")
        .and_then(Value::as_str)
        .or_else(|| name("formatted"))
        .map(str::to_string)
        .unwrap_or_else(|| {
            [name("givenName"), name("familyName")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        })
}

/// The `value`s of a multi-valued attribute.
fn values(r: &Value, name: &str) -> Vec<String> {
    let items = r.get(name).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .filter_map(|v| v.get("value").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// A user's groups as "display (value)".
fn elements(r: &Value, name: &str) -> Vec<String> {
    let items = r.get(name).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .map(|m| {
            let value = m.get("value").and_then(Value::as_str).unwrap_or("");
            match m.get("display").and_then(Value::as_str) {
                Some(display) => format!("{display} ({value})"),
                None => value.to_string(),
            }
        })
        .collect()
}

/// A CSV cell a spreadsheet will not run: text the IdP sent that starts like a formula
/// (`=`, `+`, `-`, `@`, tab, CR) gets a leading `'`, as OWASP advises for CSV exports.
fn spreadsheet_safe(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

fn column_widths(header: &[String], rows: &[Vec<String>]) -> Vec<usize> {
    header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let cells = rows.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count());
            cells.chain([h.len()]).max().unwrap_or(0)
        })
        .collect()
}

fn write_table_row(
    out: &mut impl Write,
    widths: &[usize],
    cells: &[impl AsRef<str>],
) -> std::io::Result<()> {
    let last = cells.len().saturating_sub(1);
    for (i, cell) in cells.iter().enumerate() {
        let cell = cell.as_ref();
        if i == last {
            writeln!(out, "{cell}")?;
        } else {
            let width = widths.get(i).copied().unwrap_or(0);
            write!(out, "{cell:<width$}  ")?;
        }
    }
    Ok(())
}
