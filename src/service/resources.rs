//! Create, read, replace and delete users and groups.

use serde_json::Value;

use crate::config::UnknownAttributes;
use crate::domain::{Kind, ResourceId};
use crate::scim::projection::Projection;
use crate::scim::schema::ENTERPRISE_USER;
use crate::scim::schema::resource_type;
use crate::scim::{ScimError, limits, resource, unknown};
use crate::store::{LogEntry, ReadQueries, StoredResource, TokenScope, Writer};

use super::audit::{Attempt, Refusal, append_refusal, log_refusal, write_logged};
use super::checks::{
    add_members, check_if_match, check_names, ensure_name_free, ensure_unique_values_free,
    existing, naming_value, not_found,
};
use super::events::ChangeEvents;
use super::render::{JsonBody, etag, location, relation, render, write_view};
use super::{Principal, Service, ServiceError, domains, now_rfc3339, roles};

/// A resource ready to send: the projected body, plus its version (for the `ETag` header) and
/// location (for the `Location` header of a 201).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub body: JsonBody,
    pub etag: String,
    pub location: String,
}

/// The validated parts of a write body.
#[derive(Clone)]
struct Prepared {
    attributes: Value,
    name: String,
    roles: Option<roles::RoleDecision>,
    /// For groups: the member ids as sent (resolved inside the transaction).
    members: Vec<String>,
    /// Attributes dropped as unknown (`[scim] unknown_attributes = "ignore"`).
    ignored: Vec<String>,
}

impl Service {
    pub(super) fn ensure_can_write(principal: &Principal) -> Result<(), ServiceError> {
        match &principal.scope {
            TokenScope::ReadWrite => Ok(()),
            TokenScope::ReadOnly => Err(ServiceError::Forbidden(format!(
                "token '{}' is read-only; writes need a read-write token",
                principal.token_name
            ))),
            TokenScope::Events { receiver } => Err(ServiceError::Forbidden(format!(
                "token '{}' may only poll the change events of receiver '{receiver}'; writes \
                 need a read-write token",
                principal.token_name
            ))),
        }
    }

    /// Logs a write that `http` refused before it reached a use case (a body that is not JSON,
    /// a bad content type): every refused write has a provisioning-log row.
    pub async fn log_refused_write(
        &self,
        principal: Principal,
        operation: &'static str,
        kind: Kind,
        resource_id: Option<String>,
        refusal: Refusal,
    ) -> Result<(), ServiceError> {
        let attempt = Attempt::new(principal, operation, kind, resource_id);
        let entry = attempt.refused_with(&refusal);
        append_refusal(self, &attempt, entry).await
    }

    /// Validates a body: schema, naming attribute, roles and allowed domains for users,
    /// member references for groups.
    fn prepare(&self, kind: Kind, mut body: Value) -> Result<Prepared, ServiceError> {
        let limits = &self.settings.limits;
        limits::check_strings(&body, limits)?;
        let ignored = match self.scim().unknown_attributes {
            UnknownAttributes::Reject => Vec::new(),
            UnknownAttributes::Ignore => unknown::strip_resource(resource_type(kind), &mut body),
        };
        let mut attributes = resource::canonicalize(resource_type(kind), body)?;
        limits::check_resource(resource_type(kind), &attributes, None, limits)?;
        let name = naming_value(kind, &attributes).ok_or_else(|| {
            ScimError::invalid_value(format!(
                "missing required attribute '{}' (it must not be empty or blank)",
                kind.name_attribute()
            ))
        })?;
        let roles = match kind {
            Kind::User => {
                domains::check_user(&self.scim().allowed_domains, &attributes)?;
                Some(roles::decide(&self.roles(), &attributes)?)
            }
            Kind::Group => None,
        };
        let mut members = Vec::new();
        let mut seen = std::collections::HashSet::new();
        if let Some(obj) = attributes.as_object_mut() {
            obj.remove("schemas");
            match (kind, &roles) {
                (Kind::User, Some(decision)) => {
                    match &decision.roles {
                        Some(r) => obj.insert("roles".into(), r.clone()),
                        None => obj.remove("roles"),
                    };
                }
                (Kind::User, None) => {}
                (Kind::Group, _) => {
                    for member in obj
                        .remove("members")
                        .and_then(|m| m.as_array().cloned())
                        .unwrap_or_default()
                    {
                        let value = member.get("value").and_then(Value::as_str).unwrap_or("");
                        if value.is_empty() {
                            return Err(ScimError::invalid_value(
                                "every element of 'members' needs a 'value' holding a user or group id".to_string(),
                            )
                            .into());
                        }
                        if seen.insert(value.to_string()) {
                            members.push(value.to_string());
                        }
                    }
                }
            }
        }
        Ok(Prepared { attributes, name, roles, members, ignored })
    }

    /// Runs `prepare`, logging the refusal when it fails.
    async fn prepare_logged(
        &self,
        attempt: &mut Attempt,
        kind: Kind,
        body: Value,
    ) -> Result<Prepared, ServiceError> {
        attempt.name = body.get(kind.name_attribute()).and_then(Value::as_str).map(str::to_string);
        let prepared =
            Service::ensure_can_write(&attempt.principal).and_then(|()| self.prepare(kind, body));
        match prepared {
            Ok(p) => {
                attempt.name = Some(p.name.clone());
                Ok(p)
            }
            Err(e) => {
                log_refusal(self, attempt, &e).await?;
                Err(e)
            }
        }
    }

    pub async fn create(
        &self,
        principal: Principal,
        kind: Kind,
        body: Value,
        projection: Projection,
    ) -> Result<Rendered, ServiceError> {
        let mut attempt = Attempt::new(principal, "create", kind, None);
        let prepared = self.prepare_logged(&mut attempt, kind, body).await?;
        let base_url = self.settings.base_url.clone();
        let stored = write_logged(self, attempt, move |w, attempt| {
            check_names(kind, &prepared.attributes, None)?;
            ensure_name_free(w, kind, &prepared.name, None)?;
            ensure_unique_values_free(w, kind, &prepared.attributes, None)?;
            let now = now_rfc3339();
            let stored = StoredResource {
                id: ResourceId::new_random(),
                version: 1,
                created: now.clone(),
                last_modified: now,
                attributes: prepared.attributes.clone(),
                roles_derived: prepared.roles.as_ref().is_some_and(|r| r.derived),
            };
            w.put(kind, &stored, None)?;
            let members = add_members(w, stored.id, &prepared.members)?;
            ChangeEvents::new().created(w, &base_url, kind, &stored, &members)?;
            // Only now is the id real; a refused create logs none.
            attempt.resource_id = Some(stored.id.to_string());
            Ok((stored, prepared.succeeded(attempt, 201)))
        })
        .await?;
        self.rendered_committed(kind, &stored, &projection)
    }

    pub async fn replace(
        &self,
        principal: Principal,
        kind: Kind,
        id: String,
        body: Value,
        if_match: Option<String>,
        projection: Projection,
    ) -> Result<Rendered, ServiceError> {
        let mut attempt = Attempt::new(principal, "replace", kind, Some(id.clone()));
        let body = match check_body_id(body, &id) {
            Ok(body) => body,
            Err(e) => {
                let _ = log_refusal(self, &attempt, &e).await;
                return Err(e);
            }
        };
        let prepared = self.prepare_logged(&mut attempt, kind, body).await?;
        let base_url = self.settings.base_url.clone();
        let stored = write_logged(self, attempt, move |w, attempt| {
            let (rid, old) = existing(w, kind, &id)?;
            check_if_match(if_match.as_deref(), &old)?;
            check_names(kind, &prepared.attributes, Some(&old.attributes))?;
            ensure_name_free(w, kind, &prepared.name, Some(rid))?;
            ensure_unique_values_free(w, kind, &prepared.attributes, Some(rid))?;
            let stored = StoredResource {
                id: rid,
                version: old.version + 1,
                created: old.created.clone(),
                last_modified: now_rfc3339(),
                attributes: prepared.attributes.clone(),
                roles_derived: prepared.roles.as_ref().is_some_and(|r| r.derived),
            };
            let members_changed = match kind {
                Kind::Group => replace_members(w, rid, &prepared.members)?,
                Kind::User => false,
            };
            attempt.name = Some(prepared.name.clone());
            if !members_changed
                && stored.attributes == old.attributes
                && stored.roles_derived == old.roles_derived
            {
                // Nothing differs (Okta sends whole objects back): the resource stays at its
                // version and no event is told.
                return Ok((old, prepared.succeeded(attempt, 200)));
            }
            w.put(kind, &stored, Some(&old))?;
            ChangeEvents::new().replaced(w, &base_url, kind, &old, &stored, members_changed)?;
            Ok((stored, prepared.succeeded(attempt, 200)))
        })
        .await?;
        self.rendered_committed(kind, &stored, &projection)
    }

    pub async fn delete(
        &self,
        principal: Principal,
        kind: Kind,
        id: String,
        if_match: Option<String>,
    ) -> Result<(), ServiceError> {
        let attempt = Attempt::new(principal, "delete", kind, Some(id.clone()));
        if let Err(e) = Service::ensure_can_write(&attempt.principal) {
            log_refusal(self, &attempt, &e).await?;
            return Err(e);
        }
        write_logged(self, attempt, move |w, attempt| {
            let (rid, old) = existing(w, kind, &id)?;
            check_if_match(if_match.as_deref(), &old)?;
            let events = ChangeEvents::new();
            let left = w.groups_of(rid)?;
            w.delete(kind, rid)?;
            events.deleted(w, kind, &old)?;
            for group in left {
                if let Some(g) = w.get(Kind::Group, group)? {
                    events.patched(w, Kind::Group, &g, &g, &[], &[rid])?;
                }
            }
            attempt.name = old.name(kind).map(str::to_string);
            let entry = match kind {
                Kind::User => match clear_as_manager(w, &events, &id, rid)? {
                    0 => attempt.succeeded(204, None),
                    n => attempt.succeeded_with(
                        204,
                        None,
                        format!("cleared as the manager of {n} user(s)"),
                    ),
                },
                Kind::Group => attempt.succeeded(204, None),
            };
            Ok(((), entry))
        })
        .await
    }

    pub async fn get(
        &self,
        kind: Kind,
        id: String,
        projection: Projection,
    ) -> Result<Rendered, ServiceError> {
        // One row by key: microseconds from the page cache, so it runs on the request's own
        // worker rather than paying two thread hand-offs for a blocking-pool round trip. The
        // read transaction ends before this function returns (no `.await` holds it).
        let reader = self.store.read()?;
        if !projection.is_default() {
            let (_, stored) = existing(&reader, kind, &id)?;
            return self.rendered(&reader, kind, &stored, &projection);
        }
        // The default projection: written straight from the stored row.
        let row = ResourceId::parse(&id)
            .map(|rid| reader.get_raw(kind, rid))
            .transpose()?
            .flatten()
            .ok_or_else(|| not_found(kind, &id))?;
        let view = row.view()?;
        let base = &self.settings.base_url;
        let mut body = Vec::with_capacity(1024);
        write_view(&reader, base, kind, &view, true, &mut body)?;
        Ok(Rendered {
            body: JsonBody(body),
            etag: etag(view.version),
            location: location(base, kind, view.id),
        })
    }

    /// Renders a resource this request has just committed. Its relations are read afresh, after
    /// the commit, so the writer thread spends no time on responses.
    pub(super) fn rendered_committed(
        &self,
        kind: Kind,
        stored: &StoredResource,
        projection: &Projection,
    ) -> Result<Rendered, ServiceError> {
        self.rendered(&self.store.read()?, kind, stored, projection)
    }

    /// Renders `stored` for a response, reading relations only if the projection keeps them.
    pub(super) fn rendered(
        &self,
        lookup: &impl ReadQueries,
        kind: Kind,
        stored: &StoredResource,
        projection: &Projection,
    ) -> Result<Rendered, ServiceError> {
        let rt = resource_type(kind);
        let with_relations = projection.wants(rt, relation(kind));
        let full = render(lookup, &self.settings.base_url, kind, stored, with_relations)?;
        Ok(Rendered {
            body: JsonBody::from_value(&projection.apply_owned(rt, full)),
            etag: etag(stored.version),
            location: location(&self.settings.base_url, kind, stored.id),
        })
    }
}

impl Prepared {
    fn roles_summary(&self) -> Option<String> {
        self.roles.as_ref().map(|r| r.summary.clone())
    }

    /// The provisioning-log row of the write, naming what was dropped as unknown.
    fn succeeded(&self, attempt: &Attempt, status: u16) -> LogEntry {
        match ignored_summary(&self.ignored) {
            Some(detail) => attempt.succeeded_with(status, self.roles_summary(), detail),
            None => attempt.succeeded(status, self.roles_summary()),
        }
    }
}

/// A PUT body may echo the resource's `id`; a different one is an error.
fn check_body_id(body: Value, id: &str) -> Result<Value, ServiceError> {
    let sent = body
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("id")))
        .map(|(_, v)| v.clone());
    match sent {
        Some(Value::String(s)) if !same_id(&s, id) => Err(ScimError::invalid_value(format!(
            "the body's id '{s}' differs from the id in the URL '{id}'; id cannot be changed"
        ))
        .into()),
        Some(Value::String(_)) | Some(Value::Null) | None => Ok(body),
        Some(_) => Err(ScimError::invalid_value("'id' must be a string".to_string()).into()),
    }
}

/// Whether two id spellings name the same resource (ids are UUIDs: case and hyphens vary).
fn same_id(a: &str, b: &str) -> bool {
    a == b || ResourceId::parse(a).is_some_and(|x| ResourceId::parse(b) == Some(x))
}

/// Removes a deleted user as the `manager` of the users it managed (found through the
/// manager index, under the id as the client wrote it and in scimd's spelling). Returns how
/// many users changed.
fn clear_as_manager(
    w: &mut Writer,
    events: &ChangeEvents,
    id: &str,
    rid: ResourceId,
) -> Result<usize, ServiceError> {
    let mut spellings = vec![rid.to_string()];
    if id != spellings[0] {
        spellings.push(id.to_string());
    }
    let mut cleared = 0;
    for spelling in spellings {
        for managed in w.users_managed_by(&spelling)? {
            let Some(old) = w.get(Kind::User, managed)? else {
                continue;
            };
            let mut new = old.clone();
            if let Some(ext) =
                new.attributes.get_mut(ENTERPRISE_USER).and_then(Value::as_object_mut)
            {
                ext.remove("manager");
                if ext.is_empty()
                    && let Some(attrs) = new.attributes.as_object_mut()
                {
                    attrs.remove(ENTERPRISE_USER);
                }
            }
            new.version += 1;
            new.last_modified = now_rfc3339();
            w.put(Kind::User, &new, Some(&old))?;
            events.patched(w, Kind::User, &old, &new, &[], &[])?;
            cleared += 1;
        }
    }
    Ok(cleared)
}

/// Makes a group's members exactly `members` (a PUT). Returns whether the set changed.
fn replace_members(
    w: &mut Writer,
    group: ResourceId,
    members: &[String],
) -> Result<bool, ServiceError> {
    let before: Vec<ResourceId> = w.members_of(group)?.into_iter().map(|m| m.id).collect();
    w.clear_members(group)?;
    let mut after = add_members(w, group, members)?;
    after.sort();
    Ok(after != before)
}

/// `ignored unknown attributes: a, b` for a provisioning-log entry, when something was.
pub(super) fn ignored_summary(ignored: &[String]) -> Option<String> {
    (!ignored.is_empty()).then(|| format!("ignored unknown attributes: {}", ignored.join(", ")))
}
