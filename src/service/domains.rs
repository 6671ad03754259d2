//! The `allowed_domains` rule: when the list is set, a user's userName and every email must be
//! in one of its domains.

use serde_json::Value;

use crate::scim::ScimError;

/// The domain part of an address, lower-cased; None when there is no `@`.
fn domain_of(address: &str) -> Option<String> {
    address.rsplit_once('@').map(|(_, d)| d.trim().to_lowercase()).filter(|d| !d.is_empty())
}

/// Checks a canonical user against `allowed` (lower-cased domains; empty allows all).
pub fn check_user(allowed: &[String], user: &Value) -> Result<(), ScimError> {
    if allowed.is_empty() {
        return Ok(());
    }
    let allowed_list = allowed.join(", ");
    let check = |what: &str, address: &str| -> Result<(), ScimError> {
        match domain_of(address) {
            Some(d) if allowed.contains(&d) => Ok(()),
            _ => Err(ScimError::invalid_value(format!(
                "{what} '{address}' is not in an allowed domain; scimd accepts only \
                 {allowed_list} (config: [scim] allowed_domains)"
            ))),
        }
    };
    if let Some(user_name) = user.get("userName").and_then(Value::as_str) {
        check("userName", user_name)?;
    }
    for email in user.get("emails").and_then(Value::as_array).into_iter().flatten() {
        if let Some(address) = email.get("value").and_then(Value::as_str) {
            check("email", address)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_listed_domains_pass() {
        let allowed = vec!["example.org".to_string()];
        assert!(check_user(&allowed, &json!({"userName": "a@EXAMPLE.org"})).is_ok());
        assert!(check_user(&allowed, &json!({"userName": "a@evil.org"})).is_err());
        assert!(check_user(&allowed, &json!({"userName": "plain"})).is_err());
        let e = check_user(
            &allowed,
            &json!({"userName": "a@example.org", "emails": [{"value": "b@sub.example.org"}]}),
        )
        .unwrap_err();
        assert!(e.detail.contains("example.org"), "{}", e.detail);
        assert!(check_user(&[], &json!({"userName": "x"})).is_ok());
    }
}
