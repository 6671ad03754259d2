//! The PATCH use case: normalise the request (the tolerance layer), apply it with the PATCH
//! engine, then the same business rules as a PUT (allowed domains, roles from `userType`,
//! uniqueness), member rows for groups, and one durable write with its provisioning-log row.
//!
//! The writer is shared by every request, so what can be done before it is: the request
//! limits, the tolerance layer, and applying the operations to a read snapshot of the
//! resource (reused by the writer when the resource has not changed since).

use serde_json::Value;

use crate::config::UnknownAttributes;
use crate::domain::text::name_key;
use crate::domain::{Kind, ResourceId};
use crate::scim::patch::{self, MemberChange};
use crate::scim::projection::Projection;
use crate::scim::schema::resource_type;
use crate::scim::{ScimError, filter, limits, tolerance, unknown};
use crate::store::{ReadQueries, StoredResource, Writer};

use super::audit::{Attempt, log_refusal, write_logged};
use super::checks::{
    add_members, check_if_match, check_names, ensure_name_free, ensure_unique_values_free,
    existing, naming_value,
};
use super::events::ChangeEvents;
use super::render::{JsonBody, etag, member_element};
use super::{Principal, Service, ServiceError, domains, now_rfc3339, roles};

/// A PATCH as `http` hands it over: which resource, the PatchOp body as sent, `If-Match`, and
/// what the response should carry.
#[derive(Debug)]
pub struct PatchRequest {
    pub kind: Kind,
    /// The id from the URL, as the client spelled it.
    pub id: String,
    /// The PatchOp body, before the tolerance layer.
    pub body: Value,
    pub if_match: Option<String>,
    /// The projection of the response body, when there is one.
    pub projection: Projection,
    /// Whether the response carries the resource (a 200) or not (a 204).
    pub with_body: bool,
}

/// A patched resource: the body when the response carries one, and the new `ETag`.
#[derive(Debug, Clone)]
pub struct PatchedResource {
    pub body: Option<JsonBody>,
    pub etag: String,
}

/// What a PATCH did to a group's member rows: the members added and removed.
#[derive(Debug, Default, Clone)]
struct MemberChanges {
    added: Vec<ResourceId>,
    removed: Vec<ResourceId>,
}

impl MemberChanges {
    /// Keeps only the net change of a member both added and removed by one PATCH (in either
    /// order): added if it is a member at the end, removed otherwise.
    fn net(&mut self, w: &Writer, group: ResourceId) -> Result<(), ServiceError> {
        if self.added.is_empty() || self.removed.is_empty() {
            return Ok(());
        }
        let removed: std::collections::HashSet<ResourceId> = self.removed.iter().copied().collect();
        let both: Vec<ResourceId> =
            self.added.iter().filter(|id| removed.contains(id)).copied().collect();
        for id in both {
            let member_now = w.groups_of(id)?.contains(&group);
            self.added.retain(|a| *a != id || member_now);
            self.removed.retain(|r| *r != id || !member_now);
        }
        Ok(())
    }
}

impl Service {
    /// Applies `request`'s PatchOp body to its resource, for `principal`.
    pub async fn patch(
        &self,
        principal: Principal,
        request: PatchRequest,
    ) -> Result<PatchedResource, ServiceError> {
        let PatchRequest { kind, id, mut body, if_match, projection, with_body } = request;
        let attempt = Attempt::new(principal, "patch", kind, Some(id.clone()));
        let rt = resource_type(kind);
        let limits = self.settings.limits;
        let (normalised, ignored) =
            match Service::ensure_can_write(&attempt.principal).and_then(|()| {
                // The limits first: what they refuse costs nothing more.
                limits::check_patch_body(&body, &limits)?;
                let stripped = match self.scim().unknown_attributes {
                    UnknownAttributes::Reject => unknown::StrippedPatch::default(),
                    UnknownAttributes::Ignore => unknown::strip_patch(rt, &mut body),
                };
                // Every operation named unknown attributes: nothing to do, and nothing refused.
                let normalised = if stripped.emptied {
                    tolerance::PatchRequest { operations: Vec::new(), echoed_groups: Vec::new() }
                } else {
                    tolerance::patch_operations(rt, &id, body)?
                };
                limits::check_operations(rt, &normalised.operations, &limits)?;
                Ok((normalised, stripped.dropped))
            }) {
                Ok(normalised) => normalised,
                Err(e) => {
                    let _ = log_refusal(self, &attempt, &e).await;
                    return Err(e);
                }
            };
        // The operations applied off the writer, to the resource as stored now: the writer
        // takes this result if the resource is still at that version (the usual case) and
        // applies them itself otherwise. The engine's refusal is kept the same way; a failure
        // to read is left for the writer to meet and report.
        let mut ahead = {
            let (operations, id) = (normalised.operations.clone(), id.clone());
            self.blocking(move |service| {
                let reader = service.store().read()?;
                let (_, old) = existing(&reader, kind, &id)?;
                Ok((old.version, patch::apply(rt, &old.attributes, &operations)))
            })
            .await
            .ok()
        };
        let service = self.clone();
        let stored = write_logged(self, attempt, move |w, attempt| {
            let (rid, old) = existing(w, kind, &id)?;
            attempt.name = old.name(kind).map(str::to_string);
            check_if_match(if_match.as_deref(), &old)?;

            check_echoed_groups(w, rid, &normalised.echoed_groups)?;
            // Taken, not cloned: if the writer runs this again (a batch retried), it applies
            // the operations itself.
            let patched = match ahead.take() {
                Some((version, patched)) if version == old.version => patched?,
                _ => patch::apply(rt, &old.attributes, &normalised.operations)?,
            };
            // A PATCH may not grow a list past the limit a POST is held to.
            limits::check_resource(rt, &patched.attributes, Some(&old.attributes), &limits)?;
            let mut attributes = patched.attributes;
            let mut roles_derived = old.roles_derived;
            let mut roles_summary = None;
            let touched = |name: &str| patched.changed.contains(&name);
            if kind == Kind::User {
                if touched("userName") || touched("emails") {
                    domains::check_user(&service.scim().allowed_domains, &attributes)?;
                }
                if touched("userType") || touched("roles") {
                    let decision = roles::decide(&service.roles(), &attributes)?;
                    if let Some(obj) = attributes.as_object_mut() {
                        match &decision.roles {
                            Some(r) => obj.insert("roles".into(), r.clone()),
                            None => obj.remove("roles"),
                        };
                    }
                    roles_derived = decision.derived;
                    roles_summary = Some(decision.summary);
                }
            }
            check_names(kind, &attributes, Some(&old.attributes))?;
            let name = naming_value(kind, &attributes).ok_or_else(|| {
                ScimError::invalid_value(format!(
                    "'{}' must not be empty or blank",
                    kind.name_attribute()
                ))
            })?;
            if old.name(kind).map(name_key) != Some(name_key(&name)) {
                ensure_name_free(w, kind, &name, Some(rid))?;
            }
            ensure_unique_values_free(w, kind, &attributes, Some(rid))?;
            let counts =
                apply_member_changes(w, &service.settings.base_url, rid, &patched.members)?;

            let changed = attributes != old.attributes
                || !counts.added.is_empty()
                || !counts.removed.is_empty();
            let stored = if changed {
                let new = StoredResource {
                    id: rid,
                    version: old.version + 1,
                    created: old.created.clone(),
                    last_modified: now_rfc3339(),
                    attributes,
                    roles_derived,
                };
                w.put(kind, &new, Some(&old))?;
                let events = ChangeEvents::new();
                events.patched(w, kind, &old, &new, &counts.added, &counts.removed)?;
                new
            } else {
                old.clone()
            };
            attempt.name = Some(name);
            let mut detail = summary(&old, &stored, &patched.changed, counts);
            if let Some(ignored) = super::resources::ignored_summary(&ignored) {
                detail = format!("{detail}; {ignored}");
            }
            let status = if with_body { 200 } else { 204 };
            Ok((stored, attempt.succeeded_with(status, roles_summary, detail)))
        })
        .await?;
        let body = match with_body {
            true => Some(self.rendered_committed(kind, &stored, &projection)?.body),
            false => None,
        };
        Ok(PatchedResource { body, etag: etag(stored.version) })
    }
}

/// A user's `groups` echoed in a pathless PATCH value must be its groups (in any order).
fn check_echoed_groups(
    w: &Writer,
    user: ResourceId,
    echoed: &[Vec<String>],
) -> Result<(), ServiceError> {
    if echoed.is_empty() {
        return Ok(());
    }
    let mut current = w.groups_of(user)?;
    current.sort();
    for sent in echoed {
        let mut ids: Vec<ResourceId> = sent.iter().filter_map(|s| ResourceId::parse(s)).collect();
        ids.sort();
        ids.dedup();
        if ids.len() != sent.len() || ids != current {
            return Err(ScimError::mutability(
                "'groups' is read-only: scimd keeps it from group memberships; change membership \
                 with PATCH /Groups/{id}",
            )
            .into());
        }
    }
    Ok(())
}

/// Applies member changes in request order; only the rows named are touched, except for a
/// filter that is not a list of ids, which reads the members to evaluate it.
fn apply_member_changes(
    w: &mut Writer,
    base_url: &str,
    group: ResourceId,
    changes: &[MemberChange],
) -> Result<MemberChanges, ServiceError> {
    let mut counts = MemberChanges::default();
    for change in changes {
        match change {
            MemberChange::Add(ids) => counts.added.extend(add_members(w, group, ids)?),
            MemberChange::Remove(ids) => {
                // An id that is not a UUID names no member: removing it changes nothing.
                for member in ids.iter().filter_map(|id| ResourceId::parse(id)) {
                    if w.remove_member(group, member)? {
                        counts.removed.push(member);
                    }
                }
            }
            MemberChange::RemoveAll => {
                counts.removed.extend(w.members_of(group)?.into_iter().map(|row| row.id));
                w.clear_members(group)?;
            }
            MemberChange::RemoveMatching(f) => {
                let def = resource_type(Kind::Group)
                    .attribute(None, "members")
                    .map(|(_, def)| def)
                    .ok_or_else(|| {
                        ServiceError::Internal("the Group schema has no members".into())
                    })?;
                for row in w.members_of(group)? {
                    let element = member_element(base_url, row);
                    if filter::matches_value_filter(f, &element, def)
                        && w.remove_member(group, row.id)?
                    {
                        counts.removed.push(row.id);
                    }
                }
            }
        }
    }
    counts.net(w, group)?;
    Ok(counts)
}

/// One line for the provisioning log: what changed, with activation called out.
fn summary(
    old: &StoredResource,
    new: &StoredResource,
    changed: &[&str],
    counts: MemberChanges,
) -> String {
    let active = |r: &StoredResource| r.attributes.get("active").and_then(Value::as_bool);
    let mut parts = Vec::new();
    match (active(old), active(new)) {
        (Some(true) | None, Some(false)) => parts.push("deactivated (active: false)".to_string()),
        (Some(false), Some(true)) => parts.push("reactivated (active: true)".to_string()),
        _ => {}
    }
    let others: Vec<&str> = changed.iter().copied().filter(|a| *a != "active").collect();
    if !others.is_empty() {
        parts.push(format!("changed {}", others.join(", ")));
    }
    if !counts.added.is_empty() || !counts.removed.is_empty() {
        let (added, removed) = (counts.added.len(), counts.removed.len());
        parts.push(format!("members: {added} added, {removed} removed"));
    }
    if parts.is_empty() {
        "no change: the resource already had these values".to_string()
    } else {
        parts.join("; ")
    }
}
