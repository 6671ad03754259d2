//! The first-contact path: Entra's Test Connection probe and a create/read round trip.

use serde_json::json;

use crate::common::{TestServer, entra_encode};

#[tokio::test]
async fn entra_test_connection_probe_gets_an_empty_list() {
    let s = TestServer::start().await;
    let filter = entra_encode("userName eq \"cf4d78e8-cc4f-4d5d-b8b9-183561c0104a\"");
    let r = s.get(&format!("/Users?filter={filter}")).await.expect(200);
    assert!(r.content_type().starts_with("application/scim+json"));
    assert_eq!(
        r.body,
        json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]})
    );
}

#[tokio::test]
async fn create_then_read_back() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let r = s.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(r.body["userName"], "ada@example.org");
    assert_eq!(r.body["meta"]["location"], s.url(&format!("/Users/{id}")));
    assert_eq!(r.headers["etag"], r.body["meta"]["version"].as_str().unwrap());
}
