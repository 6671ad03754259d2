//! `/Users`: create, read, list, replace and delete as a client sees them, with uniqueness,
//! `externalId`, ETags, the enterprise extension, `password` and the read-only `groups`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{
    CORE_USER, ENTERPRISE, Reply, TestServer, entra_encode, id_of, ids, resources, user_body,
    user_names,
};

/// A user with many optional attributes, for tests that check what a PUT removes.
fn rich_user(user_name: &str) -> Value {
    user_body(
        user_name,
        json!({
            "displayName": "Ada Lovelace",
            "nickName": "Ada",
            "title": "Analyst",
            "externalId": "ext-ada",
            "phoneNumbers": [{"value": "+44 20 7946 0000", "type": "work"}],
            ENTERPRISE: {"department": "Engines", "employeeNumber": "1815"}
        }),
    )
}

/// Sends a request with one extra header.
async fn call_with_header(
    s: &TestServer,
    method: Method,
    path: &str,
    body: Option<&Value>,
    header: (&str, &str),
) -> Reply {
    s.call_with_headers(&s.token, method, path, body, &[header]).await
}

#[tokio::test]
async fn create_answers_201_with_location_etag_and_meta() {
    let s = TestServer::start().await;
    let r = s.post("/Users", &rich_user("ada@example.org")).await.expect(201);
    assert!(r.content_type().starts_with("application/scim+json"), "{}", r.content_type());
    let id = id_of(&r);
    assert!(!id.is_empty());
    let location = s.url(&format!("/Users/{id}"));
    assert_eq!(r.headers["location"], location.as_str());
    let meta = &r.body["meta"];
    assert_eq!(meta["location"], location);
    assert_eq!(meta["resourceType"], "User");
    assert!(meta["created"].as_str().is_some_and(|t| !t.is_empty()), "{meta}");
    assert!(meta["lastModified"].as_str().is_some_and(|t| !t.is_empty()), "{meta}");
    let version = meta["version"].as_str().expect("meta.version");
    assert_eq!(r.headers["etag"], version);
    assert_eq!(r.body["schemas"][0], CORE_USER);
    assert_eq!(r.body["userName"], "ada@example.org");
    assert_eq!(r.body["title"], "Analyst");

    // What the 201 showed is what is stored.
    let got = s.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body, r.body);
    assert_eq!(got.headers["etag"], version);
}

#[tokio::test]
async fn read_of_an_unknown_id_is_404() {
    let s = TestServer::start().await;
    s.create_user("ada@example.org").await;
    let r = s.get("/Users/0f8fad5b-d9cb-469f-a165-70867728950e").await.expect(404);
    assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{}", r.text);
    // Okta's SPEC test uses an id that is not even a UUID.
    s.get("/Users/010101001010101011001010101011").await.expect(404);
}

#[tokio::test]
async fn list_returns_every_user() {
    let s = TestServer::start().await;
    let mut created = vec![
        s.create_user("ada@example.org").await,
        s.create_user("bob@example.org").await,
        s.create_user("cy@example.org").await,
    ];
    let r = s.get("/Users").await.expect(200);
    assert_eq!(r.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:ListResponse");
    assert_eq!(r.body["totalResults"], 3);
    assert_eq!(r.body["itemsPerPage"], 3);
    assert_eq!(r.body["startIndex"], 1);
    let mut listed = ids(&r);
    listed.sort();
    created.sort();
    assert_eq!(listed, created);
    assert_eq!(user_names(&r), ["ada@example.org", "bob@example.org", "cy@example.org"]);
}

#[tokio::test]
async fn put_replaces_the_whole_user_and_accepts_echoed_id_and_meta() {
    let s = TestServer::start().await;
    let created = s.post("/Users", &rich_user("ada@example.org")).await.expect(201);
    let id = id_of(&created);
    let old_version = created.body["meta"]["version"].clone();

    // Only userName and name are sent, plus the unchanged read-only id and meta.
    let body = json!({
        "schemas": [CORE_USER],
        "id": id,
        "meta": created.body["meta"],
        "userName": "ada@example.org",
        "name": {"givenName": "Augusta", "familyName": "King"}
    });
    let r = s.put(&format!("/Users/{id}"), &body).await.expect(200);
    assert_eq!(r.body["name"], json!({"givenName": "Augusta", "familyName": "King"}));
    assert_ne!(r.body["meta"]["version"], old_version);
    assert_eq!(r.headers["etag"], r.body["meta"]["version"].as_str().expect("version"));

    let got = s.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body, r.body);
    for gone in
        ["displayName", "nickName", "title", "externalId", "phoneNumbers", "emails", ENTERPRISE]
    {
        assert!(got.body.get(gone).is_none(), "{gone} survived the PUT: {}", got.text);
    }
    assert!(
        !got.body["schemas"].as_array().expect("schemas").iter().any(|s| s == ENTERPRISE),
        "{}",
        got.text
    );
    assert_eq!(got.body["id"], id);
    assert_eq!(got.body["meta"]["created"], created.body["meta"]["created"]);
    assert_eq!(got.body["meta"]["location"], created.body["meta"]["location"]);
}

#[tokio::test]
async fn put_with_another_id_in_the_body_is_400_and_changes_nothing() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let before = s.get(&format!("/Users/{id}")).await.expect(200);
    let body = user_body(
        "renamed@example.org",
        json!({"id": "0f8fad5b-d9cb-469f-a165-70867728950e", "title": "changed"}),
    );
    let r = s.put(&format!("/Users/{id}"), &body).await.expect(400);
    assert_eq!(r.scim_type(), "invalidValue", "{}", r.text);
    let after = s.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(after.body, before.body);
}

#[tokio::test]
async fn put_on_an_unknown_id_is_404_and_creates_nothing() {
    let s = TestServer::start().await;
    let missing = "0f8fad5b-d9cb-469f-a165-70867728950e";
    s.put(&format!("/Users/{missing}"), &user_body("ada@example.org", json!({}))).await.expect(404);
    s.get(&format!("/Users/{missing}")).await.expect(404);
    assert_eq!(s.total("/Users").await, 0);
}

#[tokio::test]
async fn delete_answers_204_then_the_user_is_gone() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let keep = s.create_user("bob@example.org").await;
    let r = s.delete(&format!("/Users/{id}")).await.expect(204);
    assert!(r.text.is_empty(), "{}", r.text);
    s.get(&format!("/Users/{id}")).await.expect(404);
    s.delete(&format!("/Users/{id}")).await.expect(404);
    let list = s.get("/Users").await.expect(200);
    assert_eq!(ids(&list), [keep]);
    // The name is free again.
    assert_eq!(s.users_named("ada@example.org").await, 0);
    s.create_user("ada@example.org").await;
}

#[tokio::test]
async fn user_name_is_unique_case_insensitively_on_create() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let before = s.get(&format!("/Users/{id}")).await.expect(200);
    for name in ["ada@example.org", "ADA@Example.ORG"] {
        let dup = user_body(name, json!({"title": "Impostor", "externalId": "other"}));
        let r = s.post("/Users", &dup).await.expect(409);
        assert_eq!(r.scim_type(), "uniqueness", "{}", r.text);
    }
    // The stored user is untouched and still alone.
    let after = s.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(after.body, before.body);
    assert_eq!(s.total("/Users").await, 1);
}

#[tokio::test]
async fn user_name_is_unique_case_insensitively_on_put_rename() {
    let s = TestServer::start().await;
    s.create_user("ada@example.org").await;
    let bob = s.create_user("bob@example.org").await;
    let before = s.get(&format!("/Users/{bob}")).await.expect(200);

    let rename = user_body("Ada@EXAMPLE.org", json!({"title": "renamed"}));
    let r = s.put(&format!("/Users/{bob}"), &rename).await.expect(409);
    assert_eq!(r.scim_type(), "uniqueness", "{}", r.text);
    let after = s.get(&format!("/Users/{bob}")).await.expect(200);
    assert_eq!(after.body, before.body);

    // Changing only the case of one's own name is not a conflict.
    let own = user_body("BOB@example.org", json!({}));
    let r = s.put(&format!("/Users/{bob}"), &own).await.expect(200);
    assert_eq!(r.body["userName"], "BOB@example.org");
    assert_eq!(s.read_user(&bob).await["userName"], "BOB@example.org");
}

#[tokio::test]
async fn external_id_is_kept_as_sent_and_matched_case_sensitively() {
    let s = TestServer::start().await;
    let r = s
        .post("/Users", &user_body("ada@example.org", json!({"externalId": "AbC-0a21F0f2"})))
        .await
        .expect(201);
    let id = id_of(&r);
    assert_eq!(s.read_user(&id).await["externalId"], "AbC-0a21F0f2");

    let exact = entra_encode("externalId eq \"AbC-0a21F0f2\"");
    assert_eq!(ids(&s.get(&format!("/Users?filter={exact}")).await.expect(200)), [id.clone()]);
    for other in ["abc-0a21f0f2", "ABC-0A21F0F2"] {
        let f = entra_encode(&format!("externalId eq \"{other}\""));
        assert_eq!(s.total(&format!("/Users?filter={f}")).await, 0, "{other}");
    }
    // externalId is not unique: a second user may carry a value differing only in case.
    s.post("/Users", &user_body("bob@example.org", json!({"externalId": "abc-0a21f0f2"})))
        .await
        .expect(201);
    assert_eq!(s.total(&format!("/Users?filter={exact}")).await, 1);
}

#[tokio::test]
async fn if_match_guards_put_and_delete() {
    let s = TestServer::start().await;
    let created = s.post("/Users", &user_body("ada@example.org", json!({}))).await.expect(201);
    let id = id_of(&created);
    let v1 = created.headers["etag"].to_str().expect("etag").to_string();
    let path = format!("/Users/{id}");

    let first = user_body("ada@example.org", json!({"title": "first"}));
    let r =
        call_with_header(&s, Method::PUT, &path, Some(&first), ("if-match", &v1)).await.expect(200);
    let v2 = r.headers["etag"].to_str().expect("etag").to_string();
    assert_ne!(v1, v2);

    // A writer still holding v1 is refused, and the first write stays.
    let stale = user_body("ada@example.org", json!({"title": "stale"}));
    call_with_header(&s, Method::PUT, &path, Some(&stale), ("if-match", &v1)).await.expect(412);
    assert_eq!(s.get(&path).await.expect(200).body["title"], "first");

    call_with_header(&s, Method::DELETE, &path, None, ("if-match", &v1)).await.expect(412);
    s.get(&path).await.expect(200);
    call_with_header(&s, Method::DELETE, &path, None, ("if-match", &v2)).await.expect(204);
    s.get(&path).await.expect(404);
}

#[tokio::test]
async fn if_none_match_with_the_current_etag_is_304() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let path = format!("/Users/{id}");
    let etag = s.get(&path).await.expect(200).headers["etag"].to_str().expect("etag").to_string();

    let r = call_with_header(&s, Method::GET, &path, None, ("if-none-match", &etag)).await;
    assert_eq!(r.status.as_u16(), 304);
    assert!(r.text.is_empty(), "{}", r.text);

    // After a change the old tag no longer matches: the new representation comes back.
    s.put(&path, &user_body("ada@example.org", json!({"title": "new"}))).await.expect(200);
    let r =
        call_with_header(&s, Method::GET, &path, None, ("if-none-match", &etag)).await.expect(200);
    assert_eq!(r.body["title"], "new");
}

#[tokio::test]
async fn enterprise_extension_round_trips_under_its_urn() {
    let s = TestServer::start().await;
    let boss = s.create_user("boss@example.org").await;
    let ext = json!({
        "employeeNumber": "701984",
        "costCenter": "4130",
        "organization": "Universal Studios",
        "division": "Theme Park",
        "department": "Tour Operations",
        "manager": {"value": boss}
    });
    let body = json!({
        "schemas": [CORE_USER, ENTERPRISE],
        "userName": "bjensen@example.org",
        ENTERPRISE: ext
    });
    let r = s.post("/Users", &body).await.expect(201);
    let id = id_of(&r);
    let got = s.get(&format!("/Users/{id}")).await.expect(200);
    for reply in [&r.body, &got.body] {
        let schemas = reply["schemas"].as_array().expect("schemas");
        assert!(schemas.iter().any(|s| s == CORE_USER), "{reply}");
        assert!(schemas.iter().any(|s| s == ENTERPRISE), "{reply}");
        let stored = &reply[ENTERPRISE];
        for key in ["employeeNumber", "costCenter", "organization", "division", "department"] {
            assert_eq!(stored[key], ext[key], "{key}: {reply}");
        }
        assert_eq!(stored["manager"]["value"], boss.as_str(), "{reply}");
        // Nothing leaks to the top level.
        assert!(reply.get("department").is_none(), "{reply}");
    }
}

#[tokio::test]
async fn password_is_accepted_but_never_returned() {
    let s = TestServer::start().await;
    let body = user_body("ada@example.org", json!({"password": "t1meMa$heen"}));
    let r = s.post("/Users", &body).await.expect(201);
    let id = id_of(&r);
    assert!(r.body.get("password").is_none(), "{}", r.text);
    assert!(!r.text.contains("t1meMa$heen"), "{}", r.text);

    let got = s.get(&format!("/Users/{id}")).await.expect(200);
    assert!(
        got.body.get("password").is_none() && !got.text.contains("t1meMa$heen"),
        "{}",
        got.text
    );
    let asked = s.get(&format!("/Users/{id}?attributes=password,userName")).await.expect(200);
    assert!(asked.body.get("password").is_none(), "{}", asked.text);
    let list = s.get("/Users").await.expect(200);
    assert!(
        !list.text.contains("t1meMa$heen") && !list.text.contains("\"password\""),
        "{}",
        list.text
    );

    let put = s
        .put(
            &format!("/Users/{id}"),
            &user_body("ada@example.org", json!({"password": "n3w-Secret"})),
        )
        .await
        .expect(200);
    assert!(!put.text.contains("n3w-Secret"), "{}", put.text);

    // It cannot be probed through a filter either.
    let f = entra_encode("password eq \"t1meMa$heen\"");
    let r = s.get(&format!("/Users?filter={f}")).await.expect(400);
    assert_eq!(r.scim_type(), "invalidFilter", "{}", r.text);
}

#[tokio::test]
async fn groups_attribute_is_read_only_and_reflects_memberships() {
    let s = TestServer::start().await;
    let ada = s.create_user("ada@example.org").await;
    let loner = s.create_user("loner@example.org").await;
    let admins = s.create_group("Admins", &[&ada]).await;
    let staff = s.create_group("Staff", &[&ada]).await;

    let got = s.get(&format!("/Users/{ada}")).await.expect(200);
    let mut groups = got.body["groups"].as_array().expect("groups").clone();
    groups.sort_by_key(|g| g["display"].as_str().unwrap_or("").to_string());
    assert_eq!(groups.len(), 2, "{}", got.text);
    for (g, (id, name)) in groups.iter().zip([(&admins, "Admins"), (&staff, "Staff")]) {
        assert_eq!(g["value"], id.as_str());
        assert_eq!(g["display"], name);
        assert_eq!(g["$ref"], s.url(&format!("/Groups/{id}")));
        assert_eq!(g["type"], "direct");
    }
    let alone = s.get(&format!("/Users/{loner}")).await.expect(200);
    assert!(
        alone.body.get("groups").is_none_or(|g| g.as_array().is_some_and(Vec::is_empty)),
        "{}",
        alone.text
    );

    // `groups` in a write body is ignored: a PUT with [] leaves memberships alone, and a
    // POST cannot join a group.
    let put = user_body("ada@example.org", json!({"groups": []}));
    s.put(&format!("/Users/{ada}"), &put).await.expect(200);
    let still = s.get(&format!("/Users/{ada}")).await.expect(200);
    assert_eq!(still.body["groups"].as_array().map(Vec::len), Some(2), "{}", still.text);
    let sneaky = user_body("eve@example.org", json!({"groups": [{"value": admins}]}));
    let eve = s.post("/Users", &sneaky).await.expect(201);
    assert!(eve.body.get("groups").is_none(), "{}", eve.text);
    let members = s.get(&format!("/Groups/{admins}")).await.expect(200);
    let member_ids: Vec<&Value> =
        members.body["members"].as_array().expect("members").iter().map(|m| &m["value"]).collect();
    assert_eq!(member_ids, [&json!(ada)]);

    // The list shows `groups` too.
    let f = entra_encode("userName eq \"ada@example.org\"");
    let listed = s.get(&format!("/Users?filter={f}")).await.expect(200);
    assert_eq!(resources(&listed)[0]["groups"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn put_rename_moves_the_indexes() {
    let s = TestServer::start().await;
    let body = user_body("old@example.org", json!({"externalId": "Old-Ext"}));
    let id = s.post("/Users", &body).await.expect(201).body["id"].as_str().expect("id").to_string();
    let renamed = user_body("new@example.org", json!({"externalId": "New-Ext"}));
    s.put(&format!("/Users/{id}"), &renamed).await.expect(200);

    assert_eq!(s.users_named("old@example.org").await, 0);
    assert_eq!(s.users_named("NEW@example.org").await, 1);
    let by_ext =
        |v: &str| format!("/Users?filter={}", entra_encode(&format!("externalId eq \"{v}\"")));
    assert_eq!(s.total(&by_ext("Old-Ext")).await, 0);
    assert_eq!(ids(&s.get(&by_ext("New-Ext")).await.expect(200)), [id.clone()]);
    // The old name is free for someone else; the new one is taken.
    s.create_user("old@example.org").await;
    let r = s.post("/Users", &user_body("New@Example.org", json!({}))).await.expect(409);
    assert_eq!(r.scim_type(), "uniqueness");
    assert_eq!(s.total("/Users").await, 2);
}

#[tokio::test]
async fn a_user_read_and_put_back_unchanged_stays_the_same() {
    let s = TestServer::start().await;
    let id = s.post("/Users", &rich_user("ada@example.org")).await.expect(201).body["id"]
        .as_str()
        .expect("id")
        .to_string();
    s.create_group("Team", &[&id]).await;
    let before = s.read_user(&id).await;
    // Everything the server returned, read-only parts included, goes back.
    let r = s.put(&format!("/Users/{id}"), &before).await.expect(200);
    let after = s.read_user(&id).await;
    assert_eq!(r.body, after);
    let strip = |v: &Value| {
        let mut v = v.clone();
        let meta = v["meta"].as_object_mut().expect("meta");
        meta.remove("version");
        meta.remove("lastModified");
        v
    };
    assert_eq!(strip(&after), strip(&before));
    // Nothing changed, so nothing was written: the version stays (and no change event).
    assert_eq!(after["meta"]["version"], before["meta"]["version"]);
}

#[tokio::test]
async fn concurrent_creates_of_one_name_store_exactly_one_user() {
    let s = TestServer::start().await;
    let names = ["race@example.org", "RACE@example.org", "Race@Example.org", "race@EXAMPLE.ORG"];
    let attempts = (0..12).map(|i| {
        let body = user_body(names[i % names.len()], json!({"title": format!("attempt {i}")}));
        let s = &s;
        async move { s.post("/Users", &body).await }
    });
    let replies = futures_join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status.as_u16() == 201).count();
    let conflicts = replies.iter().filter(|r| r.status.as_u16() == 409).count();
    assert_eq!(
        (created, conflicts),
        (1, 11),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let list = s.get("/Users").await.expect(200);
    assert_eq!(list.body["totalResults"], 1);
    let winner = replies.iter().find(|r| r.status.as_u16() == 201).expect("winner");
    assert_eq!(resources(&list)[0], winner.body);
}

/// Runs the futures concurrently on this task and returns their outputs in order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in set.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(|o| o.expect("finished")).collect()
}

#[tokio::test]
async fn blank_user_name_is_refused_and_id_spellings_agree() {
    let s = TestServer::start().await;
    let r = s.post("/Users", &serde_json::json!({"userName": "   "})).await.expect(400);
    assert_eq!(r.scim_type(), "invalidValue");
    assert_eq!(s.get("/Users").await.expect(200).body["totalResults"], 0);

    let id = s.create_user("case@example.org").await;
    let upper = id.to_uppercase();
    let r = s
        .put(
            &format!("/Users/{upper}"),
            &serde_json::json!({"id": id, "userName": "case@example.org", "title": "t"}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["id"], id);
    assert_eq!(s.read_user(&id).await["title"], "t");
}

#[tokio::test]
async fn attributes_with_a_value_filter_return_only_the_matching_elements() {
    let s = TestServer::start().await;
    let emails = json!([{"value": "w@example.org", "type": "work", "primary": true},
                        {"value": "h@example.org", "type": "home"}]);
    let body = user_body("filtered@example.org", json!({"emails": emails}));
    let id = id_of(&s.post("/Users", &body).await.expect(201));
    let query = "attributes=emails%5Btype%20eq%20%22work%22%5D.value";
    let one = s.get(&format!("/Users/{id}?{query}")).await.expect(200);
    assert_eq!(one.body["emails"], json!([{"value": "w@example.org"}]));
    assert!(one.body.get("userName").is_none() && one.body["id"] == id);
    let list = s
        .get(&format!("/Users?filter=userName%20eq%20%22filtered@example.org%22&{query}"))
        .await
        .expect(200);
    assert_eq!(list.body["Resources"][0]["emails"], json!([{"value": "w@example.org"}]));
    // Not in excludedAttributes, and a malformed one names the parameter.
    let r = s
        .get(&format!("/Users/{id}?excludedAttributes=emails%5Btype%20eq%20%22work%22%5D"))
        .await
        .expect(400);
    assert_eq!(r.scim_type(), "invalidValue");
    assert!(
        r.body["detail"].as_str().unwrap_or("").starts_with("excludedAttributes:"),
        "{}",
        r.text
    );
}
