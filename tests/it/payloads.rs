//! The literal request bodies that Microsoft Entra ID, the Microsoft SCIM Validator and Okta
//! send, kept once for every test that replays them. This doc is also the key to the short
//! source names and `§` numbers used in test comments.
//!
//! # Sources
//!
//! - **MS-TUT**: Microsoft Learn, *Tutorial: Develop and plan provisioning for a SCIM endpoint
//!   in Microsoft Entra ID*,
//!   <https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups>
//!   (request examples such as "Create User", "Disable User", "Update User [Multi-valued
//!   properties]", the attribute mapping table).
//! - **MS-COMPAT**: Microsoft Learn, *Known issues and resolutions with SCIM 2.0 protocol
//!   compliance of the Microsoft Entra user provisioning service*,
//!   <https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility>
//!   (the PATCH bodies "without feature flag" and "with feature flag").
//! - **MS-VALTUT**: Microsoft Learn, *Tutorial: Validate a SCIM endpoint*,
//!   <https://learn.microsoft.com/en-us/entra/identity/app-provisioning/scim-validator-tutorial>,
//!   for the SCIM Validator at <https://scimvalidator.microsoft.com>.
//! - **MS-REFPM**: the Postman collection `PostmanCollection.json` of
//!   <https://github.com/AzureAD/SCIMReferenceCode>.
//! - **OKTA-20**: Okta developer docs, *SCIM 2.0 protocol reference*,
//!   <https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20>, and the Okta SCIM
//!   2.0 SPEC test it links (`Okta-SCIM-20-SPEC-Test.json`).
//! - **RFC 7643** (SCIM core schema) and **RFC 7644** (SCIM protocol), for what the clients
//!   should send. Bug reports named in comments (`owner/repo#N`) are GitHub issues.
//!
//! Entra's dialects: **[CUR]** its current default (capitalised ops, booleans as strings, one
//! op per attribute: MS-COMPAT "without feature flag"); **[FLAG]** with `aadOptscim062020` in
//! the Tenant URL (MS-COMPAT "with feature flag"); **[LEGACY]** the pre-2019 `customappsso`
//! job (older MS-TUT revisions); **[VAL]** the SCIM Validator, its test numbers as the tool
//! reports them (1–25, previews P1–P7).
//!
//! # `§` numbers in test comments
//!
//! - **§1, Entra ID** (MS-TUT, MS-COMPAT): §1.0 transport (content type, query encoding);
//!   §1.1 Test Connection; §1.2 create user (lookup, then POST); §1.3 update profile; §1.4
//!   deactivate; §1.5 reactivate; §1.6 hard delete; §1.7 group lookup and create; §1.8 group
//!   rename; §1.9 add and remove members; §1.10 group delete; §1.11 manager set, change,
//!   clear; §1.12 roles (app-role mapping paths).
//! - **§2, Okta** (OKTA-20): §2.0 transport; §2.1 "Test API Credentials"; §2.2 create user
//!   (existence check, then POST); §2.3 update profile (GET, then a full PUT); §2.4
//!   deactivate; §2.5 reactivate; §2.8 Group Push; §2.9 password sync.
//! - **§4, the test suites**: §4.1 the SCIM Validator (MS-VALTUT); §4.3 MS-REFPM; §4.4 the
//!   Okta SPEC test.
//! - **§3 quirk N**, what a server must tolerate:
//!   1. `op` in any case (`"Replace"`, `"Add"`, `"Remove"`: [CUR], MS-TUT);
//!   2. booleans as strings in any case (`"False"`, `"primary":"True"` in `roles`);
//!   3. `add` used as `replace` and `replace` as `add` (`op: "Add"` to set `active` false);
//!   4. pathless values whose keys are dotted or URN-prefixed paths ([FLAG]);
//!   5. pathless values with plain keys (Okta's `{"active":false}`, [VAL]'s `userName`);
//!   6. read-only attributes echoed back unchanged (Okta's group rename carrying `id`);
//!   7. a value path plus sub-attribute creating the missing element;
//!   8. capitalised sub-attribute names (`emails[type eq "other"].Value`, MS-TUT mappings);
//!   9. member removal through a `value` list instead of a filter ([CUR]);
//!   10. member removal through a filter path ([FLAG], Okta, [VAL]);
//!   11. several members in one op, and add then remove of one member in one request;
//!   12. `"$ref": null` inside member values (MS-TUT);
//!   13. `display` on members (Okta): ignored, never rejected;
//!   14. a manager as a bare string;
//!   15. a manager as an array with `$ref` (MS-TUT example 5), also on the short `manager` path;
//!   16. a manager cleared four ways (remove, `""`, `{"value":""}`, a value filter);
//!   17. unknown or misspelled schema URNs in `schemas`;
//!   18. explicit nulls in POST;
//!   19. client-sent read-only and ignored fields in POST (`meta`, `roles: []`, `groups: []`,
//!       `password`);
//!   20. `excludedAttributes=members` on group lists and reads;
//!   21. case-insensitive `userName eq` (and group `displayName`);
//!   22. a filter matching nothing is 200 with an empty list, not 404;
//!   23. filter encodings: `+` for spaces, raw or percent-encoded quotes;
//!   24. compound filters `id eq … and manager eq …` with `attributes=id` ([LEGACY]);
//!   25. a filter on a value-path attribute (`emails[type eq "work"].value eq …`);
//!   26. paging with `startIndex`/`count` as Okta and the Logic-App template send it;
//!   27. PATCH answers: 200 with the user, 204 for a group;
//!   28. the RFC 7644 error body;
//!   29. request content types with and without `charset`, and `application/json`;
//!   30. stray query parameters such as `aadOptscim062020`, ignored;
//!   31. [CUR] and [FLAG] payloads from one tenant (provision on demand ignores the flag);
//!   32. a retried create answered 409, the stored user unchanged;
//!   33. validator-generated junk values (`locale`, `timezone`, `profileUrl`);
//!   34. multi-valued attributes kept as lists even with repeated `type`s.

use serde_json::{Value, json};

/// §1.2, MS-TUT "Create User" (first example), literal: `meta` and `roles: []`.
pub fn ms_tut_create_user() -> Value {
    json!({
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
      "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
      "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
      "active": true,
      "emails": [{"primary": true, "type": "work",
                  "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
      "meta": {"resourceType": "User"},
      "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
      "roles": []
    })
}

/// §1.2, MS-TUT's second "Create User" example, verbatim: explicit nulls, `meta`, and the
/// typo'd extension URN.
pub fn ms_tut_jyoung() -> Value {
    serde_json::from_str(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
 "externalId":"jyoung","userName":"jyoung@testuser.com","active":true,"addresses":null,"displayName":"Joy Young",
 "emails":[{"type":"work","value":"jyoung@Contoso.com","primary":true}],"meta":{"resourceType":"User"},
 "name":{"familyName":"Young","givenName":"Joy"},"phoneNumbers":null,"preferredLanguage":null,"title":null,
 "department":null,"manager":null}"#)
    .expect("literal payload")
}

/// §1.7, Entra's group create, verbatim: the Microsoft schema URN and `meta`.
pub fn entra_group() -> Value {
    json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group",
            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
     "externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
     "displayName":"displayName",
     "meta":{"resourceType":"Group"}})
}

/// §4.1, the SCIM Validator's POST /Users body (test 1), with its abridged "…" values filled
/// in: `"primary":"True"` in `roles`, random `userType`, `locale` and `timezone`.
pub fn validator_user() -> Value {
    json!({"userName":"julien.vonrueden@ondricka.us","active":true,"displayName":"NDSQQTECVAAC","title":"CJSGUNOAAMMQ",
     "emails":[{"type":"work","value":"thaddeus@hammes.info","primary":true}],"preferredLanguage":"hi",
     "name":{"givenName":"Elfrieda","familyName":"Urban","formatted":"Myah","middleName":"Cindy",
             "honorificPrefix":"Minerva","honorificSuffix":"Micaela"},
     "addresses":[{"type":"work","formatted":"25928 Katlyn Row","streetAddress":"25928 Katlyn Row","locality":"Freetown","region":"Western Area",
                   "postalCode":"cx47 4mz","primary":true,"country":"Sierra Leone"}],
     "phoneNumbers":[{"type":"work","value":"10-040-1308","primary":true},{"type":"mobile","value":"10-040-1308"},
                     {"type":"fax","value":"10-040-1308"}],
     "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"QTRMFZZDHXZQ","department":"JXWJCFPTUEUS",
       "costCenter":"VYVTNGWOXRRA","organization":"OCYUAPBTQHXJ","division":"GZQVGQWWZQSV","manager":{"value":"XYMKVVRYDIOO"}},
     "roles":[{"primary":"True","display":"MRONYWGFFHXQ","value":"WDEIISGWWQBE","type":"XVTUOHMYUFRL"}],
     "userType":"CGKBHJQMWSIT","nickName":"NEVUQKWHRQUO","locale":"RJWNTUNNOHNZ","timezone":"America/Guayaquil","profileUrl":"OQCVJKLFMNGK",
     "schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]})
}

/// §2.2, Okta's create, literal: `password`, `groups: []`, the Okta id as `externalId`.
pub fn okta_create_user(user_name: &str, external_id: &str) -> Value {
    json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
     "userName":user_name,
     "name":{"givenName":"Test","familyName":"User"},
     "emails":[{"primary":true,"value":user_name,"type":"work"}],
     "displayName":"Test User","locale":"en-US",
     "externalId":external_id,
     "groups":[],
     "password":"1mz050nq",
     "active":true})
}
