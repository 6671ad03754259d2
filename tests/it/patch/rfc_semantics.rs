//! PATCH semantics of RFC 7644 §3.5.2 on users: simple attributes, the complex `name`,
//! multi-valued attributes, the enterprise extension, pathless add/replace, and operations
//! applied in order.

use super::*;

#[tokio::test]
async fn simple_attribute_patches() {
    check_cases(vec![
        Case {
            what: "add sets a simple attribute",
            start: Start::With(json!({})),
            ops: json!([{"op": "add", "path": "nickName", "value": "Babs"}]),
            want: vec![
                at("/nickName", json!("Babs")),
                at("/userName", json!("ada@example.org")),
                at("/name", json!({"givenName": "Given", "familyName": "Family"})),
            ],
        },
        Case {
            what: "add of an existing single-valued attribute replaces it",
            start: Start::With(json!({"title": "Analyst"})),
            ops: json!([{"op": "add", "path": "title", "value": "Lead"}]),
            want: vec![at("/title", json!("Lead"))],
        },
        Case {
            what: "remove of a simple attribute makes it absent",
            start: Start::With(json!({"title": "Analyst", "nickName": "A"})),
            ops: json!([{"op": "remove", "path": "title"}]),
            want: vec![absent("/title"), at("/nickName", json!("A"))],
        },
    ])
    .await;
}

#[tokio::test]
async fn replace_sets_a_simple_attribute_and_bumps_the_version() {
    let user = ServerWithUser::with("ada@example.org", json!({"displayName": "Ada"})).await;
    let before = user.read().await;
    let got = user
        .patch(json!([{"op": "replace", "path": "displayName", "value": "Ada Lovelace"}]))
        .await;
    assert_eq!(got["displayName"], "Ada Lovelace");
    assert_ne!(got["meta"]["version"], before["meta"]["version"]);
    assert_eq!(got["meta"]["created"], before["meta"]["created"]);
    assert_eq!(without(got, &["displayName", "meta"]), without(before, &["displayName", "meta"]));
}

#[tokio::test]
async fn replace_of_a_missing_attribute_adds_it() {
    let user = ServerWithUser::new("ada@example.org").await;
    assert!(user.read().await.get("title").is_none());
    let got = user.patch(json!([{"op": "replace", "path": "title", "value": "Lead"}])).await;
    assert_eq!(got["title"], "Lead");
}

#[tokio::test]
async fn null_or_empty_string_values_remove_the_attribute() {
    let user = ServerWithUser::with(
        "ada@example.org",
        json!({"title": "Analyst", "displayName": "Ada", "nickName": "A"}),
    )
    .await;
    let got = user
        .patch(json!([
            {"op": "replace", "path": "title", "value": null},
            {"op": "replace", "path": "displayName", "value": ""}
        ]))
        .await;
    assert!(got.get("title").is_none(), "{got}");
    assert!(got.get("displayName").is_none(), "{got}");
    assert_eq!(got["nickName"], "A");
    assert!(!got.to_string().contains("null"), "{got}");
}

// ---- RFC semantics: the complex `name` ---------------------------------------------------

#[tokio::test]
async fn name_patches() {
    check_cases(vec![
        Case {
            what: "replace of name with an object merges sub-attributes",
            start: Start::With(json!({})),
            ops: json!([{"op": "replace", "path": "name", "value": {"givenName": "Ada"}}]),
            want: vec![at("/name", json!({"givenName": "Ada", "familyName": "Family"}))],
        },
        Case {
            what: "add of name with an object merges sub-attributes",
            start: Start::With(json!({})),
            ops: json!([{"op": "add", "path": "name", "value": {"middleName": "King", "givenName": "Ada"}}]),
            want: vec![at(
                "/name",
                json!({"givenName": "Ada", "middleName": "King", "familyName": "Family"}),
            )],
        },
        Case {
            what: "a sub-attribute path sets one sub-attribute",
            start: Start::With(json!({})),
            ops: json!([
                {"op": "replace", "path": "name.givenName", "value": "Ada"},
                {"op": "add", "path": "name.honorificPrefix", "value": "Countess"}
            ]),
            want: vec![
                at(
                    "/name",
                    json!({"givenName": "Ada", "familyName": "Family", "honorificPrefix": "Countess"}),
                ),
                absent("/name.givenName"),
            ],
        },
        Case {
            what: "a sub-attribute path creates name when absent",
            start: Start::Bare,
            ops: json!([{"op": "add", "path": "name.familyName", "value": "Byron"}]),
            want: vec![at("/name", json!({"familyName": "Byron"}))],
        },
        Case {
            what: "remove of a sub-attribute keeps the others",
            start: Start::With(json!({})),
            ops: json!([{"op": "remove", "path": "name.givenName"}]),
            want: vec![at("/name", json!({"familyName": "Family"}))],
        },
        Case {
            what: "remove of name removes the whole complex attribute",
            start: Start::With(json!({})),
            ops: json!([{"op": "remove", "path": "name"}]),
            want: vec![absent("/name")],
        },
    ])
    .await;
}

// ---- RFC semantics: multi-valued attributes ---------------------------------------------

#[tokio::test]
async fn multi_valued_patches() {
    let list = json!([
        {"value": "a@new.example", "type": "work", "primary": true},
        {"value": "a@home.example", "type": "home"}
    ]);
    // `two_emails()` after the work address changed to ada@new.example.
    let work_renewed = json!([
        {"value": "ada@new.example", "type": "work", "primary": true},
        {"value": "ada@home.example", "type": "home"}
    ]);
    check_cases(vec![
        Case {
            what: "replace of emails replaces the whole list",
            start: Start::With(json!({})),
            ops: json!([{"op": "replace", "path": "emails", "value": list}]),
            want: vec![at("/emails", list.clone())],
        },
        Case {
            what: "remove of emails removes the whole attribute",
            start: Start::With(json!({"emails": [{"value": "ada@example.org", "type": "work"},
                                                 {"value": "ada@home.example", "type": "home"}]})),
            ops: json!([{"op": "remove", "path": "emails"}]),
            want: vec![absent("/emails")],
        },
        Case {
            what: "replace with a filter replaces only the matched element",
            start: Start::With(two_emails()),
            ops: json!([{"op": "replace", "path": "emails[type eq \"work\"]",
                         "value": {"value": "ada@new.example", "type": "work", "primary": true}}]),
            want: vec![at("/emails", work_renewed.clone())],
        },
        Case {
            what: "replace with a filter and sub-attribute sets it on the matched element only",
            start: Start::With(two_emails()),
            ops: json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ada@new.example"}]),
            want: vec![at("/emails", work_renewed.clone())],
        },
        Case {
            what: "remove with a filter and sub-attribute removes that sub-attribute only",
            start: Start::With(json!({"addresses": [
                {"type": "work", "streetAddress": "1 Way", "locality": "London"},
                {"type": "home", "streetAddress": "2 Road", "locality": "Oxford"}
            ]})),
            ops: json!([{"op": "remove", "path": "addresses[type eq \"work\"].locality"}]),
            want: vec![at(
                "/addresses",
                json!([
                    {"type": "work", "streetAddress": "1 Way"},
                    {"type": "home", "streetAddress": "2 Road", "locality": "Oxford"}
                ]),
            )],
        },
        Case {
            // §1.3 (scim-patch#42), literal.
            what: "a streetAddress on a user without addresses creates the address",
            start: Start::With(json!({})),
            ops: json!([{"op": "Add", "path": "addresses[type eq \"work\"].streetAddress",
                         "value": "1010 Broadway Ave"}]),
            want: vec![at(
                "/addresses",
                json!([{"type": "work", "streetAddress": "1010 Broadway Ave"}]),
            )],
        },
        Case {
            what: "several ops on one value path merge into one element",
            start: Start::With(json!({})),
            ops: json!([
                {"op": "add", "path": "addresses[type eq \"work\"].streetAddress", "value": "25928 Katlyn Row"},
                {"op": "add", "path": "addresses[type eq \"work\"].locality", "value": "Beaver"},
                {"op": "add", "path": "addresses[type eq \"work\"].postalCode", "value": "cx47 4mz"},
                {"op": "replace", "path": "addresses[type eq \"work\"].country", "value": "Sierra Leone"}
            ]),
            want: vec![at(
                "/addresses",
                json!([{"type": "work", "streetAddress": "25928 Katlyn Row", "locality": "Beaver",
                        "postalCode": "cx47 4mz", "country": "Sierra Leone"}]),
            )],
        },
        Case {
            what: "a lone object where a list is expected is taken as one element",
            start: Start::With(json!({})),
            ops: json!([{"op": "add", "path": "emails", "value": {"value": "ada@home.example", "type": "home"}}]),
            want: vec![at("/emails", two_emails()["emails"].clone())],
        },
        Case {
            // §3 quirk 3, §1.3 (pingidentity/scim2#281), literal.
            what: "add on an existing value-path element replaces the sub-attribute",
            start: Start::With(json!({"addresses": [
                {"type": "work", "streetAddress": "1 Way", "locality": "London"}
            ]})),
            ops: json!([{"op":"Add","path":"addresses[type eq \"work\"].locality","value":"Beaver"}]),
            want: vec![at(
                "/addresses",
                json!([{"type": "work", "streetAddress": "1 Way", "locality": "Beaver"}]),
            )],
        },
    ])
    .await;
}

#[tokio::test]
async fn add_to_emails_appends_without_duplicates() {
    let user = ServerWithUser::new("ada@example.org").await;
    let got = user
        .patch(json!([{"op": "add", "path": "emails", "value": [
            {"value": "ada@example.org", "type": "work", "primary": true},
            {"value": "ada@home.example", "type": "home"}
        ]}]))
        .await;
    assert_eq!(
        got["emails"],
        json!([
            {"value": "ada@example.org", "type": "work", "primary": true},
            {"value": "ada@home.example", "type": "home"}
        ])
    );
    // The same add again changes nothing.
    let again = user
        .patch(json!([{"op": "add", "path": "emails", "value": [{"value": "ada@home.example", "type": "home"}]}]))
        .await;
    assert_eq!(again["emails"], got["emails"]);
}

fn two_emails() -> Value {
    json!({"emails": [
        {"value": "ada@example.org", "type": "work", "primary": true},
        {"value": "ada@home.example", "type": "home"}
    ]})
}

#[tokio::test]
async fn remove_with_a_filter_removes_only_the_matched_element() {
    let user = ServerWithUser::with("ada@example.org", two_emails()).await;
    let got = user.patch(json!([{"op": "remove", "path": "emails[type eq \"home\"]"}])).await;
    assert_eq!(
        got["emails"],
        json!([{"value": "ada@example.org", "type": "work", "primary": true}])
    );
    let got =
        user.patch(json!([{"op": "remove", "path": "emails[value eq \"ada@example.org\"]"}])).await;
    assert!(got.get("emails").is_none_or(|e| e == &json!([])), "{got}");
}

#[tokio::test]
async fn a_value_path_matching_nothing_creates_the_element() {
    let user = ServerWithUser::bare("ada@example.org").await;
    // §3 quirk 7, literal.
    let got = user
        .patch(json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@b.c"}]))
        .await;
    assert_eq!(got["emails"], json!([{"type": "work", "value": "a@b.c"}]));
    // The same with replace, and next to an existing element of another type.
    let got = user
        .patch(json!([
            {"op": "replace", "path": "emails[type eq \"home\"].value", "value": "a@home.example"},
            {"op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"}
        ]))
        .await;
    assert_eq!(
        got["emails"],
        json!([{"type": "work", "value": "a@b.c"}, {"type": "home", "value": "a@home.example"}])
    );
    assert_eq!(got["phoneNumbers"], json!([{"type": "mobile", "value": "+1 555 0100"}]));
}

#[tokio::test]
async fn primary_stays_unique_when_a_primary_element_is_added() {
    let user = ServerWithUser::new("ada@example.org").await;
    let got = user
        .patch(json!([{"op": "add", "path": "emails",
                "value": [{"value": "ada@home.example", "type": "home", "primary": true}]}]))
        .await;
    let emails = &got["emails"];
    assert_eq!(emails.as_array().map(Vec::len), Some(2), "{got}");
    assert_eq!(primaries(emails), 1, "{got}");
    let home = emails.as_array().unwrap().iter().find(|e| e["type"] == "home").expect("home");
    assert_eq!(home["primary"], true, "{got}");
}

#[tokio::test]
async fn primary_stays_unique_when_set_through_a_value_path() {
    let user = ServerWithUser::with("ada@example.org", two_emails()).await;
    let got = user
        .patch(
            json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]),
        )
        .await;
    let emails = got["emails"].as_array().expect("emails");
    assert_eq!(emails.len(), 2, "{got}");
    assert_eq!(primaries(&got["emails"]), 1, "{got}");
    let home = emails.iter().find(|e| e["type"] == "home").expect("home");
    assert_eq!(home["primary"], true, "{got}");
}

#[tokio::test]
async fn a_fully_qualified_core_urn_path_is_the_core_attribute() {
    let user = ServerWithUser::new("ada@example.org").await;
    // RFC 7644 §3.10: attribute names may carry their schema URN.
    let got = user
        .patch(json!([
            {"op": "replace", "path": format!("{CORE_USER}:displayName"), "value": "Ada"},
            {"op": "replace", "path": format!("{CORE_USER}:name.givenName"), "value": "A"}
        ]))
        .await;
    assert_eq!(got["displayName"], "Ada");
    assert_eq!(got["name"]["givenName"], "A");
    let g = user.s.create_group("Staff", &[]).await;
    let got = patch_group(
        &user.s,
        &g,
        json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
                "value": "Crew"}]),
    )
    .await;
    assert_eq!(got["displayName"], "Crew");
}

#[tokio::test]
async fn an_and_filter_creates_the_element_from_all_its_eq_terms() {
    let user = ServerWithUser::new("ada@example.org").await;
    let got = user
        .patch(json!([
            {"op": "add", "path": "addresses[type eq \"work\" and country eq \"GB\"].locality",
             "value": "London"},
            {"op": "add", "path": "addresses[type eq \"work\" and country eq \"GB\"].postalCode",
             "value": "N1 9GU"}
        ]))
        .await;
    assert_eq!(
        got["addresses"],
        json!([{"type": "work", "country": "GB", "locality": "London", "postalCode": "N1 9GU"}])
    );
    // And an `and` filter selects for replace.
    let got = user
        .patch(
            json!([{"op": "replace", "path": "emails[type eq \"work\" and primary eq true].value",
                "value": "ada@new.example"}]),
        )
        .await;
    assert_eq!(
        got["emails"],
        json!([{"value": "ada@new.example", "type": "work", "primary": true}])
    );
}

// ---- RFC semantics: the enterprise extension --------------------------------------------

#[tokio::test]
async fn enterprise_extension_patches() {
    check_cases(vec![
        Case {
            what: "the short department path resolves to the extension",
            start: Start::With(json!({ENTERPRISE: {"department": "Engines"}})),
            ops: json!([{"op": "replace", "path": "department", "value": "Looms"}]),
            want: vec![at(&ent("department"), json!("Looms")), absent("/department")],
        },
        Case {
            what: "remove of an enterprise URN path keeps the other extension attributes",
            start: Start::With(json!({ENTERPRISE: {"department": "Engines", "costCenter": "4130"}})),
            ops: json!([{"op": "remove", "path": format!("{ENTERPRISE}:department")}]),
            want: vec![at(&ent(""), json!({"costCenter": "4130"}))],
        },
        Case {
            // §3 quirk 14: a manager that is not a scimd id has no $ref.
            what: "a manager that is not a scimd id has no $ref",
            start: Start::With(json!({})),
            ops: json!([{"op":"add","path": format!("{ENTERPRISE}:manager"),"value":{"value":"AXTKDLNRKMKT"}}]),
            want: vec![at(&ent("manager"), json!({"value": "AXTKDLNRKMKT"}))],
        },
    ])
    .await;
}

#[tokio::test]
async fn an_enterprise_urn_path_sets_the_extension_attribute() {
    let user = ServerWithUser::new("ada@example.org").await;
    let got = user
        .patch(
            json!([{"op": "add", "path": format!("{ENTERPRISE}:department"), "value": "Engines"}]),
        )
        .await;
    assert_eq!(got[ENTERPRISE]["department"], "Engines");
    assert!(got.get("department").is_none(), "{got}");
    let schemas = got["schemas"].as_array().expect("schemas");
    assert!(schemas.iter().any(|s| s == ENTERPRISE), "{got}");
    assert!(schemas.iter().any(|s| s == CORE_USER), "{got}");
}

// ---- RFC semantics: pathless add/replace ------------------------------------------------

#[tokio::test]
async fn pathless_patches() {
    check_cases(vec![
        Case {
            what: "pathless replace with plain keys",
            start: Start::With(json!({"title": "Analyst"})),
            ops: json!([{"op": "replace", "value": {"title": "Lead", "displayName": "Ada", "active": false}}]),
            want: vec![
                at("/title", json!("Lead")),
                at("/displayName", json!("Ada")),
                at("/active", json!(false)),
            ],
        },
        Case {
            // §1.3 (pond/scimitar#123 and others), literal. The dotted keys are never stored
            // as literal keys.
            what: "pathless add with dotted keys",
            start: Start::With(json!({})),
            ops: json!([{"op":"add","value":{"displayName":"Foo Bar","title":"Bar Foo","name.givenName":"Foo",
                         "name.familyName":"Bar","name.formatted":"Foo Bar"}}]),
            want: vec![
                at("/displayName", json!("Foo Bar")),
                at("/title", json!("Bar Foo")),
                at("/name", json!({"givenName": "Foo", "familyName": "Bar", "formatted": "Foo Bar"})),
                absent("/name.givenName"),
                absent("/name.familyName"),
                absent("/name.formatted"),
            ],
        },
        Case {
            what: "pathless add with the extension URN object merges",
            start: Start::With(json!({ENTERPRISE: {"department": "Engines"}})),
            ops: json!([{"op": "add", "value": {ENTERPRISE: {"costCenter": "4130", "division": "Theme Park"}}}]),
            want: vec![at(
                &ent(""),
                json!({"department": "Engines", "costCenter": "4130", "division": "Theme Park"}),
            )],
        },
        Case {
            what: "pathless replace with a name object merges",
            start: Start::With(json!({})),
            ops: json!([{"op": "replace", "value": {"name": {"givenName": "Ada"}}}]),
            want: vec![at("/name", json!({"givenName": "Ada", "familyName": "Family"}))],
        },
    ])
    .await;
}

#[tokio::test]
async fn pathless_replace_with_dotted_and_urn_keys_entra_flag_update() {
    let user = ServerWithUser::with("ada@example.org", json!({"displayName": "Ada"})).await;
    // §1.3 [FLAG] and §3 quirk 4, literal.
    let body: Value = serde_json::from_str(
        r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
 "Operations":[
  {"op":"replace","path":"emails[type eq \"work\"].value","value":"TestMhvaes@test.microsoft.com"},
  {"op":"replace","value":{
     "displayName":"Bjfe",
     "name.givenName":"Kkom",
     "name.familyName":"Unua",
     "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}]}"#,
    )
    .expect("literal payload");
    let got = user.patch_raw(&body).await;
    assert_eq!(got["displayName"], "Bjfe");
    assert_eq!(got["name"], json!({"givenName": "Kkom", "familyName": "Unua"}));
    assert_eq!(got[ENTERPRISE]["employeeNumber"], "Aklq");
    assert_eq!(
        got["emails"],
        json!([{"value": "TestMhvaes@test.microsoft.com", "type": "work", "primary": true}])
    );
    assert!(got.get(format!("{ENTERPRISE}:employeeNumber")).is_none(), "{got}");
    assert!(got.get("employeeNumber").is_none(), "{got}");
}

// ---- RFC semantics: operations apply in order -------------------------------------------

#[tokio::test]
async fn ops_apply_in_order() {
    check_cases(vec![
        Case {
            what: "ops on a multi-valued attribute apply in order",
            start: Start::With(json!({})),
            ops: json!([
                {"op": "remove", "path": "emails"},
                {"op": "add", "path": "emails", "value": [{"value": "a@one.example", "type": "work"}]},
                {"op": "replace", "path": "emails", "value": [{"value": "a@two.example", "type": "home"}]}
            ]),
            want: vec![at("/emails", json!([{"value": "a@two.example", "type": "home"}]))],
        },
        Case {
            // [VAL] P1.
            what: "multiple ops on different attributes",
            start: Start::With(json!({"preferredLanguage": "en"})),
            ops: json!([
                {"op": "remove", "path": "preferredLanguage"},
                {"op": "add", "path": "externalId", "value": "ext-1"},
                {"op": "replace", "path": "displayName", "value": "NDSQQTECVAAC"}
            ]),
            want: vec![
                absent("/preferredLanguage"),
                at("/externalId", json!("ext-1")),
                at("/displayName", json!("NDSQQTECVAAC")),
            ],
        },
    ])
    .await;
}

#[tokio::test]
async fn remove_then_add_then_replace_of_one_attribute_last_wins() {
    let user = ServerWithUser::with("ada@example.org", json!({"title": "Analyst"})).await;
    // [VAL] P2 "Multiple Ops on same attribute".
    let got = user
        .patch(json!([
            {"op": "remove", "path": "title"},
            {"op": "add", "path": "title", "value": "Added"},
            {"op": "replace", "path": "title", "value": "Replaced"}
        ]))
        .await;
    assert_eq!(got["title"], "Replaced");
    // And with remove last.
    let got = user
        .patch(json!([
            {"op": "replace", "path": "title", "value": "Again"},
            {"op": "remove", "path": "title"}
        ]))
        .await;
    assert!(got.get("title").is_none(), "{got}");
}
