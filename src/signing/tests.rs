//! The key ring checked against an independent JOSE library: every SET it signs is verified by
//! `jsonwebtoken` (RustCrypto's P-256) with a key built from the published JWKS alone, and the
//! key file's mode, format and life cycle (rotation, pruning, reopening) are checked on disk.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::{KEY_FILE, KeyRing, SigningError};

const DAY: Duration = Duration::from_secs(86_400);

fn claims() -> Value {
    json!({
        "iss": "https://scim.example.org",
        "iat": 1_767_225_600,
        "jti": "4d3559ec67504aaba65d40b0363faad8",
        "aud": "https://wiki.example.org/scim-events",
        "txn": "b4c1d1f0-7e7a-4d8e-9f1a-2b3c4d5e6f70",
        "sub_id": {"format": "scim", "uri": "/Users/44f6142df96bd6ab61e7521d9", "id": "44f6142df96bd6ab61e7521d9"},
        "events": {"urn:ietf:params:scim:event:prov:deactivate": {}}
    })
}

/// What a receiver checks: ES256, no `exp` (SETs carry none), any audience.
fn validation() -> Validation {
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation
}

/// Verifies `jws` as a receiver would: the key named by the header's `kid`, found in `jwks`
/// and built from its `x` and `y`. Returns the header and the claims.
fn verify(jws: &str, jwks: &Value) -> jsonwebtoken::errors::Result<(jsonwebtoken::Header, Value)> {
    let header = jsonwebtoken::decode_header(jws)?;
    let kid = header.kid.clone().expect("a kid in the header");
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} not in {jwks}"));
    let key = DecodingKey::from_ec_components(
        jwk["x"].as_str().expect("x"),
        jwk["y"].as_str().expect("y"),
    )?;
    let data = jsonwebtoken::decode::<Value>(jws, &key, &validation())?;
    Ok((data.header, data.claims))
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).expect("key file").permissions().mode() & 0o777
}

#[test]
fn a_signed_set_verifies_with_the_published_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ring = KeyRing::open(dir.path()).expect("ring");
    let jws = ring.sign(&claims()).expect("signed");

    let (header, verified) = verify(&jws, &ring.jwks()).expect("jsonwebtoken verifies it");
    assert_eq!(header.typ.as_deref(), Some("secevent+jwt"));
    assert_eq!(header.kid.as_deref(), Some(ring.newest_kid()));
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(verified, claims());

    // The header is exactly the three members, in this order; the signature is r‖s.
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(parts.len(), 3, "{jws}");
    let header = BASE64URL.decode(parts[0]).expect("base64url header");
    let expected =
        format!(r#"{{"alg":"ES256","typ":"secevent+jwt","kid":"{}"}}"#, ring.newest_kid());
    assert_eq!(String::from_utf8(header).expect("UTF-8"), expected);
    assert_eq!(BASE64URL.decode(parts[2]).expect("base64url signature").len(), 64);
    assert!(!jws.contains('='), "padding in {jws}");
}

#[test]
fn the_jwks_has_the_published_shape_and_the_kid_is_the_rfc_7638_thumbprint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ring = KeyRing::open(dir.path()).expect("ring");
    let jwks = ring.jwks();
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{jwks}");
    let key = &keys[0];
    let members: Vec<&str> = key.as_object().expect("a JWK").keys().map(String::as_str).collect();
    assert_eq!(members, ["kty", "crv", "x", "y", "kid", "use", "alg"]);
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], "ES256");
    for coordinate in ["x", "y"] {
        let bytes = BASE64URL.decode(key[coordinate].as_str().expect("coordinate"));
        assert_eq!(bytes.expect("base64url").len(), 32, "{coordinate} of {key}");
    }
    let jwk: Jwk = serde_json::from_value(key.clone()).expect("jsonwebtoken reads the JWK");
    let thumbprint = jwk.thumbprint(ThumbprintHash::SHA256).expect("thumbprint");
    assert_eq!(key["kid"], thumbprint);
    assert_eq!(ring.newest_kid(), thumbprint);
}

#[test]
fn a_tampered_set_does_not_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ring = KeyRing::open(dir.path()).expect("ring");
    let jws = ring.sign(&claims()).expect("signed");
    let parts: Vec<&str> = jws.split('.').collect();

    let mut forged = claims();
    forged["events"] = json!({"urn:ietf:params:scim:event:prov:activate": {}});
    let payload = BASE64URL.encode(serde_json::to_vec(&forged).expect("json"));
    let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
    let error = verify(&tampered, &ring.jwks()).expect_err("a changed payload must not verify");
    assert_eq!(*error.kind(), jsonwebtoken::errors::ErrorKind::InvalidSignature, "{error}");

    // A signature from another key, under this key's kid, fails too.
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = KeyRing::open(other_dir.path()).expect("another ring");
    let foreign = other.sign(&claims()).expect("signed");
    let foreign_signature = foreign.rsplit('.').next().expect("signature");
    let swapped = format!("{}.{}.{foreign_signature}", parts[0], parts[1]);
    let error = verify(&swapped, &ring.jwks()).expect_err("another key's signature");
    assert_eq!(*error.kind(), jsonwebtoken::errors::ErrorKind::InvalidSignature, "{error}");
}

#[test]
fn a_set_signed_before_a_rotation_verifies_with_the_jwks_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ring = KeyRing::open(dir.path()).expect("ring");
    let first_kid = ring.newest_kid().to_string();
    let before = ring.sign(&claims()).expect("signed");

    let new_kid = ring.rotate(SystemTime::now()).expect("rotated");
    assert_ne!(new_kid, first_kid);
    assert_eq!(ring.newest_kid(), new_kid);
    assert_eq!(ring.kids().collect::<Vec<_>>(), [first_kid.as_str(), new_kid.as_str()]);
    let after = ring.sign(&claims()).expect("signed");

    let jwks = ring.jwks();
    let (header, verified) = verify(&before, &jwks).expect("the old SET still verifies");
    assert_eq!(header.kid.as_deref(), Some(first_kid.as_str()));
    assert_eq!(verified, claims());
    let (header, _) = verify(&after, &jwks).expect("the new SET verifies");
    assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()));

    // The rotation is on disk: a reopened ring has both keys and signs with the new one.
    let reopened = KeyRing::open(dir.path()).expect("reopened");
    assert_eq!(reopened.kids().collect::<Vec<_>>(), [first_kid.as_str(), new_kid.as_str()]);
    assert_eq!(reopened.newest_kid(), new_kid);
    assert_eq!(mode_of(&dir.path().join(KEY_FILE)), 0o600);
}

#[test]
fn prune_drops_only_keys_superseded_longer_ago_than_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let start = SystemTime::now();
    let mut ring = KeyRing::open(dir.path()).expect("ring");
    let a = ring.newest_kid().to_string();
    let b = ring.rotate(start + DAY).expect("rotated");
    let c = ring.rotate(start + 10 * DAY).expect("rotated");
    let keep = 7 * DAY;

    // a was superseded on day 1, b on day 10: on day 8 both are within a week.
    assert!(
        ring.prune(start + 8 * DAY - Duration::from_secs(60), keep).expect("pruned").is_empty()
    );
    assert_eq!(ring.kids().count(), 3);
    // On day 9 a has been superseded for 8 days; b only on day 10.
    assert_eq!(ring.prune(start + 9 * DAY, keep).expect("pruned"), [a.as_str()]);
    assert_eq!(ring.kids().collect::<Vec<_>>(), [b.as_str(), c.as_str()]);
    // Day 18: b goes; c, the newest, is never dropped however old.
    assert_eq!(ring.prune(start + 18 * DAY, keep).expect("pruned"), [b.as_str()]);
    assert!(ring.prune(start + 1000 * DAY, keep).expect("pruned").is_empty());
    assert_eq!(ring.kids().collect::<Vec<_>>(), [c.as_str()]);
    assert_eq!(ring.jwks()["keys"].as_array().expect("keys").len(), 1);

    let reopened = KeyRing::open(dir.path()).expect("reopened");
    assert_eq!(reopened.kids().collect::<Vec<_>>(), [c.as_str()]);
    assert_eq!(mode_of(&dir.path().join(KEY_FILE)), 0o600);
}

#[test]
fn a_reopened_ring_signs_with_the_same_kid_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = KeyRing::open(dir.path()).expect("ring");
    let path = dir.path().join(KEY_FILE);
    assert_eq!(mode_of(&path), 0o600);
    assert!(!dir.path().join("event-signing-keys.json.tmp").exists(), "temporary file left");

    let reopened = KeyRing::open(dir.path()).expect("reopened");
    assert_eq!(reopened.newest_kid(), first.newest_kid());
    let jws = reopened.sign(&claims()).expect("signed");
    // The first ring's JWKS verifies what the reopened one signs: the same private key.
    let (_, verified) = verify(&jws, &first.jwks()).expect("verifies");
    assert_eq!(verified, claims());
}

#[test]
fn a_key_file_others_can_read_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ring = KeyRing::open(dir.path()).expect("ring");
    let path = dir.path().join(KEY_FILE);
    let pkcs8 = stored_pkcs8(&path);
    for mode in [0o644, 0o640, 0o604, 0o620] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let error = KeyRing::open(dir.path()).expect_err("an exposed key file");
        assert!(matches!(error, SigningError::Exposed { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("chmod 600"), "{message}");
        assert!(message.contains(&format!("{mode:03o}")), "{message}");
        assert!(!message.contains(&pkcs8), "key bytes in {message}");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let reopened = KeyRing::open(dir.path()).expect("0600 is accepted again");
    assert_eq!(reopened.newest_kid(), ring.newest_kid());
}

/// The first key's base64url PKCS#8 as the file stores it.
fn stored_pkcs8(path: &Path) -> String {
    let file: Value = serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json");
    file["keys"][0]["pkcs8"].as_str().expect("pkcs8").to_string()
}

/// Writes `text` as the key file (mode 0600) and returns the error opening it gives.
fn open_with(dir: &Path, text: &str) -> String {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(KEY_FILE);
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .expect("write the key file");
    std::io::Write::write_all(&mut file, text.as_bytes()).expect("write");
    let error = KeyRing::open(dir).expect_err("a malformed key file");
    assert!(matches!(error, SigningError::Malformed { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    message
}

#[test]
fn a_malformed_key_file_is_refused_naming_the_fault_and_never_the_key() {
    let source = tempfile::tempdir().expect("tempdir");
    let ring = KeyRing::open(source.path()).expect("ring");
    let good = std::fs::read_to_string(source.path().join(KEY_FILE)).expect("read");
    let pkcs8 = stored_pkcs8(&source.path().join(KEY_FILE));
    let kid = ring.newest_kid().to_string();
    let entry = |kid: &str, created: &str, pkcs8: &Value| {
        json!({"keys": [{"kid": kid, "created": created, "pkcs8": pkcs8}]}).to_string()
    };
    let p384 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        &ring::rand::SystemRandom::new(),
    )
    .expect("a P-384 key");
    let p384 = BASE64URL.encode(p384.as_ref());
    let now = "2026-05-01T10:00:00Z";
    let cases: Vec<(String, &str)> = vec![
        (good[..good.len() / 2].to_string(), "not JSON"),
        ("[]".into(), "no \"keys\" member"),
        (json!({"keys": pkcs8}).to_string(), "\"keys\" is not an array"),
        (json!({"keys": []}).to_string(), "\"keys\" is empty"),
        (json!({"keys": [{"created": now, "pkcs8": pkcs8}]}).to_string(), "keys[0] has no \"kid\""),
        (entry(&kid, now, &json!(7)), "keys[0].pkcs8 is not a string"),
        (entry(&kid, "yesterday", &json!(pkcs8)), "keys[0].created is not an RFC 3339"),
        (entry(&kid, now, &json!(format!("{pkcs8}=="))), "keys[0].pkcs8 is not base64url"),
        (entry(&kid, now, &json!(pkcs8[..40])), "keys[0].pkcs8 is not a P-256 key"),
        (entry(&kid, now, &json!(p384)), "keys[0].pkcs8 is not a P-256 key"),
        (entry("scimd-2026-05", now, &json!(pkcs8)), "keys[0].kid is \"scimd-2026-05\""),
        (
            json!({"keys": [
                {"kid": kid, "created": now, "pkcs8": pkcs8},
                {"kid": kid, "created": now, "pkcs8": pkcs8}
            ]})
            .to_string(),
            "keys[1] is the same key as keys[0]",
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (text, expected) in cases {
        let message = open_with(dir.path(), &text);
        assert!(message.contains(expected), "expected {expected:?} in: {message}");
        assert!(!message.contains(&pkcs8[..20]), "key bytes in: {message}");
        assert!(!message.contains(&p384[..20]), "key bytes in: {message}");
    }
    // The good file still opens, to the same key.
    let message = open_with(dir.path(), "{");
    assert!(message.contains("not JSON"), "{message}");
    std::fs::write(dir.path().join(KEY_FILE), &good).expect("restore the file");
    assert_eq!(KeyRing::open(dir.path()).expect("the good file").newest_kid(), kid);
}

#[test]
fn the_debug_form_names_the_kids_and_hides_the_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ring = KeyRing::open(dir.path()).expect("ring");
    let pkcs8 = stored_pkcs8(&dir.path().join(KEY_FILE));
    let shown = format!("{ring:?}");
    assert!(shown.contains(ring.newest_kid()), "{shown}");
    assert!(!shown.contains(&pkcs8[..20]), "{shown}");
}
