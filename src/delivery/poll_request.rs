//! The body of an RFC 8936 poll request (§2.4), checked: `ack`, `setErrs`, `maxEvents`,
//! `returnImmediately`. Pure: every refusal is a sentence naming the member at fault, which
//! the endpoint answers as `400 {"err":"invalid_request","description":…}`.
//!
//! Members are case-sensitive as the RFC spells them; unknown members are ignored (the RFC
//! allows extensions) and a `null` member counts as absent. An empty body is a poll with every
//! default: wait for events, up to [`MAX_EVENTS_CAP`] of them.

use serde_json::Value;

/// The most SETs one poll answers; also what a poll without `maxEvents` gets at most.
pub const MAX_EVENTS_CAP: usize = 1000;

/// How much of a receiver's `setErrs` description is kept (it is shown by `scimd events`).
const MAX_DESCRIPTION_CHARS: usize = 200;

/// A receiver's report that it could not use one SET (RFC 8936 §2.4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetError {
    pub jti: String,
    pub err: String,
    pub description: Option<String>,
}

impl SetError {
    /// `err: description` as recorded for `scimd events status`: bounded and escaped, since
    /// it is the receiver's text.
    pub fn recorded(&self) -> String {
        let text = match &self.description {
            Some(d) => format!("{}: {d}", self.err),
            None => self.err.clone(),
        };
        let cut: String = text.trim().chars().take(MAX_DESCRIPTION_CHARS).collect();
        crate::domain::text::escape(&cut).into_owned()
    }
}

/// One poll, as the receiver sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollRequest {
    /// The `jti`s the receiver has stored.
    pub ack: Vec<String>,
    /// The SETs it could not use; they count as acknowledged.
    pub set_errors: Vec<SetError>,
    /// At most this many SETs in the answer; 0 only acknowledges.
    pub max_events: usize,
    /// Answer at once even when there is nothing to send (else: the long poll).
    pub return_immediately: bool,
}

impl Default for PollRequest {
    fn default() -> Self {
        PollRequest {
            ack: Vec::new(),
            set_errors: Vec::new(),
            max_events: MAX_EVENTS_CAP,
            return_immediately: false,
        }
    }
}

impl PollRequest {
    /// Parses a poll body.
    pub fn parse(body: &[u8]) -> Result<PollRequest, String> {
        let mut request = PollRequest::default();
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(request);
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| format!("the request body is not valid JSON: {e}"))?;
        let Value::Object(members) = value else {
            return Err(format!(
                "the request body must be a JSON object with ack, setErrs, maxEvents and \
                 returnImmediately; got {}",
                type_name(&value)
            ));
        };
        for (name, value) in members {
            if value.is_null() {
                continue;
            }
            match name.as_str() {
                "ack" => request.ack = parse_ack(value)?,
                "setErrs" => request.set_errors = parse_set_errors(value)?,
                "maxEvents" => request.max_events = parse_max_events(&value)?,
                "returnImmediately" => {
                    request.return_immediately = value.as_bool().ok_or_else(|| {
                        format!(
                            "returnImmediately must be true or false; got {}",
                            type_name(&value)
                        )
                    })?
                }
                _ => {}
            }
        }
        Ok(request)
    }
}

fn parse_ack(value: Value) -> Result<Vec<String>, String> {
    let Value::Array(items) = value else {
        return Err(format!("ack must be an array of jti strings; got {}", type_name(&value)));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(jti) => Ok(jti),
            other => Err(format!("ack[{i}] must be a jti string; got {}", type_name(&other))),
        })
        .collect()
}

fn parse_set_errors(value: Value) -> Result<Vec<SetError>, String> {
    let Value::Object(entries) = value else {
        return Err(format!(
            "setErrs must be an object mapping each jti to {{\"err\": …, \"description\": …}}; \
             got {}",
            type_name(&value)
        ));
    };
    let mut out = Vec::with_capacity(entries.len());
    for (jti, entry) in entries {
        let field = |member: &str| format!("setErrs[{}].{member}", quoted(&jti));
        let Value::Object(entry) = entry else {
            return Err(format!(
                "setErrs[{}] must be an object with err and description; got {}",
                quoted(&jti),
                type_name(&entry)
            ));
        };
        let err = match entry.get("err") {
            Some(Value::String(err)) if !err.trim().is_empty() => err.clone(),
            Some(other) => {
                return Err(format!(
                    "{} must be an error code string (e.g. \"invalid_request\"); got {}",
                    field("err"),
                    type_name(other)
                ));
            }
            None => return Err(format!("{} is missing (an error code string)", field("err"))),
        };
        let description = match entry.get("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(d)) => Some(d.clone()),
            Some(other) => {
                return Err(format!(
                    "{} must be a string; got {}",
                    field("description"),
                    type_name(other)
                ));
            }
        };
        out.push(SetError { jti, err, description });
    }
    Ok(out)
}

fn parse_max_events(value: &Value) -> Result<usize, String> {
    let refuse = || format!("maxEvents must be an integer from 0 to {MAX_EVENTS_CAP}; got {value}");
    let Some(n) = value.as_u64() else {
        // 5.0 is an integer written as a float; accept it, refuse 5.5 and -1.
        return match value.as_f64() {
            Some(f) if f.fract() == 0.0 && f >= 0.0 => cap(f as u64, value),
            _ => Err(refuse()),
        };
    };
    cap(n, value)
}

fn cap(n: u64, value: &Value) -> Result<usize, String> {
    match usize::try_from(n) {
        Ok(n) if n <= MAX_EVENTS_CAP => Ok(n),
        _ => Err(format!(
            "maxEvents = {value} is above the cap of {MAX_EVENTS_CAP} SETs per poll; ask for \
             {MAX_EVENTS_CAP} or fewer and poll again while moreAvailable is true"
        )),
    }
}

/// A jti as shown in a message: JSON-quoted, bounded.
fn quoted(jti: &str) -> String {
    let cut: String = jti.chars().take(64).collect();
    Value::String(cut).to_string()
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn refusal(body: &str) -> String {
        PollRequest::parse(body.as_bytes()).expect_err(body)
    }

    #[test]
    fn the_rfc_example_parses() {
        let body = br#"{"ack":["a1"],
            "setErrs":{"b2":{"err":"invalid_request","description":"unknown attr"}},
            "maxEvents":50,"returnImmediately":true,"futureExtension":1}"#;
        let got = PollRequest::parse(body).unwrap();
        assert_eq!(got.ack, ["a1"]);
        assert_eq!(
            got.set_errors,
            [SetError {
                jti: "b2".into(),
                err: "invalid_request".into(),
                description: Some("unknown attr".into())
            }]
        );
        assert_eq!((got.max_events, got.return_immediately), (50, true));
        assert_eq!(got.set_errors[0].recorded(), "invalid_request: unknown attr");
    }

    #[test]
    fn absent_and_null_members_take_the_defaults() {
        for body in ["", "  \n", "{}", r#"{"ack":null,"maxEvents":null}"#] {
            assert_eq!(PollRequest::parse(body.as_bytes()).unwrap(), PollRequest::default());
        }
        assert_eq!(PollRequest::default().max_events, MAX_EVENTS_CAP);
        assert_eq!(PollRequest::parse(br#"{"maxEvents":0}"#).unwrap().max_events, 0);
        assert_eq!(PollRequest::parse(br#"{"maxEvents":7.0}"#).unwrap().max_events, 7);
    }

    #[test]
    fn every_refusal_names_the_member() {
        assert!(refusal("{").contains("not valid JSON"));
        assert!(refusal("[]").contains("JSON object"));
        assert!(refusal(r#"{"ack":"a1"}"#).starts_with("ack must be an array"));
        assert!(refusal(r#"{"ack":["a",2]}"#).starts_with("ack[1] must be a jti string"));
        assert!(refusal(r#"{"setErrs":[]}"#).starts_with("setErrs must be an object"));
        assert!(refusal(r#"{"setErrs":{"j":"bad"}}"#).starts_with(r#"setErrs["j"] must be"#));
        assert!(refusal(r#"{"setErrs":{"j":{}}}"#).starts_with(r#"setErrs["j"].err is missing"#));
        assert!(refusal(r#"{"setErrs":{"j":{"err":1}}}"#).contains(r#"setErrs["j"].err must"#));
        assert!(
            refusal(r#"{"setErrs":{"j":{"err":"x","description":[]}}}"#)
                .starts_with(r#"setErrs["j"].description must be a string"#)
        );
        for bad in ["-1", "2.5", "\"10\"", "true"] {
            let text = refusal(&format!(r#"{{"maxEvents":{bad}}}"#));
            assert!(text.starts_with("maxEvents must be an integer"), "{text}");
        }
        let text = refusal(r#"{"maxEvents":1001}"#);
        assert!(text.contains("above the cap of 1000"), "{text}");
        assert!(refusal(r#"{"returnImmediately":"yes"}"#).starts_with("returnImmediately must"));
    }

    #[test]
    fn a_recorded_description_is_bounded_and_escaped() {
        let e = SetError {
            jti: "j".into(),
            err: "invalid_request".into(),
            description: Some(format!("\u{1b}[2J{}", "x".repeat(5000))),
        };
        let text = e.recorded();
        assert!(!text.contains('\u{1b}') && text.len() < 300, "{text}");
    }
}
