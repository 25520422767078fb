//! Links to investigation pages. With an API token, a page link carries a signature
//! (HMAC-SHA256 of the investigation id, keyed by the token): whoever has the link — the
//! people in the verdict's thread — can open that one page, see its chart and give feedback
//! on it, and nothing else. Rotating the token revokes every link.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Makes and checks page links and the browser session of someone who gave the token.
#[derive(Debug, Clone)]
pub struct PageLinks {
    /// Where people reach `serve` (`ANOMALY_HUNTER_PUBLIC_URL`), without a trailing `/`.
    public_url: Option<String>,
    /// The API token; without one the pages are open (the listener is then loopback only).
    key: Option<String>,
}

impl PageLinks {
    pub fn new(public_url: Option<&str>, key: Option<&str>) -> Self {
        Self {
            public_url: public_url.map(|url| url.trim_end_matches('/').to_string()),
            key: key.map(str::to_string),
        }
    }

    /// Whether pages need a signature or a session (an API token is configured).
    pub fn guarded(&self) -> bool {
        self.key.is_some()
    }

    /// The page's path and query: `/investigations/{id}` and, when guarded, `?sig=…`.
    pub fn path(&self, id: &str) -> String {
        match self.signature(&subject(id)) {
            Some(sig) => format!("/investigations/{id}?sig={sig}"),
            None => format!("/investigations/{id}"),
        }
    }

    /// The full link for a chat message, when `ANOMALY_HUNTER_PUBLIC_URL` is set.
    pub fn url(&self, id: &str) -> Option<String> {
        let base = self.public_url.as_ref()?;
        Some(format!("{base}{}", self.path(id)))
    }

    /// Whether `sig` is this investigation's signature (in constant time).
    pub fn signed(&self, id: &str, sig: &str) -> bool {
        self.verifies(&subject(id), sig)
    }

    /// The value of the session cookie set for someone who gave the token.
    pub fn session(&self) -> Option<String> {
        self.signature(SESSION)
    }

    /// Whether people reach the pages over HTTPS (the session cookie is then `Secure`).
    pub fn over_https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }

    /// Whether `cookie` is a valid session (in constant time).
    pub fn in_session(&self, cookie: &str) -> bool {
        self.verifies(SESSION, cookie)
    }

    /// Whether `token` is the API token (in constant time).
    pub fn is_token(&self, token: &str) -> bool {
        self.key
            .as_deref()
            .is_some_and(|key| crate::http::constant_time_eq(key.as_bytes(), token.as_bytes()))
    }

    fn mac(&self, subject: &str) -> Option<Hmac<Sha256>> {
        let key = self.key.as_ref()?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).ok()?;
        mac.update(subject.as_bytes());
        Some(mac)
    }

    fn signature(&self, subject: &str) -> Option<String> {
        self.mac(subject)
            .map(|mac| hex::encode(mac.finalize().into_bytes()))
    }

    fn verifies(&self, subject: &str, given: &str) -> bool {
        match (self.mac(subject), hex::decode(given)) {
            (Some(mac), Ok(bytes)) => mac.verify_slice(&bytes).is_ok(),
            _ => false,
        }
    }
}

/// What a session cookie signs.
const SESSION: &str = "session";

/// What a page link signs.
fn subject(id: &str) -> String {
    format!("investigation:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_opens_its_own_page_only() {
        let links = PageLinks::new(Some("https://bot.example/"), Some("s3cret"));
        let url = links.url("a1").unwrap();
        let sig = url.split("?sig=").nth(1).unwrap();
        assert!(url.starts_with("https://bot.example/investigations/a1?sig="));
        assert!(links.signed("a1", sig));
        assert!(!links.signed("a2", sig), "another investigation");
        assert!(!links.in_session(sig), "a link is not a session");
        let rotated = PageLinks::new(Some("https://bot.example"), Some("new"));
        assert!(!rotated.signed("a1", sig), "a new token revokes old links");
    }

    #[test]
    fn without_a_token_pages_are_open_and_links_unsigned() {
        let links = PageLinks::new(Some("http://127.0.0.1:3000"), None);
        assert!(!links.guarded());
        assert_eq!(
            links.url("a1").as_deref(),
            Some("http://127.0.0.1:3000/investigations/a1")
        );
        assert!(!links.signed("a1", ""));
        assert_eq!(PageLinks::new(None, None).url("a1"), None);
    }
}
