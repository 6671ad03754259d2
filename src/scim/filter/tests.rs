//! The filter language end to end: RFC 7644's examples and the shapes they parse to, every
//! operator on every type, the IdP tolerance, the limits, the error details, and a
//! deterministic fuzz loop. Most cases parse, check and evaluate, so they sit beside all three
//! files rather than in one of them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::{Value, json};

use crate::scim::ScimType;
use crate::scim::error::{ScimError, assert_each_refused};
use crate::scim::path::{self, AttrPath};
use crate::scim::schema::{
    AttrDef, AttrType, CORE_USER, ENTERPRISE_USER, GROUP, ResourceType, SchemaDef, USER,
};

use super::check::{validate, validate_value_filter};
use super::eval::{matches, matches_value_filter};
use super::parse::{CompValue, CompareOp, Filter, MAX_DEPTH, MAX_TERMS, parse, parse_value_filter};

/// Found by fuzzing: a number literal is the nearest double, so printing it and parsing
/// it again gives the same number (and the same as a JSON body's number).
#[test]
fn number_literals_are_correctly_rounded() {
    for (text, want) in
        [("1.5e38", 1.5e38_f64), ("444444444444444444444444", 4.444_444_444_444_444_4e23)]
    {
        let Filter::Compare { value: CompValue::Num(n), .. } =
            parse(&format!("x eq {text}")).unwrap()
        else {
            panic!("{text}")
        };
        assert_eq!(n.as_f64(), Some(want), "{text}");
        let again = parse(&format!("x eq {n}")).unwrap();
        assert_eq!(again, parse(&format!("x eq {text}")).unwrap(), "{text} printed as {n}");
    }
}

fn user() -> Value {
    json!({
        "schemas": [CORE_USER, ENTERPRISE_USER],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Ext-701984",
        "userName": "bjensen@example.com",
        "name": {"familyName": "O'Malley", "givenName": "Barbara"},
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "roles": [{"value": "admin", "primary": true}],
        "x509Certificates": [{"value": "TUlJRFF6Q0NB"}],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"a330bc54f0671c9\""
        },
        ENTERPRISE_USER: {
            "employeeNumber": "701984",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    })
}

fn ok(s: &str) -> Filter {
    parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Parses, validates and evaluates against the sample user.
fn eval_user(s: &str) -> bool {
    let f = ok(s);
    validate(&f, &USER).unwrap_or_else(|e| panic!("{s}: {e}"));
    matches(&f, &user(), &USER)
}

fn invalid(s: &str) -> ScimError {
    let e = parse(s).and_then(|f| validate(&f, &USER).map(|_| f));
    let e = e.expect_err(s);
    assert_eq!(e.scim_type, ScimType::InvalidFilter, "{s}: {e}");
    e
}

fn path(s: &str) -> AttrPath {
    path::parse_attr_path(s).unwrap()
}

fn cmp(p: &str, op: CompareOp, v: CompValue) -> Filter {
    Filter::Compare { path: path(p), op, value: v }
}

fn s(v: &str) -> CompValue {
    CompValue::Str(v.into())
}

#[test]
fn rfc_7644_examples_parse_validate_and_match() {
    let cases = [
        (r#"userName eq "bjensen""#, false),
        (r#"userName eq "bjensen@example.com""#, true),
        (r#"name.familyName co "O'Malley""#, true),
        (r#"userName sw "J""#, false),
        (r#"userName sw "B""#, true),
        (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#, false),
        (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj""#, true),
        ("title pr", true),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
        (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
        (r#"title pr and userType eq "Employee""#, true),
        (r#"title pr or userType eq "Intern""#, true),
        (r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#, true),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            true,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            false,
        ),
        (r#"userType eq "Employee" and (emails.type eq "work")"#, true),
        (r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#, true),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            true,
        ),
    ];
    for (f, expected) in cases {
        assert_eq!(eval_user(f), expected, "{f}");
    }
}

#[test]
fn rfc_examples_have_the_expected_shape() {
    assert_eq!(ok(r#"userName eq "bjensen""#), cmp("userName", CompareOp::Eq, s("bjensen")));
    assert_eq!(ok("title pr"), Filter::Present(path("title")));
    assert_eq!(
        ok(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#),
        cmp("urn:ietf:params:scim:schemas:core:2.0:User:userName", CompareOp::Sw, s("J"))
    );
    assert_eq!(
        ok(r#"userType ne "Employee" and not (emails co "example.com")"#),
        Filter::And(
            Box::new(cmp("userType", CompareOp::Ne, s("Employee"))),
            Box::new(Filter::Not(Box::new(cmp("emails", CompareOp::Co, s("example.com"))))),
        )
    );
    assert_eq!(
        ok(r#"emails[type eq "work" and value co "@example.com"]"#),
        Filter::ValuePath {
            attr: path("emails"),
            filter: Box::new(Filter::And(
                Box::new(cmp("type", CompareOp::Eq, s("work"))),
                Box::new(cmp("value", CompareOp::Co, s("@example.com"))),
            )),
        }
    );
}

#[test]
fn and_binds_tighter_than_or() {
    let a = || Box::new(Filter::Present(path("a")));
    let b = || Box::new(Filter::Present(path("b")));
    let c = || Box::new(Filter::Present(path("c")));
    assert_eq!(ok("a pr or b pr and c pr"), Filter::Or(a(), Box::new(Filter::And(b(), c()))));
    assert_eq!(ok("a pr and b pr or c pr"), Filter::Or(Box::new(Filter::And(a(), b())), c()));
    assert_eq!(ok("(a pr or b pr) and c pr"), Filter::And(Box::new(Filter::Or(a(), b())), c()));
    assert_eq!(ok("a pr or b pr or c pr"), Filter::Or(Box::new(Filter::Or(a(), b())), c()));
    // Evaluated: true or (false and false) is true; (true or false) and false is false.
    assert!(eval_user(r#"title pr or nickName pr and nickName eq "x""#));
    assert!(!eval_user(r#"(title pr or nickName pr) and nickName eq "x""#));
    assert!(eval_user(r#"not (nickName pr) and title pr"#));
}

#[test]
fn keywords_operators_and_names_are_case_insensitive() {
    assert!(eval_user(r#"USERNAME EQ "bjensen@example.com" AND Title PR"#));
    assert!(eval_user(r#"NOT (title Eq "x") Or userName Sw "z""#));
    assert!(eval_user(r#"Emails[Type EQ "work"]"#));
    assert!(eval_user(
        r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:MANAGER.VALUE pr"#
    ));
}

#[test]
fn string_case_follows_case_exact() {
    // userName is caseExact false: Entra and the validator probe with a different case.
    assert!(eval_user(r#"userName eq "BJENSEN@EXAMPLE.COM""#));
    assert!(eval_user(r#"displayName eq "babs jensen""#));
    // externalId and id are caseExact.
    assert!(eval_user(r#"externalId eq "Ext-701984""#));
    assert!(!eval_user(r#"externalId eq "ext-701984""#));
    assert!(!eval_user(r#"id eq "2819C223-7F76-453A-919D-413861904646""#));
    assert!(!eval_user(r#"externalId sw "ext""#));
    assert!(eval_user(r#"externalId sw "Ext""#));
    // Unicode case folding, not only ASCII.
    let f = ok(r#"displayName eq "ÉLODIE""#);
    assert!(matches(&f, &json!({"displayName": "élodie"}), &USER));
    // Full folding and normalisation: the uniqueness key.
    let f = ok(r#"userName eq "STRASSE@Ｅｘａｍｐｌｅ.com""#);
    assert!(matches(&f, &json!({"userName": "straße@example.com"}), &USER));
    let f = ok(r#"userName sw "stras""#);
    assert!(matches(&f, &json!({"userName": "Straße"}), &USER));
}

#[test]
fn string_operators() {
    for (f, expected) in [
        (r#"title eq "tour guide""#, true),
        (r#"title ne "tour guide""#, false),
        (r#"title ne "x""#, true),
        (r#"title co "UR G""#, true),
        (r#"title co "xyz""#, false),
        (r#"title sw "tour""#, true),
        (r#"title sw "guide""#, false),
        (r#"title ew "GUIDE""#, true),
        (r#"title ew "tour""#, false),
        (r#"title gt "tour""#, true),
        (r#"title gt "tv""#, false),
        (r#"title ge "tour guide""#, true),
        (r#"title lt "tv""#, true),
        (r#"title lt "TOUR GUIDE""#, false),
        (r#"title le "TOUR GUIDE""#, true),
        (r#"title le "a""#, false),
    ] {
        assert_eq!(eval_user(f), expected, "{f}");
    }
}

#[test]
fn boolean_operators_and_entra_strings() {
    for (f, expected) in [
        ("active eq true", true),
        ("active eq false", false),
        ("active ne false", true),
        ("active ne true", false),
        (r#"active eq "True""#, true),
        (r#"active eq "FALSE""#, false),
        ("active eq TRUE", true),
        ("active pr", true),
        (r#"roles[primary eq "True"]"#, true),
        (r#"emails[primary eq "False"]"#, false),
        (r#"emails[primary ne true]"#, true),
    ] {
        assert_eq!(eval_user(f), expected, "{f}");
    }
    for f in
        ["active gt true", "active co true", "active sw \"t\"", "active eq \"yes\"", "active eq 1"]
    {
        invalid(f);
    }
}

#[test]
fn date_time_operators_compare_instants() {
    for (f, expected) in [
        (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
        (r#"meta.lastModified eq "2011-05-13T04:42:34.000Z""#, true),
        (r#"meta.lastModified ne "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified gt "2011-05-13T04:42:33.9Z""#, true),
        (r#"meta.lastModified lt "2011-05-13T04:42:34.1Z""#, true),
        (r#"meta.created lt "2011-05-13T04:42:34Z""#, true),
        // Microsoft's reference collection: unquoted, capitalised, 7 fractional digits.
        ("meta.Created gt 2015-10-10T14:38:21.8617979-07:00", false),
        ("meta.Created lt 2015-10-10T14:38:21.8617979-07:00", true),
    ] {
        assert_eq!(eval_user(f), expected, "{f}");
    }
    invalid(r#"meta.created co "2011""#);
    invalid(r#"meta.created gt "yesterday""#);
    invalid("meta.created gt 2011");
}

static NUMERIC_ATTRS: [AttrDef; 3] = [
    AttrDef::new("age", AttrType::Integer, ""),
    AttrDef::new("scores", AttrType::Decimal, "").multi(),
    AttrDef::new("blob", AttrType::Binary, "").case_exact(),
];
static NUMERIC_SCHEMA: SchemaDef = SchemaDef {
    id: "urn:test:Numeric",
    name: "Numeric",
    description: "",
    attributes: &NUMERIC_ATTRS,
};
static NUMERIC: ResourceType = ResourceType {
    name: "Numeric",
    endpoint: "/Numerics",
    description: "",
    schema: &NUMERIC_SCHEMA,
    extensions: &[],
    required_extensions: &[],
};

#[test]
fn integer_decimal_and_binary_operators() {
    let r = json!({"age": 42, "scores": [1.5, 9.25], "blob": "AAEC"});
    let check = |f: &str| {
        let f = ok(f);
        validate(&f, &NUMERIC).unwrap();
        matches(&f, &r, &NUMERIC)
    };
    for (f, expected) in [
        ("age eq 42", true),
        ("age ne 42", false),
        ("age gt 41", true),
        ("age gt 42", false),
        ("age ge 42", true),
        ("age lt 42", false),
        ("age le 42", true),
        ("age lt 42.5", true),
        (r#"age eq "42""#, true),
        ("age eq -1", false),
        ("scores gt 9", true),
        ("scores lt 1.5", false),
        ("scores le 1.5", true),
        ("scores eq 9.25", true),
        ("blob eq \"AAEC\"", true),
        ("blob eq \"aaec\"", false),
        ("blob co \"AE\"", true),
        ("blob sw \"AA\"", true),
        ("blob ew \"EC\"", true),
    ] {
        assert_eq!(check(f), expected, "{f}");
    }
    for f in
        ["age co 4", "age sw 4", "age ew 4", "age eq \"old\"", "blob gt \"A\"", "scores eq true"]
    {
        let e = parse(f).and_then(|p| validate(&p, &NUMERIC)).unwrap_err();
        assert_eq!(e.scim_type, ScimType::InvalidFilter, "{f}");
    }
}

#[test]
fn complex_and_multi_valued_attributes() {
    for (f, expected) in [
        // Any element matches.
        (r#"emails.value ew "jensen.org""#, true),
        (r#"emails.type eq "home""#, true),
        (r#"emails.type eq "other""#, false),
        // A complex multi-valued attribute compares its `value`.
        (r#"emails co "@jensen""#, true),
        (r#"emails eq "babs@jensen.org""#, true),
        // Legacy Entra: `manager eq <id>` compares manager.value.
        ("manager eq 26118915-6090-4610-87e4-49d8ca9f808d", true),
        (r#"manager eq "someone-else""#, false),
        // The element filter applies to one element, not across elements.
        (r#"emails[type eq "home" and value co "example.com"]"#, false),
        (r#"emails.type eq "home" and emails.value co "example.com""#, true),
        ("emails pr", true),
        ("name pr", true),
        ("phoneNumbers pr", false),
        ("ims[type eq \"aim\"]", true),
        ("x509Certificates.value pr", true),
    ] {
        assert_eq!(eval_user(f), expected, "{f}");
    }
    let e = invalid(r#"name eq "Barbara""#);
    assert!(e.detail.contains("complex"), "{e}");
    invalid(r#"userName[value eq "x"]"#);
}

#[test]
fn presence_null_and_absent_attributes() {
    let r = json!({"userName": "u", "title": "", "nickName": null, "emails": [], "name": {}});
    let m = |f: &str| matches(&ok(f), &r, &USER);
    assert!(!m("title pr"));
    assert!(!m("nickName pr"));
    assert!(!m("emails pr"));
    assert!(!m("name pr"));
    assert!(!m("profileUrl pr"));
    assert!(m("userName pr"));
    assert!(m("nickName eq null"));
    assert!(m("profileUrl eq null"));
    assert!(!m("userName eq null"));
    assert!(m("userName ne null"));
    // `ne` on an absent attribute matches; other operators do not.
    assert!(m(r#"profileUrl ne "x""#));
    assert!(!m(r#"profileUrl eq "x""#));
    assert!(!m(r#"profileUrl co "x""#));
    assert!(!m(r#"profileUrl gt "a""#));
    assert!(!m(r#"emails[type eq "work"]"#));
    invalid("title gt null");
    invalid("title co null");
}

#[test]
fn entra_and_microsoft_tolerance() {
    // Unquoted bare values are strings.
    assert_eq!(ok("externalId eq jyoung"), cmp("externalId", CompareOp::Eq, s("jyoung")));
    assert!(eval_user("userName sw B"));
    assert!(eval_user("name.FamilyName eq o'malley"));
    assert!(eval_user("externalId eq Ext-701984"));
    assert!(eval_user(
        "name.FamilyName eq o'malley and (emails.Value co example.com or emails.Value co example.org)"
    ));
    // An unquoted number against a string attribute compares as its text.
    assert!(eval_user(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq 701984"
    ));
    // `valuePath.sub op value` means `valuePath[... and sub op value]`.
    let f = ok(r#"emails[type eq "work"].value eq "bjensen@example.com""#);
    assert_eq!(
        f,
        Filter::ValuePath {
            attr: path("emails"),
            filter: Box::new(Filter::And(
                Box::new(cmp("type", CompareOp::Eq, s("work"))),
                Box::new(cmp("value", CompareOp::Eq, s("bjensen@example.com"))),
            )),
        }
    );
    assert!(eval_user(r#"emails[type eq "work"].value eq "BJENSEN@example.com""#));
    assert!(!eval_user(r#"emails[type eq "home"].value eq "bjensen@example.com""#));
    assert!(eval_user(r#"emails[type eq "work"].value pr"#));
    // Compound lookup from Entra's legacy flow.
    assert!(eval_user(
        "id eq 2819c223-7f76-453a-919d-413861904646 and manager eq 26118915-6090-4610-87e4-49d8ca9f808d"
    ));
    // Extra whitespace and no space before a quote.
    assert!(eval_user("  userName   eq\"bjensen@example.com\"  "));
}

#[test]
fn string_escapes() {
    assert_eq!(ok(r#"title eq "a\"b""#), cmp("title", CompareOp::Eq, s("a\"b")));
    assert_eq!(ok(r#"title eq "caf\u00e9""#), cmp("title", CompareOp::Eq, s("café")));
    assert_eq!(ok(r#"title eq "back\\slash""#), cmp("title", CompareOp::Eq, s("back\\slash")));
    assert_eq!(
        ok(r#"title eq "(not) [a] filter""#),
        cmp("title", CompareOp::Eq, s("(not) [a] filter"))
    );
    assert_eq!(ok("title eq \"\""), cmp("title", CompareOp::Eq, s("")));
    assert!(parse(r#"title eq "bad \q escape""#).is_err());
}

#[test]
fn literal_values() {
    assert_eq!(ok("title eq null"), cmp("title", CompareOp::Eq, CompValue::Null));
    assert_eq!(ok("active eq false"), cmp("active", CompareOp::Eq, CompValue::Bool(false)));
    let Filter::Compare { value: CompValue::Num(n), .. } = ok("age gt -1.5e3") else {
        panic!("number expected");
    };
    assert_eq!(n.as_f64(), Some(-1500.0));
    assert_eq!(ok("title eq 007"), cmp("title", CompareOp::Eq, s("007")));
}

#[test]
fn malformed_filters_are_invalid_filter() {
    assert_each_refused(
        ScimType::InvalidFilter,
        parse,
        &[
            "",
            "   ",
            "userName",
            "userName eq",
            r#"userName eq "x"#,
            r#"userName eqq "x""#,
            r#"userName like "x""#,
            r#"(userName eq "x""#,
            r#"userName eq "x")"#,
            r#"((userName eq "x")"#,
            r#"emails[type eq "work""#,
            r#"emails type eq "work"]"#,
            r#"emails[type eq "work"]]"#,
            r#"userName eq "x" garbage"#,
            r#"userName eq "x" "y""#,
            r#"userName eq "x" and"#,
            r#"or userName eq "x""#,
            r#"userName eq "x" or or title pr"#,
            "not",
            "not ()",
            "()",
            r#"userName eq ("x")"#,
            r#""userName" eq "x""#,
            r#"emails[type eq "work" and emails[value pr]]"#,
            r#"emails[type eq "work"].value.x eq "y""#,
            r#"emails[type eq "work"].value"#,
            r#"emails[type eq "work"] value eq "x""#,
            r#"name.givenName[value eq "x"]"#,
            "user name eq x",
            "userName pr pr",
            "userName eq x y",
            "[",
            "]",
            "\"",
            "\\",
        ],
    );
}

#[test]
fn unknown_attributes_and_password_fail_validation() {
    let e = invalid(r#"fooBar eq "x""#);
    assert_eq!(e.detail, "unknown attribute 'fooBar' for User");
    invalid(r#"name.nickName eq "x""#);
    invalid(r#"emails[foo eq "x"]"#);
    invalid(r#"urn:x:y:userName eq "x""#);
    let e = invalid(r#"password eq "secret""#);
    assert!(e.detail.contains("password"), "{e}");
    invalid("password pr");
    // Group attributes are checked against the Group type.
    let f = ok(r#"displayName eq "Admins" and members[value eq "x"]"#);
    assert!(validate(&f, &GROUP).is_ok());
    assert!(validate(&ok(r#"userName eq "x""#), &GROUP).is_err());
}

#[test]
fn limits_are_enforced_without_panicking() {
    let deep = format!("{}title pr{}", "(".repeat(10_000), ")".repeat(10_000));
    assert_eq!(parse(&deep).unwrap_err().scim_type, ScimType::InvalidFilter);
    let deep_in_budget = format!("{}title pr{}", "(".repeat(1000), ")".repeat(1000));
    assert!(parse(&deep_in_budget).unwrap_err().detail.contains("levels"));
    let nots = format!("{}title pr", "not ".repeat(33));
    assert!(parse(&nots).unwrap_err().detail.contains("levels"));
    let ok_depth = format!("{}title pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(parse(&ok_depth).is_ok());

    let huge = format!(r#"userName eq "{}""#, "x".repeat(1 << 20));
    let e = parse(&huge).unwrap_err();
    assert!(e.detail.contains("4096"), "{e}");
    assert!(e.detail.len() < 200);

    let terms = |n: usize| vec!["title pr"; n].join(" or ");
    assert!(parse(&terms(MAX_TERMS)).is_ok());
    assert!(parse(&terms(MAX_TERMS + 1)).unwrap_err().detail.contains("comparisons"));
}

#[test]
fn details_name_the_culprit() {
    let e = parse(r#"userName eqq "x""#).unwrap_err();
    assert!(e.detail.contains("'eqq'") && e.detail.contains("eq, ne"), "{e}");
    let e = parse(r#"userName eq "x" garbage"#).unwrap_err();
    assert!(e.detail.contains("'garbage'"), "{e}");
    let e = parse("userName eq").unwrap_err();
    assert!(e.detail.contains("missing value after 'userName eq'"), "{e}");
    let e = parse(r#"(userName eq "x""#).unwrap_err();
    assert!(e.detail.contains("')'"), "{e}");
    let e = invalid(r#"active eq "x""#);
    assert_eq!(e.detail, "'active' is of type boolean, so compare it with true or false, not 'x'");
    let e = invalid(r#"active gt true"#);
    assert_eq!(e.detail, "operator 'gt' cannot be used on 'active', which is of type boolean");
}

#[test]
fn attributes_lists_every_path_read() {
    let f = ok(r#"userName eq "x" or (members[value eq "u1"] and not (emails.type pr))"#);
    let names: Vec<String> = f.attributes().iter().map(ToString::to_string).collect();
    assert_eq!(names, ["userName", "members.value", "emails.type"]);
    let f =
        ok(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "m"]"#);
    assert_eq!(f.attributes()[0].schema.as_deref(), Some(ENTERPRISE_USER));
    assert_eq!(f.attributes()[0].sub.as_deref(), Some("value"));
}

#[test]
fn value_filters_for_patch_paths() {
    let (_, emails) = USER.attribute(None, "emails").unwrap();
    let f = parse_value_filter(r#"type eq "WORK""#).unwrap();
    validate_value_filter(&f, emails).unwrap();
    assert!(matches_value_filter(&f, &json!({"type": "work", "value": "a"}), emails));
    assert!(!matches_value_filter(&f, &json!({"type": "home"}), emails));
    assert!(parse_value_filter(r#"emails[type eq "work"]"#).is_err());
    assert!(validate_value_filter(&parse_value_filter("emails.type pr").unwrap(), emails).is_err());
    assert!(validate_value_filter(&parse_value_filter("nope pr").unwrap(), emails).is_err());
    let (_, members) = GROUP.attribute(None, "members").unwrap();
    let f = parse_value_filter(r#"value eq "7f4b""#).unwrap();
    assert!(matches_value_filter(&f, &json!({"value": "7F4B"}), members));
}

/// A deterministic fuzz loop (xorshift, fixed seed) instead of a property-testing crate:
/// random mixes of grammar fragments and arbitrary characters never make `parse`,
/// `validate`, `matches` or `attributes` panic.
#[test]
fn never_panics_on_generated_input() {
    const FRAGMENTS: [&str; 28] = [
        "(",
        ")",
        "[",
        "]",
        "\"",
        "\\",
        " ",
        "not",
        "and",
        "or",
        "pr",
        "eq",
        "co",
        "gt",
        "userName",
        "emails",
        ".value",
        "type",
        "active",
        "true",
        "null",
        "\"x\"",
        "1.5",
        ":",
        "urn:ietf:params:scim:schemas:core:2.0:User:",
        "meta.lastModified",
        "2011-05-13T04:42:34Z",
        "\u{e9}\u{1F600}\u{0}",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let resource = user();
    for _ in 0..20_000 {
        let mut s = String::new();
        for _ in 0..next() % 40 {
            let r = next();
            if r % 4 == 0 {
                s.extend(char::from_u32((r >> 8) as u32 % 0x11_0000));
            } else {
                s.push_str(FRAGMENTS[(r >> 8) as usize % FRAGMENTS.len()]);
            }
        }
        if let Ok(f) = parse(&s) {
            let _ = validate(&f, &USER);
            let _ = matches(&f, &resource, &USER);
            let _ = f.attributes();
        }
        let _ = parse_value_filter(&s);
    }
}
