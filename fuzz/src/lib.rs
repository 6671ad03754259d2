//! What the fuzz targets share: a printer that writes a parsed filter or PATCH path back as
//! text (so a target can check that parsing the printed form gives the same tree), the split of
//! one input into parts, and the resource type an input byte selects.
//!
//! The printer lives here, not in the library, because only the round-trip invariant needs it.
//! It writes the fewest parentheses the grammar needs (`and` binds tighter than `or`, both are
//! left-associative), so the printed form never nests deeper than the text it was parsed from.

use scimd::scim::filter::{CompValue, Filter};
use scimd::scim::patch_path::PatchPath;
use scimd::scim::schema::{GROUP, ResourceType, USER};

/// Where a sub-filter stands, to know whether it needs parentheses.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Or,
    And,
    Unary,
}

/// The filter as text that parses back to the same tree.
pub fn print_filter(f: &Filter) -> String {
    let mut out = String::new();
    write_filter(f, Level::Or, &mut out);
    out
}

fn write_filter(f: &Filter, level: Level, out: &mut String) {
    let (own, wrap) = match f {
        Filter::Or(..) => (Level::Or, level > Level::Or),
        Filter::And(..) => (Level::And, level > Level::And),
        _ => (Level::Unary, false),
    };
    if wrap {
        out.push('(');
    }
    match f {
        Filter::Or(a, b) | Filter::And(a, b) => {
            write_filter(a, own, out);
            out.push_str(if own == Level::Or { " or " } else { " and " });
            // Left-associative: a right operand of the same operator needs parentheses.
            let right = if own == Level::Or { Level::And } else { Level::Unary };
            write_filter(b, right, out);
        }
        Filter::Not(a) => {
            out.push_str("not ");
            write_filter(a, Level::Unary, out);
        }
        Filter::Present(path) => {
            out.push_str(&path.to_string());
            out.push_str(" pr");
        }
        Filter::Compare { path, op, value } => {
            out.push_str(&path.to_string());
            out.push(' ');
            out.push_str(op.as_str());
            out.push(' ');
            write_value(value, out);
        }
        Filter::ValuePath { attr, filter } => {
            out.push_str(&attr.to_string());
            out.push('[');
            // `emails[type eq "work"].value eq "x"` parses as `emails[type eq "work" and
            // value eq "x"]`; print that shape in its short form, which needs no parentheses
            // around an `or` on the left and keeps a sub-attribute named like a keyword
            // (`not`) out of keyword position.
            match filter.as_ref() {
                Filter::And(left, right) if is_plain_comparison(right) => {
                    write_filter(left, Level::Or, out);
                    out.push_str("].");
                    write_filter(right, Level::Unary, out);
                }
                inner => {
                    write_filter(inner, Level::Or, out);
                    out.push(']');
                }
            }
        }
    }
    if wrap {
        out.push(')');
    }
}

/// A comparison on a bare name (`value eq "x"`): what may follow `].` in a filter.
fn is_plain_comparison(f: &Filter) -> bool {
    matches!(f, Filter::Compare { path, .. } if path.schema.is_none() && path.sub.is_none())
}

fn write_value(v: &CompValue, out: &mut String) {
    match v {
        CompValue::Str(s) => out.push_str(&serde_json::Value::from(s.as_str()).to_string()),
        CompValue::Num(n) => out.push_str(&n.to_string()),
        CompValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        CompValue::Null => out.push_str("null"),
    }
}

/// The PATCH path as text that parses back to the same path.
pub fn print_patch_path(p: &PatchPath) -> String {
    let mut out = p.attr.to_string();
    if let Some(f) = &p.filter {
        out.push('[');
        out.push_str(&print_filter(f));
        out.push(']');
    }
    if let Some(sub) = &p.sub {
        out.push('.');
        out.push_str(sub);
    }
    out
}

/// Splits `data` at the first `sep`: (before, after). No separator: all of it, and nothing.
pub fn split_at_byte(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == sep) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// The resource type a selector byte names: even is User, odd is Group.
pub fn resource_type(selector: u8) -> &'static ResourceType {
    if selector % 2 == 0 { &USER } else { &GROUP }
}

/// Resources the filter evaluator runs on when the input brings none: RFC 7643's full User
/// example with the enterprise extension, and a group.
pub fn sample_resources() -> Vec<(&'static ResourceType, serde_json::Value)> {
    let user = serde_json::json!({
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen",
                 "givenName": "Barbara", "middleName": "Jane", "honorificPrefix": "Ms.",
                 "honorificSuffix": "III"},
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "profileUrl": "https://login.example.com/bjensen",
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                   {"value": "babs@jensen.org", "type": "home"}],
        "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
        "userType": "Employee",
        "title": "Tour Guide",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "roles": [{"value": "employee"}],
        "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides"}],
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z",
                 "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"3694e05e9dff591\""},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
            "division": "Theme Park", "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        }
    });
    let group = serde_json::json!({
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Tour Guides",
        "externalId": "g-1",
        "members": [{"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen",
                     "type": "User"}],
        "meta": {"resourceType": "Group", "created": "2010-01-23T04:56:22Z",
                 "lastModified": "2011-05-13T04:42:34Z"}
    });
    vec![(&USER, user), (&GROUP, group)]
}
