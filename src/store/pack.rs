//! Compression of the text scimd stores: LZ4 blocks primed with a fixed dictionary.
//!
//! A user row or a log entry is a few hundred bytes of JSON, too little for a compressor to
//! find repeats within it; most of its bytes are the attribute names and the words every row
//! shares (`"emails":[{"primary":true,"type":"work","value":`). Priming the compressor with a
//! dictionary of that text lets each of those runs become a 3-byte back-reference, which more
//! than halves a typical row (`cargo test pack -- --nocapture` prints the ratios).
//!
//! ```text
//! 0..4   the text's length (u32, little-endian)
//! 4..    the LZ4 block
//! ```
//!
//! A dictionary is part of the on-disk format: a row packed with it can only be read with the
//! same bytes. They are therefore frozen; a better dictionary is a new [`Dictionary`] variant and
//! a new row format byte, and the test `dictionaries_are_frozen` fails when one changes.

use super::StoreError;

/// Text longer than this is refused on unpacking: a damaged length must not make a read
/// allocate gigabytes. Far above any resource scimd accepts (requests are capped well below).
const MAX_UNPACKED: usize = 64 * 1024 * 1024;

/// Which frozen dictionary a packed value was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dictionary {
    /// The attributes of users and groups, in the order rows store them.
    ResourcesV1,
    /// Provisioning log entries.
    LogV1,
}

impl Dictionary {
    fn bytes(self) -> &'static [u8] {
        match self {
            Dictionary::ResourcesV1 => RESOURCES_V1.as_bytes(),
            Dictionary::LogV1 => LOG_V1.as_bytes(),
        }
    }
}

/// User and group attribute names from RFC 7643 §4 and the enterprise extension, with the
/// values IdPs send most (types, `primary`, booleans), laid out as a stored row orders them.
const RESOURCES_V1: &str = concat!(
    r#"{"displayName":"","members":[{"value":"","type":"Group"},{"value":"","type":"User"}]}"#,
    r#"{"externalId":"","userName":"","active":false,"active":true,"displayName":"","#,
    r#""nickName":"","profileUrl":"https://","title":"","userType":"Employee","userType":"","#,
    r#""preferredLanguage":"en-US","locale":"en-US","timezone":"America/","#,
    r#""name":{"formatted":"","familyName":"","givenName":"","middleName":"","#,
    r#""honorificPrefix":"","honorificSuffix":""},"#,
    r#""emails":[{"primary":true,"type":"work","value":"@"},{"type":"home","value":""}],"#,
    r#""phoneNumbers":[{"type":"work","value":"+1 "},{"type":"mobile","value":"+1 "},"#,
    r#"{"type":"fax","value":""}],"ims":[],"photos":[{"type":"photo","value":"https://"}],"#,
    r#""addresses":[{"type":"work","formatted":"","streetAddress":"","locality":"","region":"","#,
    r#""postalCode":"","country":"US","primary":true}],"#,
    r#""entitlements":[],"x509Certificates":[],"#,
    r#""roles":[{"value":"","display":"","type":"userType","primary":true}],"#,
    r#""urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"#,
    r#""employeeNumber":"","costCenter":"","organization":"","division":"","department":"","#,
    r#""manager":{"value":""}}}"#,
);

/// The fields of a log entry in serialisation order, with the operations, resource types and
/// the wording scimd writes most.
const LOG_V1: &str = concat!(
    r#"{"time":"2026-01-01T00:00:00.000Z","token":"","operation":"refused","#,
    r#""operation":"delete","operation":"replace","operation":"patch","#,
    r#""resource_type":"Group","resource_type":"User","operation":"create","#,
    r#""resource_type":"User","resource_id":"","name":"","status":409,"status":400,"#,
    r#""scim_type":"uniqueness","scim_type":"invalidValue","detail":"","#,
    r#""roles":"default roles (no userType): ","roles":"sent by the IdP: ","#,
    r#""status":204,"status":200,"status":201,"roles":"from userType '': "}"#,
);

/// Appends `text` packed with `dictionary` to `out`.
pub fn pack(text: &[u8], dictionary: Dictionary, out: &mut Vec<u8>) -> Result<(), StoreError> {
    let len = u32::try_from(text.len())
        .ok()
        .filter(|&len| len as usize <= MAX_UNPACKED)
        .ok_or_else(|| StoreError::Corrupt(format!("cannot store {} bytes", text.len())))?;
    out.extend_from_slice(&len.to_le_bytes());
    // Compress straight into `out` (no intermediate buffer), then trim to what was written.
    let start = out.len();
    out.resize(start + lz4_flex::block::get_maximum_output_size(text.len()), 0);
    let written =
        lz4_flex::block::compress_into_with_dict(text, &mut out[start..], dictionary.bytes())
            .map_err(|e| StoreError::Corrupt(format!("cannot pack {} bytes: {e}", text.len())))?;
    out.truncate(start + written);
    Ok(())
}

/// The text `pack` packed. `what` names the row in errors.
pub fn unpack(packed: &[u8], dictionary: Dictionary, what: &str) -> Result<Vec<u8>, StoreError> {
    let corrupt = |why: String| StoreError::Corrupt(format!("{what}: {why}"));
    let (len, block) =
        packed.split_first_chunk::<4>().ok_or_else(|| corrupt("short row".into()))?;
    let len = u32::from_le_bytes(*len) as usize;
    if len > MAX_UNPACKED {
        return Err(corrupt(format!("a packed length of {len} bytes")));
    }
    let text = lz4_flex::block::decompress_with_dict(block, len, dictionary.bytes())
        .map_err(|e| corrupt(format!("undecodable packed text: {e}")))?;
    if text.len() != len {
        return Err(corrupt("packed text of the wrong length".into()));
    }
    Ok(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ENTRA_USER: &str = r#"{"externalId":"5a637a54-3d6a-59bf-8db1-86fae52f325b","userName":"adele.vance@contoso.example","active":true,"displayName":"Adele Vance","title":"Engineer","userType":"Employee","preferredLanguage":"en-US","emails":[{"primary":true,"type":"work","value":"adele.vance@contoso.example"}],"name":{"formatted":"Adele Vance","familyName":"Vance","givenName":"Adele"},"phoneNumbers":[{"type":"work","value":"+1 425 555 0100"},{"type":"mobile","value":"+1 206 555 0100"}],"addresses":[{"type":"work","streetAddress":"1 Main St","locality":"Redmond","region":"WA","postalCode":"98052","country":"US","primary":true}],"roles":[{"value":"member","type":"userType","primary":true}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"100000","department":"Engineering","organization":"Contoso","division":"Cloud","costCenter":"CC-0"}}"#;

    #[test]
    fn round_trips_and_shrinks_typical_rows() {
        let log = r#"{"time":"2026-11-24T10:00:00.123Z","token":"entra","operation":"create","resource_type":"User","resource_id":"3f5ef7f6-82fe-4022-a8f9-e11623df239d","name":"adele.vance@contoso.example","status":201,"roles":"from userType 'Employee': member"}"#;
        for (text, dictionary, at_most) in [
            (ENTRA_USER, Dictionary::ResourcesV1, 0.45),
            (log, Dictionary::LogV1, 0.65),
            ("", Dictionary::ResourcesV1, f64::INFINITY),
            ("{}", Dictionary::LogV1, f64::INFINITY),
        ] {
            let mut packed = vec![7];
            pack(text.as_bytes(), dictionary, &mut packed).unwrap();
            let ratio = (packed.len() - 1) as f64 / text.len().max(1) as f64;
            println!("{dictionary:?}: {} -> {} bytes ({ratio:.2})", text.len(), packed.len() - 1);
            assert!(ratio <= at_most, "{dictionary:?} packed {text} to {ratio:.2}");
            assert_eq!(unpack(&packed[1..], dictionary, "row").unwrap(), text.as_bytes());
        }
    }

    #[test]
    fn refuses_damage_without_allocating_for_it() {
        let mut packed = Vec::new();
        pack(ENTRA_USER.as_bytes(), Dictionary::ResourcesV1, &mut packed).unwrap();
        assert!(unpack(&packed[..3], Dictionary::ResourcesV1, "row").is_err());
        for cut in [4, 10, packed.len() - 1] {
            assert!(unpack(&packed[..cut], Dictionary::ResourcesV1, "row").is_err(), "{cut}");
        }
        let mut huge = packed.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            unpack(&huge, Dictionary::ResourcesV1, "row")
                .unwrap_err()
                .to_string()
                .contains("length")
        );
        let mut longer = packed.clone();
        longer[..4].copy_from_slice(&(ENTRA_USER.len() as u32 + 1).to_le_bytes());
        assert!(unpack(&longer, Dictionary::ResourcesV1, "row").is_err());
        // The wrong dictionary never yields the text.
        assert_ne!(
            unpack(&packed, Dictionary::LogV1, "row").ok().as_deref(),
            Some(ENTRA_USER.as_bytes())
        );
    }

    /// Rows on disk were packed with these exact bytes. Changing one makes those rows
    /// unreadable: add a new dictionary and row format instead.
    #[test]
    fn dictionaries_are_frozen() {
        let fnv = |bytes: &[u8]| {
            bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            })
        };
        let fingerprints = [fnv(Dictionary::ResourcesV1.bytes()), fnv(Dictionary::LogV1.bytes())];
        assert_eq!(
            fingerprints,
            [10_763_458_028_157_389_221, 11_719_152_283_920_368_791],
            "a frozen dictionary changed"
        );
    }
}
