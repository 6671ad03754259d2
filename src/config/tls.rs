//! The `[tls]` section's typed form ([`TlsMode`], [`AcmeConfig`]) and the checks of its
//! `acme_*` keys: the names a CA can certify, the contact, the directory, the renewal timing.
//! Reads no file: the certificate and the CA roots are the server's to load.

use std::path::PathBuf;
use std::time::Duration;

use super::raw::RawTls;
use super::{SpannedError, url_host};

/// How scimd serves: TLS from files, a generated self-signed certificate, a certificate
/// obtained from an ACME CA, or plain HTTP.
#[derive(Debug, Clone, PartialEq)]
pub enum TlsMode {
    Files { cert: PathBuf, key: PathBuf },
    SelfSigned,
    Acme(AcmeConfig),
    Off,
}

/// Let's Encrypt's production directory, the default `tls.acme_directory`.
pub const LETS_ENCRYPT_DIRECTORY: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// `tls.mode = "acme"`: where to order the certificate, for which names, and when to renew.
#[derive(Debug, Clone, PartialEq)]
pub struct AcmeConfig {
    /// DNS names the certificate covers, lower-cased; the first is `public_url`'s host unless
    /// `tls.acme_domains` says otherwise.
    pub domains: Vec<String>,
    /// The account's contact address (without `mailto:`).
    pub email: Option<String>,
    /// The CA's ACME directory URL.
    pub directory: String,
    /// A PEM file of root certificates trusted for the directory connection, besides the
    /// system's.
    pub ca_root: Option<PathBuf>,
    /// Renew when fewer than this many days of validity remain.
    pub renew_days: u32,
    /// How often to check whether the certificate is due for renewal.
    pub check_interval: Duration,
}

/// Validates the `tls.acme_*` keys (whatever the mode, so a typo is caught before it matters)
/// and, for `tls.mode = "acme"`, the names to certify. None unless the mode is acme.
pub(super) fn validate_acme(
    raw: &RawTls,
    public_url_set: bool,
    public_url: &str,
    acme_mode: bool,
) -> Result<Option<AcmeConfig>, SpannedError> {
    let mode_span = raw.mode.as_ref().map(|m| m.span());
    let mut domains = Vec::new();
    if let Some(list) = &raw.acme_domains {
        for d in list.get_ref() {
            let name = validate_domain(d.get_ref()).map_err(|m| (Some(d.span()), m))?;
            if !domains.contains(&name) {
                domains.push(name);
            }
        }
        if domains.is_empty() {
            return Err((
                Some(list.span()),
                "tls.acme_domains is empty; list the DNS names to certify, or leave the key \
                 out to certify public_url's host"
                    .into(),
            ));
        }
    }
    let email = match &raw.acme_email {
        Some(e) => {
            let value = e.get_ref().trim();
            let value = value.strip_prefix("mailto:").unwrap_or(value);
            let ok = value.split_once('@').is_some_and(|(user, host)| {
                !user.is_empty() && host.contains('.') && !host.contains('@')
            }) && !value.contains(|c: char| c.is_whitespace() || c == ',');
            if !ok {
                return Err((
                    Some(e.span()),
                    format!(
                        "tls.acme_email = {:?} is not an email address; write e.g. \
                         \"admin@example.org\"",
                        e.get_ref()
                    ),
                ));
            }
            Some(value.to_string())
        }
        None => None,
    };
    let directory = match &raw.acme_directory {
        Some(d) => {
            let url = d.get_ref().trim();
            let host = url.strip_prefix("https://").unwrap_or("");
            if host.is_empty() || host.starts_with('/') || url.contains(char::is_whitespace) {
                return Err((
                    Some(d.span()),
                    format!(
                        "tls.acme_directory = {url:?} is not an https:// URL; write the CA's \
                         ACME directory, e.g. {LETS_ENCRYPT_DIRECTORY:?}"
                    ),
                ));
            }
            url.to_string()
        }
        None => LETS_ENCRYPT_DIRECTORY.to_string(),
    };
    let renew_days = match &raw.acme_renew_days {
        Some(d) => match u32::try_from(*d.get_ref()) {
            Ok(days @ 1..=365) => days,
            _ => {
                return Err((
                    Some(d.span()),
                    "tls.acme_renew_days must be from 1 to 365 (days of validity left when \
                     scimd renews)"
                        .into(),
                ));
            }
        },
        None => 30,
    };
    let check_interval = match &raw.acme_check_interval_secs {
        Some(s) if *s.get_ref() == 0 => {
            return Err((Some(s.span()), "tls.acme_check_interval_secs must be at least 1".into()));
        }
        Some(s) => Duration::from_secs(*s.get_ref()),
        None => Duration::from_secs(3600),
    };
    if !acme_mode {
        return Ok(None);
    }

    // The IdP reaches scimd at public_url, so the certificate must name its host.
    if !public_url_set || !public_url.starts_with("https://") {
        return Err((
            mode_span,
            "tls.mode = \"acme\" needs public_url = \"https://NAME\" with the DNS name that \
             points at this machine (the CA connects to it on port 443, and the IdP uses it)"
                .into(),
        ));
    }
    let host = url_host(public_url);
    let host = validate_domain(&host).map_err(|m| {
        (mode_span.clone(), format!("tls.mode = \"acme\" certifies public_url's host: {m}"))
    })?;
    if domains.is_empty() {
        domains.push(host);
    } else if !domains.contains(&host) {
        return Err((
            raw.acme_domains.as_ref().map(|l| l.span()),
            format!(
                "tls.acme_domains must include {host:?}, public_url's host: the IdP connects to \
                 that name, so the certificate must cover it"
            ),
        ));
    }
    Ok(Some(AcmeConfig {
        domains,
        email,
        directory,
        ca_root: raw.acme_ca_root.clone(),
        renew_days,
        check_interval,
    }))
}

/// A DNS name a CA can certify with TLS-ALPN-01: lower-cased, no trailing dot, no wildcard, no
/// IP address.
fn validate_domain(name: &str) -> Result<String, String> {
    let lower = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if lower.starts_with("*.") {
        return Err(format!(
            "{name:?} is a wildcard name, which needs the DNS-01 challenge; scimd answers \
             TLS-ALPN-01, so list each name"
        ));
    }
    if lower.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!("{name:?} is an IP address; the CA certifies DNS names"));
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if lower.is_empty() || lower.len() > 253 || !lower.split('.').all(label_ok) {
        return Err(format!(
            "{name:?} is not a DNS name; write e.g. \"scim.example.org\" (international \
             names in their xn-- form)"
        ));
    }
    Ok(lower)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn acme_defaults_to_public_urls_host_and_lets_encrypt() {
        let c = Config::parse(
            "public_url = \"https://SCIM.Example.org\"\n[tls]\nmode = \"acme\"\n",
            None,
        )
        .unwrap();
        let TlsMode::Acme(acme) = c.tls else { panic!("not acme: {:?}", c.tls) };
        assert_eq!(acme.domains, vec!["scim.example.org"]);
        assert_eq!(acme.directory, LETS_ENCRYPT_DIRECTORY);
        assert_eq!(acme.email, None);
        assert_eq!(acme.ca_root, None);
        assert_eq!(acme.renew_days, 30);
        assert_eq!(acme.check_interval, Duration::from_secs(3600));

        let c = Config::parse(
            "public_url = \"https://scim.example.org:8443\"\n[tls]\nmode = \"acme\"\n\
             acme_domains = [\"scim.example.org\", \"scim2.example.org\"]\n\
             acme_email = \"mailto:ops@example.org\"\nacme_renew_days = 20\n\
             acme_check_interval_secs = 60\nacme_ca_root = \"/etc/ca.pem\"\n",
            None,
        )
        .unwrap();
        let TlsMode::Acme(acme) = c.tls else { panic!("not acme: {:?}", c.tls) };
        assert_eq!(acme.domains, vec!["scim.example.org", "scim2.example.org"]);
        assert_eq!(acme.email.as_deref(), Some("ops@example.org"));
        assert_eq!(acme.renew_days, 20);
        assert_eq!(acme.check_interval, Duration::from_secs(60));
        assert_eq!(acme.ca_root, Some(PathBuf::from("/etc/ca.pem")));
    }

    #[test]
    fn acme_errors_name_the_line_and_the_fix() {
        let e = Config::parse("[tls]\nmode = \"acme\"\n", None).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("needs public_url"), "{e}");

        let e = Config::parse("public_url = \"https://10.0.0.5\"\n[tls]\nmode = \"acme\"\n", None)
            .unwrap_err();
        assert!(e.message.contains("IP address"), "{e}");

        let e = Config::parse(
            "public_url = \"https://scim.example.org\"\n[tls]\nmode = \"acme\"\n\
             acme_domains = [\"other.example.org\"]\n",
            None,
        )
        .unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("must include \"scim.example.org\""), "{e}");

        let e = Config::parse("[tls]\nacme_domains = [\"*.example.org\"]\n", None).unwrap_err();
        assert!(e.message.contains("wildcard"), "{e}");
        let e = Config::parse("[tls]\nacme_domains = [\"bad name\"]\n", None).unwrap_err();
        assert!(e.message.contains("not a DNS name"), "{e}");
        let e = Config::parse("[tls]\nacme_email = \"nobody\"\n", None).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("not an email address"), "{e}");
        let e = Config::parse("[tls]\nacme_directory = \"http://ca.example\"\n", None).unwrap_err();
        assert!(e.message.contains("https://"), "{e}");
        let e = Config::parse("[tls]\nacme_renew_days = 0\n", None).unwrap_err();
        assert!(e.message.contains("1 to 365"), "{e}");
        let e = Config::parse("[tls]\nacme_check_interval_secs = 0\n", None).unwrap_err();
        assert!(e.message.contains("at least 1"), "{e}");
    }
}
