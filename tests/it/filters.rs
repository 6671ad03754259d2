//! The filter language over HTTP: every operator, logic and precedence, value paths,
//! URN-qualified and case-varied attribute names, the case rules of each attribute, the URL
//! encodings IdPs use, group filters, the `.search` endpoints, and invalid filters (always a
//! 400 `invalidFilter`, never a 500).

use serde_json::{Value, json};

use crate::common::{
    ENTERPRISE, Reply, TestServer, entra_encode, id_of, ids, resources, user_names,
};
const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

const ALICE: &str = "alice@example.org";
const BOB: &str = "bob@example.com";
const CAROL: &str = "carol@example.org";
const DAVE: &str = "Dave.Jones@Example.NET";

/// The ids of the four seeded users.
struct Seeded {
    alice: String,
    bob: String,
    carol: String,
    dave: String,
}

/// Four users with overlapping attributes:
///
/// | user  | externalId | given/family    | title    | active | emails                           | department  |
/// |-------|------------|-----------------|----------|--------|----------------------------------|-------------|
/// | alice | Ext-Alice  | Alice Smith     | Engineer | true   | work alice@example.org, home @home.net | Sales |
/// | bob   | ext-bob    | Bob Jones       | Manager  | false  | work bob@example.com, home bob@x.io | Engineering (manager: alice) |
/// | carol | —          | Carol Smithers  | —        | true   | work carol@x.io                  | Sales       |
/// | dave  | EXT-DAVE   | Dave Jones      | engineer | true   | home dave@example.org            | —           |
async fn seed(s: &TestServer) -> Seeded {
    let create = |body: Value| async move { id_of(&s.post("/Users", &body).await.expect(201)) };
    let alice = create(json!({
        "userName": ALICE, "externalId": "Ext-Alice", "displayName": "Alice Smith",
        "name": {"givenName": "Alice", "familyName": "Smith"}, "title": "Engineer", "active": true,
        "emails": [{"type": "work", "value": "alice@example.org", "primary": true},
                   {"type": "home", "value": "alice@home.net"}],
        ENTERPRISE: {"department": "Sales", "employeeNumber": "1001"}
    }))
    .await;
    let bob = create(json!({
        "userName": BOB, "externalId": "ext-bob", "displayName": "Bob Jones",
        "name": {"givenName": "Bob", "familyName": "Jones"}, "title": "Manager", "active": false,
        "emails": [{"type": "work", "value": "bob@example.com"}, {"type": "home", "value": "bob@x.io"}],
        ENTERPRISE: {"department": "Engineering", "manager": {"value": alice}}
    }))
    .await;
    let carol = create(json!({
        "userName": CAROL, "displayName": "Carol Smithers",
        "name": {"givenName": "Carol", "familyName": "Smithers"}, "active": true,
        "emails": [{"type": "work", "value": "carol@x.io"}],
        ENTERPRISE: {"department": "Sales"}
    }))
    .await;
    let dave = create(json!({
        "userName": DAVE, "externalId": "EXT-DAVE",
        "name": {"givenName": "Dave", "familyName": "Jones"}, "title": "engineer", "active": true,
        "emails": [{"type": "home", "value": "dave@example.org"}]
    }))
    .await;
    Seeded { alice, bob, carol, dave }
}

/// The sorted userNames a `GET /Users?filter=` (Entra-encoded) finds.
async fn find(s: &TestServer, filter: &str) -> Vec<String> {
    let r = s.get(&format!("/Users?filter={}", entra_encode(filter))).await;
    assert_eq!(r.status.as_u16(), 200, "filter {filter:?}: {}", r.text);
    assert_eq!(
        r.body["totalResults"].as_u64(),
        Some(resources(&r).len() as u64),
        "filter {filter:?}: {}",
        r.text
    );
    user_names(&r)
}

/// Asserts each (filter, expected userNames) pair.
async fn check(s: &TestServer, cases: &[(&str, &[&str])]) {
    for (filter, expected) in cases {
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(find(s, filter).await, want, "filter: {filter}");
    }
}

/// Asserts a `GET /Users?filter=` with the filter percent-encoded is a 400 invalidFilter.
async fn invalid(s: &TestServer, filter: &str) -> Reply {
    let r = s.get(&format!("/Users?filter={}", entra_encode(filter))).await;
    let shown: String = filter.chars().take(80).collect();
    assert_eq!(r.status.as_u16(), 400, "filter {shown:?} should be refused: {}", r.text);
    let r = r.expect(400);
    assert_eq!(r.scim_type(), "invalidFilter", "filter {shown:?}: {}", r.text);
    r
}

#[tokio::test]
async fn string_operators() {
    let s = TestServer::start().await;
    seed(&s).await;
    check(
        &s,
        &[
            ("userName eq \"alice@example.org\"", &[ALICE]),
            ("title eq \"engineer\"", &[ALICE, DAVE]),
            ("title ne \"Engineer\"", &[BOB, CAROL]),
            ("userName co \"example.org\"", &[ALICE, CAROL]),
            ("userName co \"@EXAMPLE.\"", &[ALICE, BOB, CAROL, DAVE]),
            ("userName sw \"b\"", &[BOB]),
            ("name.familyName sw \"Smith\"", &[ALICE, CAROL]),
            ("userName ew \".org\"", &[ALICE, CAROL]),
            ("userName ew \".NET\"", &[DAVE]),
            ("name.familyName gt \"Jones\"", &[ALICE, CAROL]),
            ("name.familyName ge \"Jones\"", &[ALICE, BOB, CAROL, DAVE]),
            ("name.familyName lt \"Smith\"", &[BOB, DAVE]),
            ("name.familyName le \"Smith\"", &[ALICE, BOB, DAVE]),
            ("title pr", &[ALICE, BOB, DAVE]),
            ("externalId pr", &[ALICE, BOB, DAVE]),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr",
                &[ALICE, BOB, CAROL],
            ),
            ("nickName pr", &[]),
        ],
    )
    .await;
}

#[tokio::test]
async fn boolean_operators() {
    let s = TestServer::start().await;
    seed(&s).await;
    check(
        &s,
        &[
            ("active eq true", &[ALICE, CAROL, DAVE]),
            ("active eq false", &[BOB]),
            ("active ne true", &[BOB]),
            ("active ne false", &[ALICE, CAROL, DAVE]),
            ("active pr", &[ALICE, BOB, CAROL, DAVE]),
            // Entra writes booleans as strings inside filters (`roles[primary eq "True"]`).
            ("active eq \"True\"", &[ALICE, CAROL, DAVE]),
            ("active eq \"false\"", &[BOB]),
            ("emails[primary eq \"True\"].value eq \"alice@example.org\"", &[ALICE]),
        ],
    )
    .await;
    for op in ["gt", "ge", "lt", "le", "co", "sw", "ew"] {
        invalid(&s, &format!("active {op} true")).await;
    }
    invalid(&s, "active eq \"yes\"").await;
    invalid(&s, "active eq 1").await;
}

#[tokio::test]
async fn date_time_operators_compare_instants() {
    let s = TestServer::start().await;
    let u = seed(&s).await;
    let all = [ALICE, BOB, CAROL, DAVE];
    check(
        &s,
        &[
            ("meta.lastModified gt \"2000-01-01T00:00:00Z\"", &all),
            ("meta.lastModified ge \"2000-01-01T00:00:00.000+05:00\"", &all),
            ("meta.lastModified lt \"2000-01-01T00:00:00Z\"", &[]),
            ("meta.created le \"1999-12-31T23:59:59Z\"", &[]),
            ("meta.created gt \"9999-01-01T00:00:00Z\"", &[]),
            ("meta.created lt \"9999-01-01T00:00:00Z\"", &all),
            // Microsoft's reference collection: capitalised, unquoted, with an offset.
            ("meta.Created gt 2015-10-10T14:38:21.8617979-07:00", &all),
        ],
    )
    .await;
    // A user's own lastModified matches itself with eq, ge and le.
    let alice = s.get(&format!("/Users/{}", u.alice)).await.expect(200);
    let stamp = alice.body["meta"]["lastModified"].as_str().expect("lastModified").to_string();
    for op in ["eq", "ge", "le"] {
        let found = find(&s, &format!("meta.lastModified {op} \"{stamp}\"")).await;
        assert!(found.contains(&ALICE.to_string()), "{op} {stamp}: {found:?}");
    }
    invalid(&s, "meta.lastModified co \"2020\"").await;
    invalid(&s, "meta.lastModified gt \"yesterday\"").await;
}

#[tokio::test]
async fn and_or_not_with_precedence_and_parentheses() {
    let s = TestServer::start().await;
    seed(&s).await;
    check(
        &s,
        &[
            ("userName sw \"a\" and active eq true", &[ALICE]),
            ("userName sw \"a\" or userName sw \"c\"", &[ALICE, CAROL]),
        ],
    )
    .await;
    check(
        &s,
        &[
            // `and` binds tighter: b or (c and active) = bob, carol, not (b or c) and active.
            ("userName sw \"b\" or userName sw \"c\" and active eq true", &[BOB, CAROL]),
            ("(userName sw \"b\" or userName sw \"c\") and active eq true", &[CAROL]),
            ("userName sw \"c\" and active eq true or userName sw \"b\"", &[BOB, CAROL]),
            ("userName sw \"c\" and (active eq true or userName sw \"b\")", &[CAROL]),
            ("not (title pr)", &[CAROL]),
            ("not (userName sw \"a\") and active eq true", &[CAROL, DAVE]),
            ("not (userName sw \"a\" or active eq false)", &[CAROL, DAVE]),
            // Without parentheses `not` applies to the next comparison only (a tolerance).
            ("not title pr or userName sw \"b\"", &[BOB, CAROL]),
            ("((userName sw \"a\"))", &[ALICE]),
            ("userName sw \"a\" OR userName sw \"d\" AND title pr", &[ALICE, DAVE]),
            // Microsoft's reference collection, unquoted values and capitalised sub-attributes.
            (
                "name.FamilyName eq Jones and (emails.Value co example.com or emails.Value co example.org)",
                &[BOB, DAVE],
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn value_paths_and_sub_attributes() {
    let s = TestServer::start().await;
    seed(&s).await;
    check(
        &s,
        &[
            ("emails[type eq \"work\" and value co \"@example.org\"]", &[ALICE]),
            ("emails[type eq \"home\"]", &[ALICE, BOB, DAVE]),
            // Both conditions must hold on the same element: dave's only email is a home one.
            ("emails[type eq \"work\" and value ew \"example.org\"]", &[ALICE]),
            ("emails[type eq \"home\" and value ew \"example.org\"]", &[DAVE]),
            ("emails[not (type eq \"work\")] and active eq true", &[ALICE, DAVE]),
            ("emails.value co \"x.io\"", &[BOB, CAROL]),
            ("emails.value eq \"dave@example.org\"", &[DAVE]),
            ("emails.type eq \"work\"", &[ALICE, BOB, CAROL]),
            ("emails.primary eq true", &[ALICE]),
            ("emails pr", &[ALICE, BOB, CAROL, DAVE]),
            // A complex attribute compared without a sub-attribute compares its `value`.
            ("emails co \"x.io\"", &[BOB, CAROL]),
            ("name.givenName eq \"carol\"", &[CAROL]),
        ],
    )
    .await;
}

#[tokio::test]
async fn entra_value_path_filter_form() {
    let s = TestServer::start().await;
    seed(&s).await;
    check(
        &s,
        &[
            ("emails[type eq \"work\"].value eq \"alice@example.org\"", &[ALICE]),
            ("emails[type eq \"work\"].value eq \"carol@x.io\"", &[CAROL]),
            // dave has that address only as a home email.
            ("emails[type eq \"work\"].value eq \"dave@example.org\"", &[]),
            ("emails[type eq \"home\"].value eq \"dave@example.org\"", &[DAVE]),
            // Capitalised sub-attributes, as in Entra's mapping table.
            ("emails[Type eq \"work\"].Value eq \"bob@example.com\"", &[BOB]),
        ],
    )
    .await;
}

#[tokio::test]
async fn urn_qualified_attribute_names() {
    let s = TestServer::start().await;
    seed(&s).await;
    check(
        &s,
        &[
            ("urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"A\"", &[ALICE]),
            ("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq \"Jones\"", &[BOB, DAVE]),
            ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"Sales\"", &[ALICE, CAROL]),
            ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"sales\"", &[ALICE, CAROL]),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"1001\"",
                &[ALICE],
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"Engineering\" and active eq false",
                &[BOB],
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn case_rules_follow_the_schema() {
    let s = TestServer::start().await;
    let u = seed(&s).await;
    check(
        &s,
        &[
            // userName: caseExact false.
            ("userName eq \"ALICE@EXAMPLE.ORG\"", &[ALICE]),
            ("userName eq \"dave.jones@example.net\"", &[DAVE]),
            ("userName sw \"DAVE.\"", &[DAVE]),
            // externalId: caseExact true.
            ("externalId eq \"Ext-Alice\"", &[ALICE]),
            ("externalId eq \"ext-alice\"", &[]),
            ("externalId eq \"EXT-ALICE\"", &[]),
            ("externalId eq \"EXT-DAVE\"", &[DAVE]),
            ("externalId sw \"ext\"", &[BOB]),
        ],
    )
    .await;
    // id: caseExact true.
    let upper = u.carol.to_uppercase();
    assert_ne!(upper, u.carol);
    check(
        &s,
        &[(&format!("id eq \"{}\"", u.carol), &[CAROL]), (&format!("id eq \"{upper}\""), &[])],
    )
    .await;
}

#[tokio::test]
async fn attribute_names_match_case_insensitively() {
    let s = TestServer::start().await;
    seed(&s).await;
    check(
        &s,
        &[
            ("USERNAME eq \"bob@example.com\"", &[BOB]),
            ("username eq \"bob@example.com\"", &[BOB]),
            ("name.FamilyName eq \"jones\"", &[BOB, DAVE]),
            ("NAME.GIVENNAME sw \"a\"", &[ALICE]),
            ("EMAILS[TYPE eq \"work\"].VALUE eq \"carol@x.io\"", &[CAROL]),
            ("Active EQ true AND Title Pr", &[ALICE, DAVE]),
            ("URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:DEPARTMENT eq \"Sales\"", &[ALICE, CAROL]),
        ],
    )
    .await;
}

#[tokio::test]
async fn url_encodings_of_spaces_and_quotes() {
    let s = TestServer::start().await;
    let u = seed(&s).await;
    let one = |r: Reply| {
        let r = r.expect(200);
        assert_eq!(r.body["totalResults"], 1, "{}", r.text);
        ids(&r)
    };
    // `+` for spaces, `%22` for quotes (Entra).
    assert_eq!(
        one(s.get("/Users?filter=userName+eq+%22alice%40example.org%22").await),
        [u.alice.clone()]
    );
    // `%20` for spaces (Okta).
    assert_eq!(
        one(s.get("/Users?filter=userName%20eq%20%22alice@example.org%22").await),
        [u.alice.clone()]
    );
    // Microsoft's unquoted example value.
    assert_eq!(one(s.get("/Users?filter=externalId+eq+EXT-DAVE").await), [u.dave.clone()]);
    assert_eq!(one(s.raw_target("GET", "/Users?filter=externalId+eq+ext-bob").await), [u.bob]);
    // `%2B` is a literal plus; a bare `+` is a space.
    let tagged = s.create_user("carol+tag@example.org").await;
    assert_eq!(
        one(s.get("/Users?filter=userName+eq+%22carol%2Btag%40example.org%22").await),
        [tagged]
    );
    let r = s.get("/Users?filter=userName+eq+%22carol+tag%40example.org%22").await.expect(200);
    assert_eq!(r.body["totalResults"], 0, "{}", r.text);
}

/// §1.0 and §3 quirk 23 (key in `payloads.rs`; seen in MicrosoftDocs/azure-docs#21660): Entra's
/// legacy engine sends raw `"` in the query (`filter=externalId+eq+"9edf…"`); scimd documents
/// accepting them.
#[tokio::test]
async fn raw_quotes_in_the_request_line() {
    let s = TestServer::start().await;
    let u = seed(&s).await;
    let one = |r: Reply| {
        let r = r.expect(200);
        assert_eq!(r.body["totalResults"], 1, "{}", r.text);
        ids(&r)
    };
    // Raw quotes in the request line, with `+` and with `%20` for spaces.
    let r = s.raw_target("GET", "/Users?filter=externalId+eq+\"Ext-Alice\"").await;
    assert_eq!(one(r), [u.alice.clone()]);
    let r = s.raw_target("GET", "/Users?filter=userName%20eq%20\"bob@example.com\"").await;
    assert_eq!(one(r), [u.bob.clone()]);
    // A raw request that finds nothing is still a 200 with an empty list.
    let r =
        s.raw_target("GET", "/Users?filter=userName+eq+\"nobody@example.org\"").await.expect(200);
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(r.body["Resources"], json!([]));
}

#[tokio::test]
async fn legacy_id_and_manager_query_with_attributes_id() {
    let s = TestServer::start().await;
    let u = seed(&s).await;
    let quoted = entra_encode(&format!("id eq \"{}\" and manager eq \"{}\"", u.bob, u.alice));
    let r = s.get(&format!("/Users?filter={quoted}&attributes=id")).await.expect(200);
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    let found = &resources(&r)[0];
    assert_eq!(found["id"], u.bob.as_str());
    assert!(found.get("userName").is_none(), "{}", r.text);
    // The MS-OLDTUT form: unquoted ids.
    let unquoted = entra_encode(&format!("id eq {} and manager eq {}", u.bob, u.alice));
    let r = s.get(&format!("/Users?filter={unquoted}&attributes=id")).await.expect(200);
    assert_eq!(ids(&r), [u.bob.clone()]);
    // A different manager: no match.
    let other = entra_encode(&format!("id eq \"{}\" and manager eq \"{}\"", u.bob, u.carol));
    let r = s.get(&format!("/Users?filter={other}&attributes=id")).await.expect(200);
    assert_eq!(r.body["totalResults"], 0);
    // The sub-attribute spelled out, URN-qualified.
    check(
        &s,
        &[(
            &format!(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"{}\"",
                u.alice
            ),
            &[BOB],
        )],
    )
    .await;
}

#[tokio::test]
async fn group_filters() {
    let s = TestServer::start().await;
    let u = seed(&s).await;
    let eng = s.create_group("Engineering", &[&u.alice, &u.bob]).await;
    let sales = s.create_group("Sales Team", &[&u.alice, &u.carol]).await;
    let nested = s.create_group("All", &[&eng]).await;
    let groups = |filter: &str| {
        let path = format!("/Groups?filter={}", entra_encode(filter));
        let s = &s;
        async move {
            let r = s.get(&path).await.expect(200);
            let mut found = ids(&r);
            found.sort();
            found
        }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(groups("displayName eq \"engineering\"").await, [eng.clone()]);
    assert_eq!(groups("displayName eq \"ENGINEERING\"").await, [eng.clone()]);
    assert_eq!(groups("DisplayName eq \"sales team\"").await, [sales.clone()]);
    assert_eq!(groups("displayName eq \"Nope\"").await, Vec::<String>::new());
    assert_eq!(
        groups(&format!("members.value eq \"{}\"", u.alice)).await,
        sorted(vec![eng.clone(), sales.clone()])
    );
    assert_eq!(groups(&format!("members.value eq \"{}\"", u.carol)).await, [sales.clone()]);
    assert_eq!(groups(&format!("members.value eq \"{}\"", u.dave)).await, Vec::<String>::new());
    assert_eq!(groups(&format!("members.value eq \"{eng}\"")).await, [nested.clone()]);
    assert_eq!(groups(&format!("members[value eq \"{}\"]", u.bob)).await, [eng.clone()]);
    let urn = "urn:ietf:params:scim:schemas:core:2.0:Group:members.value";
    assert_eq!(groups(&format!("{urn} eq \"{}\"", u.bob)).await, [eng.clone()]);
    assert_eq!(groups("displayName sw \"s\"").await, [sales.clone()]);
    assert_eq!(
        groups(&format!("displayName eq \"Engineering\" and members.value eq \"{}\"", u.carol))
            .await,
        Vec::<String>::new()
    );
    // A user-only attribute is not a group filter.
    let r =
        s.get(&format!("/Groups?filter={}", entra_encode("userName eq \"x\""))).await.expect(400);
    assert_eq!(r.scim_type(), "invalidFilter");
    // Users can be found by their groups too.
    check(&s, &[(&format!("groups.value eq \"{sales}\""), &[ALICE, CAROL])]).await;
}

#[tokio::test]
async fn post_search_on_users_groups_and_root() {
    let s = TestServer::start().await;
    let u = seed(&s).await;
    let admins = s.create_group("Admins", &[&u.alice]).await;
    s.create_group("Staff", &[]).await;

    let r = s
        .post(
            "/Users/.search",
            &json!({
                "schemas": [SEARCH],
                "filter": "userName sw \"a\" or userName sw \"b\"",
                "attributes": ["userName"],
                "sortBy": "userName",
                "sortOrder": "descending",
                "startIndex": 1,
                "count": 10
            }),
        )
        .await
        .expect(200);
    assert!(r.content_type().starts_with("application/scim+json"));
    assert_eq!(r.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:ListResponse");
    assert_eq!(r.body["totalResults"], 2);
    let found = resources(&r);
    assert_eq!(found[0]["userName"], BOB);
    assert_eq!(found[1]["userName"], ALICE);
    assert!(found.iter().all(|u| u.get("emails").is_none()), "{}", r.text);

    let r = s
        .post("/Groups/.search", &json!({"schemas": [SEARCH], "filter": "displayName eq \"admins\"", "excludedAttributes": ["members"]}))
        .await
        .expect(200);
    assert_eq!(ids(&r), [admins.clone()]);
    assert!(resources(&r)[0].get("members").is_none(), "{}", r.text);

    // The root search covers users and groups together.
    let r = s.post("/.search", &json!({"schemas": [SEARCH]})).await.expect(200);
    assert_eq!(r.body["totalResults"], 6, "{}", r.text);
    let types: Vec<Value> =
        resources(&r).iter().map(|x| x["meta"]["resourceType"].clone()).collect();
    assert_eq!(types.iter().filter(|t| *t == "User").count(), 4, "{types:?}");
    assert_eq!(types.iter().filter(|t| *t == "Group").count(), 2, "{types:?}");
    let r = s
        .post("/.search", &json!({"schemas": [SEARCH], "filter": "displayName sw \"A\""}))
        .await
        .expect(200);
    let mut found: Vec<(String, String)> = resources(&r)
        .iter()
        .map(|x| {
            (
                x["meta"]["resourceType"].as_str().unwrap_or("").to_string(),
                x["id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(found, [("Group".to_string(), admins), ("User".to_string(), u.alice.clone())]);
    // A filter only users understand searches only users.
    let r = s
        .post(
            "/.search",
            &json!({"schemas": [SEARCH], "filter": "userName eq \"carol@example.org\""}),
        )
        .await
        .expect(200);
    assert_eq!(ids(&r), [u.carol.clone()]);
    // An invalid filter in a body is refused like one in a URL.
    let r = s
        .post("/Users/.search", &json!({"schemas": [SEARCH], "filter": "userName eq"}))
        .await
        .expect(400);
    assert_eq!(r.scim_type(), "invalidFilter");
}

/// RFC 7644 §3.4.3: `attributes`/`excludedAttributes` of a root search apply to every
/// resource type returned. Entra's group read is `excludedAttributes=members`.
#[tokio::test]
async fn root_search_projection_applies_to_groups_too() {
    let s = TestServer::start().await;
    let u = seed(&s).await;
    let admins = s.create_group("Admins", &[&u.alice]).await;
    let group_in = |r: &Reply| {
        resources(r)
            .into_iter()
            .find(|x| x["id"] == admins.as_str())
            .unwrap_or_else(|| panic!("group missing: {}", r.text))
    };
    let r = s
        .post("/.search", &json!({"schemas": [SEARCH], "attributes": ["displayName"]}))
        .await
        .expect(200);
    assert_eq!(group_in(&r)["displayName"], "Admins", "{}", r.text);
    let alice = resources(&r).into_iter().find(|x| x["id"] == u.alice.as_str()).expect("alice");
    assert_eq!(alice["displayName"], "Alice Smith");
    assert!(alice.get("userName").is_none(), "{alice}");

    let r = s
        .post("/.search", &json!({"schemas": [SEARCH], "attributes": ["members"]}))
        .await
        .expect(200);
    assert_eq!(group_in(&r)["members"][0]["value"], u.alice.as_str(), "{}", r.text);

    let r = s
        .post("/.search", &json!({"schemas": [SEARCH], "excludedAttributes": ["members"]}))
        .await
        .expect(200);
    let g = group_in(&r);
    assert!(g.get("members").is_none(), "{g}");
    assert_eq!(g["displayName"], "Admins");
}

#[tokio::test]
async fn invalid_filters_are_400_invalid_filter() {
    let s = TestServer::start().await;
    seed(&s).await;
    let long_value = "x".repeat(4100);
    let deep_short = format!("{}userName eq \"a\"{}", "(".repeat(100), ")".repeat(100));
    let cases: Vec<String> = vec![
        "(userName eq \"a\"".into(),
        "userName eq \"a\")".into(),
        "((userName eq \"a\") or (title pr)".into(),
        "userName xx \"a\"".into(),
        "userName equals \"a\"".into(),
        "noSuchAttribute eq \"a\"".into(),
        "name.noSuchSub eq \"a\"".into(),
        "urn:example:unknown:User:userName eq \"a\"".into(),
        "active gt true".into(),
        "userName eq \"a\" garbage".into(),
        "userName eq \"a\" and".into(),
        "userName eq".into(),
        "userName".into(),
        "eq \"a\"".into(),
        "userName eq \"unterminated".into(),
        "emails[type eq \"work\"".into(),
        "emails[type eq \"work\"]]".into(),
        "not".into(),
        "not ()".into(),
        "()".into(),
        deep_short,
        format!("userName eq \"{long_value}\""),
    ];
    for filter in &cases {
        invalid(&s, filter).await;
    }
    // 5000 nested parentheses: in a URL (parentheses need no encoding) and in a search body.
    let deep = format!("{}userName eq \"a\"{}", "(".repeat(5000), ")".repeat(5000));
    let r = s
        .raw_target("GET", &format!("/Users?filter={}", deep.replace(' ', "+").replace('"', "%22")))
        .await;
    assert_eq!(r.expect(400).scim_type(), "invalidFilter");
    let r = s.post("/Users/.search", &json!({"filter": deep})).await.expect(400);
    assert_eq!(r.scim_type(), "invalidFilter", "{}", r.text);
    let r = s.post("/.search", &json!({"filter": "(".repeat(5000)})).await.expect(400);
    assert_eq!(r.scim_type(), "invalidFilter", "{}", r.text);
    // The server still answers normally afterwards.
    assert_eq!(find(&s, "userName eq \"alice@example.org\"").await, [ALICE]);
}

/// `sw` on the indexed attributes goes through the index: the same answers as a scan, with
/// the index's case rules (userName case-insensitive, externalId case-sensitive).
#[tokio::test]
async fn starts_with_on_indexed_attributes() {
    let s = TestServer::start().await;
    seed(&s).await;
    check(
        &s,
        &[
            ("userName sw \"A\"", &[ALICE]),
            ("userName sw \"\"", &[ALICE, BOB, CAROL, DAVE]),
            ("externalId sw \"ext-\"", &[BOB]),
            ("externalId sw \"Ext\"", &[ALICE]),
            ("externalId sw \"EXT-D\"", &[DAVE]),
            ("externalId sw \"nothing\"", &[]),
            ("userName sw \"a\" and title eq \"Engineer\"", &[ALICE]),
            ("userName sw \"b\" or externalId sw \"EXT\"", &[BOB, DAVE]),
        ],
    )
    .await;
}

/// A filter that matches many keeps only the page, but counts them all.
#[tokio::test]
async fn filtered_pages_count_every_match() {
    let s = TestServer::start().await;
    for i in 0..12 {
        s.create_user(&format!("p{i:02}@example.org")).await;
    }
    let filter = entra_encode("userName co \"@example.org\"");
    let r = s.get(&format!("/Users?filter={filter}&startIndex=5&count=3")).await.expect(200);
    assert_eq!(r.body["totalResults"], 12);
    assert_eq!(resources(&r).len(), 3);
    assert_eq!(r.body["startIndex"], 5);
    let r = s.get(&format!("/Users?filter={filter}&count=0")).await.expect(200);
    assert_eq!((r.body["totalResults"].as_u64(), resources(&r).len()), (Some(12), 0));
    let r = s.get(&format!("/Users?filter={filter}&startIndex=12&count=5")).await.expect(200);
    assert_eq!(resources(&r).len(), 1);
    // With sortBy, the page is cut after sorting.
    let r = s
        .get(&format!("/Users?filter={filter}&sortBy=userName&sortOrder=descending&count=2"))
        .await
        .expect(200);
    let names: Vec<String> =
        resources(&r).iter().map(|u| u["userName"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(names, ["p11@example.org", "p10@example.org"]);
}
