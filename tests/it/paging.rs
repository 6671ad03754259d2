//! Paging (`startIndex`/`count`, defaults and the configured maximum), sorting and
//! projection of list responses, over 25 users and a server configured with small pages.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::{Reply, TestServer, entra_encode, id_of, ids, resources, user_body};

const SMALL_PAGES: &str = "[scim]\nmax_page_size = 10\ndefault_page_size = 5\n";
const USERS: usize = 25;

/// `user01@example.org` … `user25@example.org`; the family names run the other way
/// (`Family25` … `Family01`) so sorting by them reverses the userName order.
fn user_name(i: usize) -> String {
    format!("user{i:02}@example.org")
}

/// Starts a small-page server with the 25 users; returns it and their ids.
async fn seeded() -> (TestServer, Vec<String>) {
    let s = TestServer::start_with(SMALL_PAGES).await;
    let mut created = Vec::new();
    for i in 1..=USERS {
        let body = user_body(
            &user_name(i),
            json!({
                "name": {"givenName": format!("Given{i:02}"), "familyName": format!("Family{:02}", USERS + 1 - i)},
                "emails": [{"value": user_name(i), "type": "work"}]
            }),
        );
        let r = s.post("/Users", &body).await.expect(201);
        created.push(id_of(&r));
    }
    (s, created)
}

/// Asserts the ListResponse counters (as JSON integers) and returns the page.
fn page(r: &Reply, total: u64, start: u64, items: u64) -> Vec<Value> {
    for key in ["totalResults", "startIndex", "itemsPerPage"] {
        assert!(r.body[key].is_u64(), "{key} is not a JSON integer: {}", r.text);
    }
    assert_eq!(r.body["totalResults"], total, "{}", r.text);
    assert_eq!(r.body["startIndex"], start, "{}", r.text);
    assert_eq!(r.body["itemsPerPage"], items, "{}", r.text);
    let found = resources(r);
    assert_eq!(found.len() as u64, items, "{}", r.text);
    found
}

fn names(resources: &[Value]) -> Vec<String> {
    resources.iter().map(|r| r["userName"].as_str().expect("userName").to_string()).collect()
}

#[tokio::test]
async fn defaults_caps_and_edges() {
    let (s, _) = seeded().await;
    let total = USERS as u64;
    // No parameters: the default page size.
    page(&s.get("/Users").await.expect(200), total, 1, 5);
    // An explicit count within the maximum.
    page(&s.get("/Users?count=7").await.expect(200), total, 1, 7);
    // Above the maximum: capped at max_page_size.
    page(&s.get("/Users?count=50").await.expect(200), total, 1, 10);
    page(&s.get("/Users?startIndex=1&count=1000000").await.expect(200), total, 1, 10);
    // count=0: the total only.
    let r = s.get("/Users?count=0").await.expect(200);
    page(&r, total, 1, 0);
    assert_eq!(r.body["Resources"], json!([]));
    // A negative count is read as 0.
    page(&s.get("/Users?count=-3").await.expect(200), total, 1, 0);
    // Near and past the end.
    page(&s.get("/Users?startIndex=24&count=5").await.expect(200), total, 24, 2);
    page(&s.get("/Users?startIndex=25").await.expect(200), total, 25, 1);
    let r = s.get("/Users?startIndex=26&count=5").await.expect(200);
    page(&r, total, 26, 0);
    assert_eq!(r.body["Resources"], json!([]));
    page(&s.get("/Users?startIndex=1000").await.expect(200), total, 1000, 0);
    // startIndex below 1 is read as 1.
    let first = s.get("/Users?startIndex=1&count=3").await.expect(200);
    for start in ["0", "-5"] {
        let r = s.get(&format!("/Users?startIndex={start}&count=3")).await.expect(200);
        page(&r, total, 1, 3);
        assert_eq!(ids(&r), ids(&first), "startIndex={start}");
    }
    // The same caps apply with a filter and to .search.
    let f = entra_encode("userName sw \"user\"");
    page(&s.get(&format!("/Users?filter={f}&count=50")).await.expect(200), total, 1, 10);
    page(&s.get(&format!("/Users?filter={f}")).await.expect(200), total, 1, 5);
    let r = s.post("/Users/.search", &json!({"count": 500, "startIndex": 21})).await.expect(200);
    page(&r, total, 21, 5);
}

#[tokio::test]
async fn walking_all_pages_covers_everything_once_and_is_stable() {
    let (s, created) = seeded().await;
    let walk = |query: String| {
        let s = &s;
        async move {
            let mut seen = Vec::new();
            let mut start = 1;
            loop {
                let r =
                    s.get(&format!("/Users?{query}startIndex={start}&count=7")).await.expect(200);
                assert_eq!(r.body["totalResults"], USERS, "{}", r.text);
                assert_eq!(r.body["startIndex"], start, "{}", r.text);
                let got = ids(&r);
                if got.is_empty() {
                    break;
                }
                seen.extend(got);
                start += 7;
            }
            seen
        }
    };
    let all: BTreeSet<String> = created.iter().cloned().collect();
    let filter = format!("filter={}&", entra_encode("userName ew \"@example.org\""));
    for query in [String::new(), filter, "sortBy=userName&".to_string()] {
        let first = walk(query.clone()).await;
        assert_eq!(first.len(), USERS, "duplicates or gaps with {query:?}: {first:?}");
        let distinct: BTreeSet<String> = first.iter().cloned().collect();
        assert_eq!(distinct, all, "{query:?}");
        // The same walk again gives the same order.
        assert_eq!(walk(query.clone()).await, first, "{query:?}");
    }
    // The page after 4 full pages of 5 holds the 21st to 25th users of a full walk.
    let order = walk(String::new()).await;
    let r = s.get("/Users?startIndex=21&count=5").await.expect(200);
    assert_eq!(ids(&r), order[20..25]);
}

#[tokio::test]
async fn sort_by_user_name_and_family_name() {
    let (s, _) = seeded().await;
    let expected_desc: Vec<String> = (16..=USERS).rev().map(user_name).collect();
    let r = s.get("/Users?sortBy=userName&sortOrder=descending&count=10").await.expect(200);
    assert_eq!(names(&page(&r, USERS as u64, 1, 10)), expected_desc);

    let expected_asc: Vec<String> = (1..=10).map(user_name).collect();
    let r = s.get("/Users?sortBy=userName&count=10").await.expect(200);
    assert_eq!(names(&resources(&r)), expected_asc);
    let r = s.get("/Users?sortBy=userName&sortOrder=ascending&count=10").await.expect(200);
    assert_eq!(names(&resources(&r)), expected_asc);

    // The second page of the descending order continues where the first stopped.
    let r = s
        .get("/Users?sortBy=userName&sortOrder=descending&startIndex=11&count=10")
        .await
        .expect(200);
    let expected: Vec<String> = (6..=15).rev().map(user_name).collect();
    assert_eq!(names(&resources(&r)), expected);

    // name.familyName ascending is userName descending here.
    let r = s.get("/Users?sortBy=name.familyName&count=10").await.expect(200);
    assert_eq!(names(&resources(&r)), expected_desc);
    let families: Vec<String> = resources(&r)
        .iter()
        .map(|u| u["name"]["familyName"].as_str().unwrap_or("").to_string())
        .collect();
    let mut sorted = families.clone();
    sorted.sort();
    assert_eq!(families, sorted);
    let r = s.get("/Users?sortBy=name.familyName&sortOrder=descending&count=3").await.expect(200);
    assert_eq!(names(&resources(&r)), [user_name(1), user_name(2), user_name(3)]);
}

#[tokio::test]
async fn attributes_and_excluded_attributes() {
    let (s, _) = seeded().await;
    let keys = |v: &Value| -> BTreeSet<String> {
        v.as_object().expect("object").keys().cloned().collect()
    };
    let set = |k: &[&str]| -> BTreeSet<String> { k.iter().map(|s| s.to_string()).collect() };

    let r = s.get("/Users?attributes=userName&count=10").await.expect(200);
    for u in page(&r, USERS as u64, 1, 10) {
        assert_eq!(keys(&u), set(&["id", "schemas", "userName"]), "{u}");
    }

    let r = s.get("/Users?attributes=name.givenName&count=3").await.expect(200);
    for u in resources(&r) {
        assert_eq!(keys(&u), set(&["id", "schemas", "name"]), "{u}");
        assert_eq!(keys(&u["name"]), set(&["givenName"]), "{u}");
        assert!(u["name"]["givenName"].as_str().is_some_and(|g| g.starts_with("Given")), "{u}");
    }

    let r = s.get("/Users?excludedAttributes=emails&count=3").await.expect(200);
    for u in resources(&r) {
        assert!(u.get("emails").is_none(), "{u}");
        assert!(
            u.get("userName").is_some() && u.get("name").is_some() && u.get("meta").is_some(),
            "{u}"
        );
        assert!(u.get("id").is_some(), "{u}");
    }

    // Attribute names in these parameters are case-insensitive too, and the single-resource
    // GET honours them the same way.
    let r = s.get("/Users?attributes=USERNAME&count=1").await.expect(200);
    assert_eq!(keys(&resources(&r)[0]), set(&["id", "schemas", "userName"]));
    let id = ids(&r)[0].clone();
    let one = s.get(&format!("/Users/{id}?attributes=userName")).await.expect(200);
    assert_eq!(keys(&one.body), set(&["id", "schemas", "userName"]));
    let one = s.get(&format!("/Users/{id}?excludedAttributes=emails,name")).await.expect(200);
    assert!(one.body.get("emails").is_none() && one.body.get("name").is_none(), "{}", one.text);
    assert!(one.body.get("userName").is_some(), "{}", one.text);
}

#[tokio::test]
async fn bad_paging_and_sort_parameters_are_400() {
    let s = TestServer::start_with(SMALL_PAGES).await;
    s.create_user("ada@example.org").await;
    for query in ["count=abc", "startIndex=abc", "count=1.5", "startIndex=&count=x"] {
        let r = s.get(&format!("/Users?{query}")).await.expect(400);
        assert_eq!(r.scim_type(), "invalidValue", "{query}: {}", r.text);
    }
    let r = s.get("/Users?sortOrder=sideways").await.expect(400);
    assert_eq!(r.scim_type(), "invalidValue", "{}", r.text);
    let r = s.get("/Users?sortBy=noSuchAttribute").await.expect(400);
    assert!(!r.scim_type().is_empty(), "{}", r.text);
    let r = s.post("/Users/.search", &json!({"count": "many"})).await.expect(400);
    assert_eq!(r.scim_type(), "invalidValue", "{}", r.text);
    let r = s.get("/Groups?count=abc").await.expect(400);
    assert_eq!(r.scim_type(), "invalidValue", "{}", r.text);
}
