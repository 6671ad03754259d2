//! The value envelope: one format byte, then JSON.
//!
//! Decoding returns a `Result` and never panics, so a damaged or foreign row surfaces as a
//! `StoreError::Corrupt` (a 500 for that request) instead of taking the process down.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

/// Format byte of an envelope holding serde_json bytes.
const FORMAT_JSON_V1: u8 = 1;

/// Encodes `value` as an envelope.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(256);
    out.push(FORMAT_JSON_V1);
    serde_json::to_writer(&mut out, value)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode a row: {e}")))?;
    Ok(out)
}

/// Decodes an envelope written by `encode`. `what` names the row in the error message.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&FORMAT_JSON_V1, json)) => serde_json::from_slice(json)
            .map_err(|e| StoreError::Corrupt(format!("{what}: undecodable row: {e}"))),
        Some((format, _)) => {
            Err(StoreError::Corrupt(format!("{what}: unknown row format {format}")))
        }
        None => Err(StoreError::Corrupt(format!("{what}: empty row"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let bytes = encode(&serde_json::json!({"a": 1})).unwrap();
        let back: serde_json::Value = decode(&bytes, "row").unwrap();
        assert_eq!(back["a"], 1);
        assert!(decode::<serde_json::Value>(&[], "row").is_err());
        assert!(decode::<serde_json::Value>(&[9, b'{'], "row").is_err());
        assert!(decode::<serde_json::Value>(&[1, b'{'], "row").is_err());
    }
}
