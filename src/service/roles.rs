//! Default roles from `userType`, and the rules for roles the IdP sends.
//!
//! A user's `roles` attribute holds what the IdP sent, as sent. When the IdP sends none, scimd
//! fills it from `[roles.user_types]` for the user's `userType` (or `[roles].default` when the
//! user has none) and marks each derived role with `"type": "derived"`. A role element carrying
//! that marker is scimd's own output echoed back (Okta PUTs the whole user it read), so it
//! never counts as IdP-sent: the roles are derived again from the current `userType`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::config::{RolesConfig, UnknownRole, UnknownUserType};
use crate::scim::ScimError;

/// The `type` given to derived role elements.
pub const DERIVED: &str = "derived";

/// The roles a user ends up with and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleDecision {
    /// The `roles` attribute to store; None for no roles.
    pub roles: Option<Value>,
    /// Whether scimd derived them (true) or the IdP sent them (false).
    pub derived: bool,
    /// One line for the provisioning log.
    pub summary: String,
}

/// Every role the mapping names: the known roles.
pub fn known_roles(config: &RolesConfig) -> BTreeSet<String> {
    config
        .default
        .iter()
        .chain(config.user_types.values().flat_map(|(_, roles)| roles.iter()))
        .cloned()
        .collect()
}

fn list(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    items.into_iter().map(|s| s.as_ref().to_string()).collect::<Vec<_>>().join(", ")
}

/// Decides the roles of a canonical user body.
pub fn decide(config: &RolesConfig, user: &Value) -> Result<RoleDecision, ScimError> {
    let sent: Vec<&Value> = user
        .get("roles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| r.get("type").and_then(Value::as_str) != Some(DERIVED))
        .collect();
    if !sent.is_empty() {
        return from_idp(config, sent);
    }

    let user_type = user.get("userType").and_then(Value::as_str).map(str::trim).unwrap_or("");
    let (roles, summary) = if user_type.is_empty() {
        (&config.default, format!("default roles (no userType): {}", list(&config.default)))
    } else if let Some((_, roles)) = config.user_types.get(&user_type.to_lowercase()) {
        (roles, format!("from userType '{user_type}': {}", list(roles)))
    } else {
        match config.unknown_user_type {
            UnknownUserType::Default => (
                &config.default,
                format!(
                    "userType '{user_type}' is not mapped; default roles: {}",
                    list(&config.default)
                ),
            ),
            UnknownUserType::Reject => {
                return Err(ScimError::invalid_value(format!(
                    "userType '{user_type}' is not accepted; accepted userTypes: {} (or no \
                     userType, for the default roles). An admin can add it under \
                     [roles.user_types] or set [roles] unknown_user_type = \"default\"",
                    list(config.user_types.values().map(|(name, _)| name))
                )));
            }
        }
    };
    let roles = (!roles.is_empty()).then(|| {
        Value::Array(roles.iter().map(|r| json!({"value": r, "type": DERIVED})).collect())
    });
    Ok(RoleDecision { roles, derived: true, summary })
}

fn from_idp(config: &RolesConfig, sent: Vec<&Value>) -> Result<RoleDecision, ScimError> {
    let known = known_roles(config);
    let mut names = Vec::new();
    for role in &sent {
        let value = role.get("value").and_then(Value::as_str).unwrap_or("");
        if value.is_empty() {
            return Err(ScimError::invalid_value(
                "every element of 'roles' needs a non-empty 'value'".to_string(),
            ));
        }
        let is_known = known.iter().any(|k| k.eq_ignore_ascii_case(value));
        if !is_known && config.unknown_role == UnknownRole::Reject {
            return Err(ScimError::invalid_value(format!(
                "role '{value}' is not known to scimd; known roles: {}. An admin can add it to \
                 a mapping in [roles] or set [roles] unknown_role = \"accept\"",
                list(&known)
            )));
        }
        names.push(value.to_string());
    }
    Ok(RoleDecision {
        roles: Some(Value::Array(sent.into_iter().cloned().collect())),
        derived: false,
        summary: format!("sent by the IdP: {}", list(names)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config(extra: &str) -> RolesConfig {
        Config::parse(extra, None).unwrap().roles
    }

    #[test]
    fn derives_from_user_type_and_default() {
        let c = config("");
        let d = decide(&c, &json!({"userType": "Operations"})).unwrap();
        assert!(d.derived);
        assert_eq!(
            d.roles.unwrap(),
            json!([{"value": "member", "type": "derived"}, {"value": "operations", "type": "derived"}])
        );
        let d = decide(&c, &json!({})).unwrap();
        assert_eq!(d.roles.unwrap(), json!([{"value": "member", "type": "derived"}]));
        assert!(d.summary.contains("no userType"));
    }

    #[test]
    fn unknown_user_type_is_rejected_or_defaulted() {
        let e = decide(&config(""), &json!({"userType": "contractor"})).unwrap_err();
        assert!(e.detail.contains("employee, manager, operations"), "{}", e.detail);
        let c = config("[roles]\nunknown_user_type = \"default\"\n");
        let d = decide(&c, &json!({"userType": "contractor"})).unwrap();
        assert_eq!(d.roles.unwrap(), json!([{"value": "member", "type": "derived"}]));
    }

    #[test]
    fn idp_roles_win_and_are_checked() {
        let c = config("");
        let d =
            decide(&c, &json!({"userType": "employee", "roles": [{"value": "Manager"}]})).unwrap();
        assert!(!d.derived);
        assert_eq!(d.roles.unwrap(), json!([{"value": "Manager"}]));
        let e = decide(&c, &json!({"roles": [{"value": "root"}]})).unwrap_err();
        assert!(e.detail.contains("known roles: manager, member, operations"), "{}", e.detail);
        let c = config("[roles]\nunknown_role = \"accept\"\n");
        assert!(decide(&c, &json!({"roles": [{"value": "root"}]})).is_ok());
    }

    #[test]
    fn echoed_derived_roles_are_derived_again() {
        let c = config("");
        let echoed =
            json!({"userType": "manager", "roles": [{"value": "member", "type": "derived"}]});
        let d = decide(&c, &echoed).unwrap();
        assert!(d.derived);
        assert_eq!(d.roles.unwrap().as_array().unwrap().len(), 2);
    }
}
