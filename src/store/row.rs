//! The bytes of a user or group row (format 3), and reading them in place.
//!
//! ```text
//! 0        format byte: 3 (2: the same, with the attributes as plain text)
//! 1..17    id (u128, big-endian)
//! 17..25   version (u64, big-endian)
//! 25       flags: 1 roles derived, 2 has the enterprise extension, 4 has a manager
//! 26..     created, last modified: each one length byte, then UTF-8
//! rest     the attributes: one compact JSON object, core attributes first and extension
//!          objects (keyed by their URN) after them, as a resource is rendered; packed with
//!          [`Dictionary::ResourcesV1`](super::pack)
//! ```
//!
//! The fixed header lets a read find the id, version and timestamps without parsing, and the
//! attributes are stored in response order, so a response copies their text whole
//! ([`StoredView`]). Packing makes a typical Entra user's row less than half as large, which
//! means fewer pages to write per change and a smaller file. Format 2 rows (scimd 0.x before
//! packing) are read as they are and become format 3 when next written. Format 1 (the
//! [`codec`](super::codec) JSON envelope of the whole `StoredResource`) is read only to migrate
//! it.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::StoreError;
use super::codec;
use super::pack::{self, Dictionary};
use super::records::StoredResource;
use crate::domain::{ENTERPRISE_USER, ResourceId};

const FORMAT_ROW_V2: u8 = 2;
const FORMAT_ROW_PACKED: u8 = 3;
const FIXED: usize = 26;

const ROLES_DERIVED: u8 = 1;
const HAS_EXTENSION: u8 = 2;
const HAS_MANAGER: u8 = 4;

/// A stored row read in place (its attributes unpacked).
#[derive(Debug, Clone)]
pub struct StoredView<'a> {
    pub id: ResourceId,
    pub version: u64,
    pub created: &'a str,
    pub last_modified: &'a str,
    /// Whether the enterprise extension object is among the attributes.
    pub has_extension: bool,
    /// Whether that object holds a `manager` (rendered with a `$ref`).
    pub has_manager: bool,
    /// The attributes: a compact JSON object in response order.
    pub attributes: Cow<'a, str>,
}

impl StoredView<'_> {
    /// The attributes' members without the enclosing braces: empty, or `"k":v,…`.
    pub fn attribute_members(&self) -> &str {
        self.attributes.get(1..self.attributes.len().saturating_sub(1)).unwrap_or("")
    }
}

fn push_short(out: &mut Vec<u8>, text: &str, what: &str) -> Result<(), StoreError> {
    let len = u8::try_from(text.len()).map_err(|_| {
        StoreError::Corrupt(format!("cannot store a {what} of {} bytes", text.len()))
    })?;
    out.push(len);
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// Encodes a resource as a format-3 row. A top-level `schemas` is not stored (it is rendered
/// from the attributes present).
pub fn encode(resource: &StoredResource) -> Result<Vec<u8>, StoreError> {
    encode_as(resource, FORMAT_ROW_PACKED)
}

fn encode_as(resource: &StoredResource, format: u8) -> Result<Vec<u8>, StoreError> {
    let Value::Object(attributes) = &resource.attributes else {
        return Err(StoreError::Corrupt("a resource's attributes must be an object".into()));
    };
    let extension = attributes.get(ENTERPRISE_USER);
    let mut flags = 0;
    if resource.roles_derived {
        flags |= ROLES_DERIVED;
    }
    if extension.is_some() {
        flags |= HAS_EXTENSION;
    }
    if extension.and_then(|e| e.get("manager")).is_some() {
        flags |= HAS_MANAGER;
    }
    let mut out = Vec::with_capacity(FIXED + 64 + 512);
    out.push(format);
    out.extend_from_slice(&resource.id.to_bytes());
    out.extend_from_slice(&resource.version.to_be_bytes());
    out.push(flags);
    push_short(&mut out, &resource.created, "creation time")?;
    push_short(&mut out, &resource.last_modified, "modification time")?;
    let core = attributes.iter().filter(|(k, _)| !k.starts_with("urn:") && *k != "schemas");
    let extensions = attributes.iter().filter(|(k, _)| k.starts_with("urn:"));
    let mut text = Vec::with_capacity(1024);
    text.push(b'{');
    for (i, (key, value)) in core.chain(extensions).enumerate() {
        if i > 0 {
            text.push(b',');
        }
        serde_json::to_writer(&mut text, key)
            .and_then(|()| {
                text.push(b':');
                serde_json::to_writer(&mut text, value)
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot encode a row: {e}")))?;
    }
    text.push(b'}');
    if format == FORMAT_ROW_PACKED {
        pack::pack(&text, Dictionary::ResourcesV1, &mut out)?;
    } else {
        out.extend_from_slice(&text);
    }
    Ok(out)
}

/// Reads a row in place. `what` names the row in errors.
pub fn view<'a>(bytes: &'a [u8], what: &str) -> Result<StoredView<'a>, StoreError> {
    let corrupt = |why: &str| StoreError::Corrupt(format!("{what}: {why}"));
    let (header, rest) = match bytes.split_first() {
        Some((&(FORMAT_ROW_V2 | FORMAT_ROW_PACKED), _)) if bytes.len() >= FIXED => {
            bytes.split_at(FIXED)
        }
        Some((&(FORMAT_ROW_V2 | FORMAT_ROW_PACKED), _)) => return Err(corrupt("short row")),
        Some((format, _)) => return Err(corrupt(&format!("unknown row format {format}"))),
        None => return Err(corrupt("empty row")),
    };
    let fixed = |range: std::ops::Range<usize>| header.get(range).unwrap_or_default();
    let id = u128::from_be_bytes(fixed(1..17).try_into().map_err(|_| corrupt("short row"))?);
    let version = u64::from_be_bytes(fixed(17..25).try_into().map_err(|_| corrupt("short row"))?);
    let flags = header.get(25).copied().unwrap_or_default();
    let short = |bytes: &'a [u8]| -> Result<(&'a str, &'a [u8]), StoreError> {
        let (&len, rest) = bytes.split_first().ok_or_else(|| corrupt("short row"))?;
        let (text, rest) = rest.split_at_checked(len.into()).ok_or_else(|| corrupt("short row"))?;
        Ok((std::str::from_utf8(text).map_err(|_| corrupt("a time is not UTF-8"))?, rest))
    };
    let (created, rest) = short(rest)?;
    let (last_modified, rest) = short(rest)?;
    let not_utf8 = || corrupt("the attributes are not UTF-8");
    let attributes = if header[0] == FORMAT_ROW_PACKED {
        let text = pack::unpack(rest, Dictionary::ResourcesV1, what)?;
        Cow::Owned(String::from_utf8(text).map_err(|_| not_utf8())?)
    } else {
        Cow::Borrowed(std::str::from_utf8(rest).map_err(|_| not_utf8())?)
    };
    if !(attributes.starts_with('{') && attributes.ends_with('}')) {
        return Err(corrupt("the attributes are not an object"));
    }
    Ok(StoredView {
        id: ResourceId(id),
        version,
        created,
        last_modified,
        has_extension: flags & HAS_EXTENSION != 0,
        has_manager: flags & HAS_MANAGER != 0,
        attributes,
    })
}

/// The value of the top-level string attribute `name` in a row's attributes text, reading
/// nothing else into memory (a group's `displayName` for a user's `groups`).
pub fn string_attribute(attributes: &str, name: &str) -> Option<String> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    struct Find<'n>(&'n str);
    impl<'de> Visitor<'de> for Find<'_> {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of attributes")
        }
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
            // Every entry is consumed: the parser checks the object's end afterwards.
            let mut found = None;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if found.is_none() && key == self.0 {
                    found = map.next_value::<Value>()?.as_str().map(str::to_string);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    let mut de = serde_json::Deserializer::from_str(attributes);
    de.deserialize_map(Find(name)).ok().flatten()
}

/// Decodes a row into an owned resource: format 3 or 2, or format 1 (only met while migrating).
pub fn decode(bytes: &[u8], what: &str) -> Result<StoredResource, StoreError> {
    if !matches!(bytes.first(), Some(&(FORMAT_ROW_V2 | FORMAT_ROW_PACKED))) {
        return codec::decode(bytes, what);
    }
    let view = view(bytes, what)?;
    let attributes: Map<String, Value> = serde_json::from_str(&view.attributes)
        .map_err(|e| StoreError::Corrupt(format!("{what}: undecodable attributes: {e}")))?;
    Ok(StoredResource {
        id: view.id,
        version: view.version,
        created: view.created.to_string(),
        last_modified: view.last_modified.to_string(),
        attributes: Value::Object(attributes),
        roles_derived: bytes.get(25).is_some_and(|f| f & ROLES_DERIVED != 0),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn resource(attributes: Value, roles_derived: bool) -> StoredResource {
        StoredResource {
            id: ResourceId::new_random(),
            version: 42,
            created: "2026-01-01T00:00:00.000Z".into(),
            last_modified: "2026-02-03T04:05:06.789Z".into(),
            attributes,
            roles_derived,
        }
    }

    #[test]
    fn round_trips_in_response_order() {
        let r = resource(
            json!({
                ENTERPRISE_USER: {"department": "Sales", "manager": {"value": "m"}},
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "b\"jensen\u{e9}",
                "emails": [{"value": "b@example.org"}],
            }),
            true,
        );
        let bytes = encode(&r).unwrap();
        let back = decode(&bytes, "User").unwrap();
        assert_eq!(back.id, r.id);
        assert_eq!((back.version, back.roles_derived), (42, true));
        assert_eq!(
            (back.created.as_str(), back.last_modified.as_str()),
            ("2026-01-01T00:00:00.000Z", "2026-02-03T04:05:06.789Z")
        );
        let keys: Vec<&String> = back.attributes.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["userName", "emails", ENTERPRISE_USER]);
        assert_eq!(back.attributes["userName"], "b\"jensen\u{e9}");

        let v = view(&bytes, "User").unwrap();
        assert!(v.has_extension && v.has_manager);
        assert_eq!(string_attribute(&v.attributes, "userName").as_deref(), Some("b\"jensen\u{e9}"));
        assert_eq!(string_attribute(&v.attributes, "emails"), None);
        assert_eq!(string_attribute(&v.attributes, "title"), None);
        assert!(v.attribute_members().starts_with("\"userName\":"));

        let plain = encode(&resource(json!({}), false)).unwrap();
        let v = view(&plain, "Group").unwrap();
        assert!(!v.has_extension && !v.has_manager);
        assert_eq!((&*v.attributes, v.attribute_members()), ("{}", ""));
        assert!(!decode(&plain, "Group").unwrap().roles_derived);
    }

    #[test]
    fn packs_the_attributes_and_still_reads_format_2() {
        let r = resource(
            json!({"userName": "adele.vance@contoso.example", "active": true,
                   "emails": [{"primary": true, "type": "work", "value": "adele.vance@contoso.example"}],
                   "name": {"formatted": "Adele Vance", "familyName": "Vance", "givenName": "Adele"}}),
            false,
        );
        let packed = encode(&r).unwrap();
        let plain = encode_as(&r, FORMAT_ROW_V2).unwrap();
        assert_eq!((packed[0], plain[0]), (FORMAT_ROW_PACKED, FORMAT_ROW_V2));
        assert!(packed.len() * 10 < plain.len() * 8, "{} vs {}", packed.len(), plain.len());
        assert_eq!(decode(&plain, "User").unwrap(), r);
        assert_eq!(decode(&packed, "User").unwrap(), r);
        let (a, b) = (view(&packed, "User").unwrap(), view(&plain, "User").unwrap());
        assert!(matches!(a.attributes, Cow::Owned(_)) && matches!(b.attributes, Cow::Borrowed(_)));
        assert_eq!(a.attributes, b.attributes);
        assert_eq!((a.id, a.version, a.created), (b.id, b.version, b.created));
    }

    #[test]
    fn reads_format_1_and_refuses_damage() {
        let r = resource(json!({"userName": "old"}), false);
        let old = codec::encode(&r).unwrap();
        assert_eq!(decode(&old, "User").unwrap(), r);
        assert!(view(&old, "User").is_err());
        let bytes = encode(&r).unwrap();
        for cut in [0, 1, 20, 26, 30, bytes.len() - 1] {
            assert!(decode(&bytes[..cut], "User").is_err(), "cut at {cut}");
        }
        assert!(encode(&resource(json!([1]), false)).is_err());
    }
}
