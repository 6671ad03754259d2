//! The `[roles]` section's typed form ([`RolesConfig`]) and its check: userType names
//! matched case-insensitively, unique, none empty; the built-in mapping when the section is
//! absent.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::SpannedError;
use super::raw::RawRoles;

/// The roles every built-in default names (used when `[roles]` is absent).
const DEFAULT_ROLE: &str = "member";

/// What to do with a `userType` no mapping names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownUserType {
    /// 400 invalidValue naming the accepted values.
    #[default]
    Reject,
    /// Give the user the default roles.
    Default,
}

/// What to do with an IdP-sent role that no mapping names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownRole {
    /// 400 invalidValue naming the known roles.
    #[default]
    Reject,
    /// Store it as sent.
    Accept,
}

/// The `[roles]` mapping, validated: user types are matched case-insensitively.
#[derive(Debug, Clone, PartialEq)]
pub struct RolesConfig {
    pub default: Vec<String>,
    /// Lower-cased userType -> roles, and the userType as written in the file.
    pub user_types: BTreeMap<String, (String, Vec<String>)>,
    pub unknown_user_type: UnknownUserType,
    pub unknown_role: UnknownRole,
}

pub(super) fn validate_roles(raw: RawRoles) -> Result<RolesConfig, SpannedError> {
    let default = raw.default.unwrap_or_else(|| vec![DEFAULT_ROLE.to_string()]);
    let (span, map) = match raw.user_types {
        Some(m) => (Some(m.span()), m.into_inner()),
        None => (
            None,
            BTreeMap::from([
                ("employee".to_string(), vec!["member".to_string()]),
                ("operations".to_string(), vec!["member".to_string(), "operations".to_string()]),
                ("manager".to_string(), vec!["member".to_string(), "manager".to_string()]),
            ]),
        ),
    };
    let mut user_types = BTreeMap::new();
    for (name, roles) in map {
        let key = name.trim().to_lowercase();
        if key.is_empty() {
            return Err((span, "roles.user_types has an empty userType name".into()));
        }
        if roles.iter().any(|r| r.trim().is_empty()) {
            return Err((span, format!("roles.user_types.{name} lists an empty role name")));
        }
        if user_types.insert(key, (name.clone(), roles)).is_some() {
            return Err((
                span,
                format!(
                    "roles.user_types names {name:?} twice (userTypes are matched \
                     case-insensitively)"
                ),
            ));
        }
    }
    Ok(RolesConfig {
        default,
        user_types,
        unknown_user_type: raw.unknown_user_type,
        unknown_role: raw.unknown_role,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn user_types_are_case_insensitive_and_unique() {
        let c = Config::parse("[roles.user_types]\nEmployee = [\"member\"]\n", None).unwrap();
        assert_eq!(c.roles.user_types["employee"].0, "Employee");
        let e = Config::parse("[roles.user_types]\na = [\"x\"]\nA = [\"y\"]\n", None).unwrap_err();
        assert!(e.message.contains("twice"), "{e}");
    }
}
