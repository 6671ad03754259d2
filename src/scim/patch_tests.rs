//! PATCH engine tests: the RFC 7644 §3.5.2 semantics through the tolerance layer, and
//! property tests (a random patch agrees with a simple model; no input panics).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::super::ScimType;
use super::super::schema::{ENTERPRISE_USER, GROUP, USER};
use super::super::tolerance::patch_operations;
use super::*;

const ID: &str = "2819c223-7f76-453a-919d-413861904646";

fn run(rt: &ResourceType, current: Value, ops: Value) -> Result<Patched, ScimError> {
    let ops = patch_operations(
        rt,
        ID,
        json!({"schemas": [super::super::tolerance::PATCH_OP], "Operations": ops}),
    )?;
    apply(rt, &current, &ops.operations)
}

fn user(current: Value, ops: Value) -> Value {
    run(&USER, current, ops).unwrap_or_else(|e| panic!("{e}")).attributes
}

fn user_err(current: Value, ops: Value) -> ScimError {
    run(&USER, current, ops).unwrap_err()
}

#[test]
fn simple_attributes_add_replace_remove() {
    let u = json!({"userName": "u", "title": "A"});
    assert_eq!(
        user(u.clone(), json!([{"op": "replace", "path": "title", "value": "B"}]))["title"],
        "B"
    );
    assert_eq!(
        user(u.clone(), json!([{"op": "add", "path": "title", "value": "B"}]))["title"],
        "B"
    );
    assert_eq!(
        user(u.clone(), json!([{"op": "replace", "path": "nickName", "value": "N"}]))["nickName"],
        "N"
    );
    let out = user(u.clone(), json!([{"op": "remove", "path": "title"}]));
    assert_eq!(out, json!({"userName": "u"}));
    for empty in [json!(""), json!(null)] {
        let out = user(u.clone(), json!([{"op": "replace", "path": "title", "value": empty}]));
        assert!(out.get("title").is_none());
    }
}

#[test]
fn complex_attributes_merge_and_sub_attributes() {
    let u = json!({"userName": "u", "name": {"givenName": "A", "familyName": "B"}});
    let out =
        user(u.clone(), json!([{"op": "replace", "path": "name", "value": {"givenName": "C"}}]));
    assert_eq!(out["name"], json!({"givenName": "C", "familyName": "B"}));
    let out = user(u.clone(), json!([{"op": "Replace", "path": "Name.GivenName", "value": "D"}]));
    assert_eq!(out["name"], json!({"givenName": "D", "familyName": "B"}));
    let out = user(u.clone(), json!([{"op": "remove", "path": "name.givenName"}]));
    assert_eq!(out["name"], json!({"familyName": "B"}));
    let out = user(u, json!([{"op": "replace", "path": "name", "value": {"familyName": ""}}]));
    assert_eq!(out["name"], json!({"givenName": "A"}));
}

#[test]
fn multi_valued_add_merges_replace_replaces_remove_removes() {
    let u = json!({"userName": "u", "emails": [{"value": "a@x", "type": "work", "primary": true}]});
    let out = user(
        u.clone(),
        json!([{"op": "add", "path": "emails", "value": [
            {"value": "a@x", "type": "work", "primary": true},
            {"value": "b@x", "type": "home"}
        ]}]),
    );
    assert_eq!(out["emails"].as_array().unwrap().len(), 2);
    let out =
        user(u.clone(), json!([{"op": "replace", "path": "emails", "value": [{"value": "c@x"}]}]));
    assert_eq!(out["emails"], json!([{"value": "c@x"}]));
    let out = user(u, json!([{"op": "remove", "path": "emails"}]));
    assert!(out.get("emails").is_none());
}

#[test]
fn value_paths_select_create_and_merge() {
    let u = json!({"userName": "u", "emails": [
        {"value": "a@x", "type": "work"}, {"value": "b@x", "type": "home"}
    ]});
    let out = user(
        u.clone(),
        json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w@x"}]),
    );
    assert_eq!(
        out["emails"],
        json!([{"value": "w@x", "type": "work"}, {"value": "b@x", "type": "home"}])
    );
    let out = user(u.clone(), json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]));
    assert_eq!(out["emails"], json!([{"value": "a@x", "type": "work"}]));
    let out = user(u, json!([{"op": "remove", "path": "emails[type eq \"other\"]"}]));
    assert_eq!(out["emails"].as_array().unwrap().len(), 2);

    // Entra's add-or-create, with several ops on one filter building one element.
    let out = user(
        json!({"userName": "u"}),
        json!([
            {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Way"},
            {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Beaver"},
            {"op": "add", "path": "roles[primary eq \"True\"].value", "value": "member"},
            {"op": "add", "path": "roles[primary eq \"True\"].display", "value": "Member"},
            {"op": "replace", "path": "emails[type eq \"other\"].Value", "value": "o@x"}
        ]),
    );
    assert_eq!(
        out["addresses"],
        json!([{"type": "work", "streetAddress": "1 Way", "locality": "Beaver"}])
    );
    assert_eq!(out["roles"], json!([{"primary": true, "value": "member", "display": "Member"}]));
    assert_eq!(out["emails"], json!([{"type": "other", "value": "o@x"}]));

    let e = user_err(
        json!({"userName": "u"}),
        json!([{"op": "add", "path": "emails[type eq \"a\" or type eq \"b\"].value", "value": "x"}]),
    );
    assert_eq!(e.scim_type, ScimType::NoTarget);
}

#[test]
fn primary_stays_unique() {
    let u = json!({"userName": "u", "emails": [
        {"value": "a@x", "type": "work", "primary": true}, {"value": "b@x", "type": "home"}
    ]});
    let out = user(
        u.clone(),
        json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "True"}]),
    );
    assert_eq!(
        out["emails"],
        json!([{"value": "a@x", "type": "work"}, {"value": "b@x", "type": "home", "primary": true}])
    );
    let out = user(
        u,
        json!([{"op": "add", "path": "emails", "value": [{"value": "c@x", "primary": true}]}]),
    );
    let primaries: Vec<&Value> =
        out["emails"].as_array().unwrap().iter().filter(|e| e["primary"] == true).collect();
    assert_eq!(primaries, vec![&json!({"value": "c@x", "primary": true})]);
}

#[test]
fn pathless_values_with_plain_dotted_and_urn_keys() {
    let out = user(
        json!({"userName": "u", "name": {"familyName": "F"}}),
        json!([{"op": "replace", "value": {
            "displayName": "Bjfe",
            "name.givenName": "Kkom",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq",
            ENTERPRISE_USER: {"department": "D"},
            "active": "False",
            "id": ID,
            "meta": {"resourceType": "User"},
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "groups": [],
            "password": "secret"
        }}]),
    );
    assert_eq!(
        out,
        json!({
            "userName": "u", "name": {"familyName": "F", "givenName": "Kkom"},
            "displayName": "Bjfe", "active": false,
            ENTERPRISE_USER: {"employeeNumber": "Aklq", "department": "D"}
        })
    );
}

#[test]
fn manager_forms_and_the_four_clears() {
    let set = [
        json!({"op": "add", "path": "manager", "value": [{"$ref": "http://x/Users/m1", "value": "m1"}]}),
        json!({"op": "add", "path": format!("{ENTERPRISE_USER}:manager"), "value": "m1"}),
        json!({"op": "replace", "path": format!("{ENTERPRISE_USER}:manager"), "value": {"value": "m1"}}),
    ];
    for op in set {
        let out = user(json!({"userName": "u"}), json!([op]));
        assert_eq!(out[ENTERPRISE_USER]["manager"], json!({"value": "m1"}), "{op}");
    }
    let with_manager = json!({"userName": "u", ENTERPRISE_USER: {"manager": {"value": "m1"}}});
    let clears = [
        json!({"op": "remove", "path": format!("{ENTERPRISE_USER}:manager")}),
        json!({"op": "replace", "path": format!("{ENTERPRISE_USER}:manager"), "value": ""}),
        json!({"op": "replace", "path": format!("{ENTERPRISE_USER}:manager"), "value": {"value": ""}}),
        json!({"op": "remove", "path": "manager[value eq \"m1\"]"}),
    ];
    for op in clears {
        let out = user(with_manager.clone(), json!([op]));
        assert_eq!(out, json!({"userName": "u"}), "{op}");
    }
    // A filter naming another manager leaves it.
    let out =
        user(with_manager.clone(), json!([{"op": "remove", "path": "manager[value eq \"m2\"]"}]));
    assert_eq!(out, with_manager);
}

#[test]
fn operations_apply_in_order() {
    let out = user(
        json!({"userName": "u", "title": "A"}),
        json!([
            {"op": "remove", "path": "title"},
            {"op": "add", "path": "title", "value": "B"},
            {"op": "replace", "path": "title", "value": "C"}
        ]),
    );
    assert_eq!(out["title"], "C");
}

#[test]
fn errors_have_the_right_scim_type() {
    let u = json!({"userName": "u"});
    let cases = [
        (json!([{"op": "move", "path": "title", "value": "x"}]), ScimType::InvalidSyntax),
        (json!([{"op": "remove"}]), ScimType::NoTarget),
        (json!([{"op": "replace", "value": "x"}]), ScimType::InvalidSyntax),
        (json!([{"op": "replace", "path": "title"}]), ScimType::InvalidSyntax),
        (json!([{"op": "add", "path": "nickName"}]), ScimType::InvalidSyntax),
        (json!([{"op": "replace", "path": "fooBar", "value": "x"}]), ScimType::InvalidPath),
        (
            json!([{"op": "replace", "path": "emails[type eq]", "value": "x"}]),
            ScimType::InvalidPath,
        ),
        (json!([{"op": "replace", "path": "active", "value": "maybe"}]), ScimType::InvalidValue),
        (json!([{"op": "remove", "path": "userName"}]), ScimType::InvalidValue),
        (json!([{"op": "replace", "path": "userName", "value": ""}]), ScimType::InvalidValue),
        (json!([{"op": "replace", "path": "id", "value": "other"}]), ScimType::Mutability),
        (json!([{"op": "replace", "value": {"id": "other"}}]), ScimType::Mutability),
        (
            json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]),
            ScimType::Mutability,
        ),
        (json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]), ScimType::Mutability),
        (
            json!([{"op": "replace", "path": "manager.displayName", "value": "Boss"}]),
            ScimType::Mutability,
        ),
    ];
    for (ops, scim_type) in cases {
        let e = run(&USER, u.clone(), ops.clone()).unwrap_err();
        assert_eq!(e.scim_type, scim_type, "{ops}: {e}");
    }
    for body in [json!({}), json!({"Operations": []}), json!({"Operations": {}}), json!([])] {
        assert_eq!(
            patch_operations(&USER, ID, body).unwrap_err().scim_type,
            ScimType::InvalidSyntax
        );
    }
    // The echoed id in another spelling is the same id.
    let upper = ID.to_uppercase();
    assert!(run(&USER, u, json!([{"op": "replace", "path": "id", "value": upper}])).is_ok());
}

fn group(ops: Value) -> Vec<MemberChange> {
    run(&GROUP, json!({"displayName": "g"}), ops).unwrap_or_else(|e| panic!("{e}")).members
}

#[test]
fn member_operations_become_row_changes() {
    use MemberChange::*;
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        group(
            json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "a"}, {"value": "b", "display": "B"}, "c"]}])
        ),
        vec![Add(ids(&["a", "b", "c"]))]
    );
    assert_eq!(
        group(
            json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "a"}]}])
        ),
        vec![Remove(ids(&["a"]))]
    );
    assert_eq!(
        group(json!([{"op": "remove", "path": "members[value eq \"a\"]"}])),
        vec![Remove(ids(&["a"]))]
    );
    assert_eq!(group(json!([{"op": "remove", "path": "members"}])), vec![RemoveAll]);
    assert_eq!(
        group(json!([{"op": "replace", "path": "members", "value": [{"value": "a"}]}])),
        vec![RemoveAll, Add(ids(&["a"]))]
    );
    assert!(matches!(
        group(json!([{"op": "remove", "path": "members[type eq \"Group\"]"}])).as_slice(),
        [RemoveMatching(_)]
    ));
    assert_eq!(
        group(json!([
            {"op": "add", "path": "members", "value": [{"value": "u1"}]},
            {"op": "remove", "path": "members[value eq \"u1\"]"}
        ])),
        vec![Add(ids(&["u1"])), Remove(ids(&["u1"]))]
    );
    // Okta's rename carries the group's id; the members are untouched.
    let p = run(
        &GROUP,
        json!({"displayName": "g"}),
        json!([{"op": "replace", "value": {"id": ID, "displayName": "h"}}]),
    )
    .unwrap();
    assert_eq!(
        (p.attributes, p.members, p.changed),
        (json!({"displayName": "h"}), vec![], vec!["displayName"])
    );
    let e = run(
        &GROUP,
        json!({"displayName": "g"}),
        json!([{"op": "replace", "path": "members.display", "value": "x"}]),
    );
    assert!(e.is_err());
}

#[test]
fn changed_lists_top_level_attributes() {
    let p = run(
        &USER,
        json!({"userName": "u", "active": true}),
        json!([{"op": "replace", "value": {"active": false, "department": "D", "userName": "u"}}]),
    )
    .unwrap();
    assert_eq!(p.changed, vec!["active", "department"]);
}

// ---- property tests -------------------------------------------------------------------

const SIMPLE: [&str; 4] = ["title", "nickName", "displayName", "locale"];
const TYPES: [&str; 3] = ["work", "home", "other"];
const VALUES: [&str; 4] = ["a", "B", "", "True"];

/// One random operation the model understands.
#[derive(Debug, Clone)]
enum ModelOp {
    Set { attr: usize, value: usize, add: bool },
    Remove { attr: usize },
    SetEmail { ty: usize, value: usize, add: bool },
    RemoveEmail { ty: usize },
}

fn model_op() -> impl Strategy<Value = ModelOp> {
    prop_oneof![
        (0..SIMPLE.len(), 0..VALUES.len(), any::<bool>())
            .prop_map(|(attr, value, add)| ModelOp::Set { attr, value, add }),
        (0..SIMPLE.len()).prop_map(|attr| ModelOp::Remove { attr }),
        (0..TYPES.len(), 0..VALUES.len(), any::<bool>())
            .prop_map(|(ty, value, add)| ModelOp::SetEmail { ty, value, add }),
        (0..TYPES.len()).prop_map(|ty| ModelOp::RemoveEmail { ty }),
    ]
}

fn op_json(op: &ModelOp) -> Value {
    let kind = |add: bool| if add { "add" } else { "replace" };
    match op {
        ModelOp::Set { attr, value, add } => {
            json!({"op": kind(*add), "path": SIMPLE[*attr], "value": VALUES[*value]})
        }
        ModelOp::Remove { attr } => json!({"op": "remove", "path": SIMPLE[*attr]}),
        ModelOp::SetEmail { ty, value, add } => json!({
            "op": kind(*add),
            "path": format!("emails[type eq \"{}\"].value", TYPES[*ty]),
            "value": VALUES[*value]
        }),
        ModelOp::RemoveEmail { ty } => {
            json!({"op": "remove", "path": format!("emails[type eq \"{}\"]", TYPES[*ty])})
        }
    }
}

/// The model: simple attributes by name, and one email value per type ("" removes).
#[derive(Debug, Default, PartialEq)]
struct Model {
    simple: BTreeMap<&'static str, String>,
    emails: BTreeMap<&'static str, Option<String>>,
}

impl Model {
    fn apply(&mut self, op: &ModelOp) {
        match op {
            ModelOp::Set { attr, value, .. } => match VALUES[*value] {
                "" => {
                    self.simple.remove(SIMPLE[*attr]);
                }
                v => {
                    self.simple.insert(SIMPLE[*attr], v.to_string());
                }
            },
            ModelOp::Remove { attr } => {
                self.simple.remove(SIMPLE[*attr]);
            }
            ModelOp::SetEmail { ty, value, .. } => {
                match (VALUES[*value], self.emails.get(TYPES[*ty])) {
                    // Setting nothing on an element that does not exist creates nothing.
                    ("", None) => {}
                    ("", Some(_)) => {
                        self.emails.insert(TYPES[*ty], None);
                    }
                    (v, _) => {
                        self.emails.insert(TYPES[*ty], Some(v.to_string()));
                    }
                }
            }
            ModelOp::RemoveEmail { ty } => {
                self.emails.remove(TYPES[*ty]);
            }
        }
    }

    fn from_resource(v: &Value) -> Model {
        let mut m = Model::default();
        for attr in SIMPLE {
            if let Some(s) = v.get(attr).and_then(Value::as_str) {
                m.simple.insert(attr, s.to_string());
            }
        }
        for e in v.get("emails").and_then(Value::as_array).into_iter().flatten() {
            let ty =
                TYPES.iter().find(|t| e.get("type").and_then(Value::as_str) == Some(t)).unwrap();
            let value = e.get("value").and_then(Value::as_str).map(str::to_string);
            assert!(m.emails.insert(ty, value).is_none(), "two emails of type {ty}: {v}");
        }
        m
    }
}

proptest! {
    #[test]
    fn a_patch_agrees_with_the_model(ops in proptest::collection::vec(model_op(), 1..12)) {
        let mut model = Model::default();
        for op in &ops {
            model.apply(op);
        }
        let body: Vec<Value> = ops.iter().map(op_json).collect();
        let out = user(json!({"userName": "u"}), Value::Array(body));
        prop_assert_eq!(Model::from_resource(&out), model);
        prop_assert_eq!(&out["userName"], "u");
    }

    #[test]
    fn a_run_of_list_adds_is_the_same_as_one_add_at_a_time(
        ops in proptest::collection::vec(list_add(), 1..10),
        start in proptest::collection::vec(email_element(), 0..4),
    ) {
        // The engine indexes a run of adds to one list; each add alone takes the plain path
        // of a one-operation run. Both must agree, element order and `primary` included.
        let current = json!({"userName": "u", "emails": start, "addresses": [{"locality": "x"}]});
        let at_once = run(&USER, current.clone(), Value::Array(ops.clone())).map(|p| p.attributes);
        let mut one_by_one = Ok(current);
        for op in &ops {
            one_by_one = one_by_one.and_then(|c| run(&USER, c, json!([op])).map(|p| p.attributes));
        }
        match (at_once, one_by_one) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(a), Err(b)) => prop_assert_eq!(a.detail, b.detail),
            (a, b) => prop_assert!(false, "{a:?} vs {b:?}"),
        }
    }

    #[test]
    fn no_input_panics(body in arbitrary_json(4)) {
        let current = json!({"userName": "u", "emails": [{"value": "a@x", "type": "work"}], "name": {"givenName": "g"}});
        let _ = patch_operations(&USER, ID, body.clone()).and_then(|ops| apply(&USER, &current, &ops.operations));
        let _ = patch_operations(&GROUP, ID, body).and_then(|ops| apply(&GROUP, &json!({"displayName": "g"}), &ops.operations));
    }

    #[test]
    fn no_operation_list_panics(ops in proptest::collection::vec(arbitrary_op(), 0..6)) {
        let current = json!({"userName": "u", "emails": [{"value": "a@x", "type": "work", "primary": true}], ENTERPRISE_USER: {"manager": {"value": "m"}}});
        let body = json!({"Operations": ops});
        let patched = patch_operations(&USER, ID, body).and_then(|ops| apply(&USER, &current, &ops.operations));
        if let Ok(p) = patched {
            // Whatever was accepted is a valid stored user.
            prop_assert!(crate::scim::resource::canonicalize(&USER, p.attributes).is_ok());
        }
    }
}

fn arbitrary_json(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            "",
            "add",
            "Replace",
            "REMOVE",
            "members",
            "emails",
            "True",
            "urn:x",
            "name.givenName",
            "emails[type eq \"work\"].value",
            "Operations",
            "op",
            "path",
            "value"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(depth, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop::sample::select(vec![
                    "Operations",
                    "op",
                    "path",
                    "value",
                    "schemas",
                    "userName",
                    "emails",
                    "name.givenName",
                    "members",
                    "id"
                ])
                .prop_map(String::from),
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arbitrary_op() -> impl Strategy<Value = Value> {
    let paths = vec![
        "userName",
        "title",
        "active",
        "name",
        "name.givenName",
        "emails",
        "emails.value",
        "emails[type eq \"work\"]",
        "emails[type eq \"work\"].value",
        "emails[primary eq true].type",
        "emails[value co \"a\"]",
        "roles[primary eq \"True\"].value",
        "manager",
        "manager.value",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "manager[value eq \"m\"]",
        "addresses[type eq \"work\"].locality",
        "x509Certificates",
        "id",
        "meta",
        "groups",
        "password",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "emails[",
        "bad path",
    ];
    (
        prop::sample::select(vec!["add", "Replace", "remove", "nope"]),
        proptest::option::of(prop::sample::select(paths)),
        proptest::option::of(arbitrary_json(2)),
    )
        .prop_map(|(op, path, value)| {
            let mut o = serde_json::Map::new();
            o.insert("op".into(), Value::from(op));
            if let Some(p) = path {
                o.insert("path".into(), Value::from(p));
            }
            if let Some(v) = value {
                o.insert("value".into(), v);
            }
            Value::Object(o)
        })
}

/// An email element from a small domain, so that adds hit existing elements often.
fn email_element() -> impl Strategy<Value = Value> {
    (0..3usize, proptest::option::of(0..3usize), proptest::option::of(any::<bool>()), any::<bool>())
        .prop_map(|(v, ty, primary, display)| {
            let mut e = serde_json::Map::new();
            e.insert("value".into(), json!(format!("v{v}@x")));
            if let Some(t) = ty {
                e.insert("type".into(), json!(TYPES[t]));
            }
            if let Some(p) = primary {
                e.insert("primary".into(), json!(p));
            }
            if display {
                e.insert("display".into(), json!("d"));
            }
            Value::Object(e)
        })
}

/// An `add` to `emails` (one or more elements, sometimes a lone object) or to `addresses`
/// (elements without `value`, matched by content).
fn list_add() -> impl Strategy<Value = Value> {
    prop_oneof![
        proptest::collection::vec(email_element(), 0..3)
            .prop_map(|v| json!({"op": "add", "path": "emails", "value": v})),
        email_element().prop_map(|v| json!({"op": "Add", "path": "emails", "value": v})),
        (0..2usize, any::<bool>()).prop_map(|(l, p)| {
            let locality = ["x", "y"][l];
            json!({"op": "add", "path": "addresses",
                   "value": [{"locality": locality, "primary": p}]})
        }),
    ]
}
