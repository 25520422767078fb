//! Files people attach to a chat command: which ones the bot reads, and fetching them safely —
//! only from the platform's own file hosts, and never more than the size limit, which is
//! enforced while the bytes stream in (a declared size can lie).

use std::time::Duration;

use thiserror::Error;

/// A file attached to (or shared with) a command, as the platform describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    /// Declared size in bytes, when the platform says.
    pub size: Option<u64>,
    /// The platform's type hint: a file type (`csv`) or a MIME type (`text/csv`).
    pub kind: Option<String>,
    /// Where to fetch it.
    pub url: Option<String>,
}

impl Attachment {
    /// Why the bot will not read this file, in words for the person who sent it; `None` when
    /// it will try.
    pub fn refusal(&self, max_bytes: u64) -> Option<String> {
        let name = &self.name;
        let kind = self.kind.as_deref().unwrap_or_default();
        let is_csv = name.to_ascii_lowercase().ends_with(".csv")
            || kind.eq_ignore_ascii_case("csv")
            || kind.to_ascii_lowercase().starts_with("text/csv");
        if !is_csv {
            let kind = if kind.is_empty() { "non-CSV" } else { kind };
            return Some(format!("`{name}` is a {kind} file; I can only investigate CSV (`timestamp,value` or `timestamp` plus numeric columns)."));
        }
        if self.size.is_some_and(|size| size > max_bytes) {
            return Some(format!(
                "`{name}` is larger than the {max_bytes}-byte limit."
            ));
        }
        if self.url.is_none() {
            return Some(format!("`{name}` came without a download link."));
        }
        None
    }
}

#[derive(Debug, Error)]
pub enum FetchError {
    #[error(
        "refusing to download from {0}: files are fetched only from the chat platform's file hosts"
    )]
    ForeignHost(String),
    #[error("the file is larger than the {limit}-byte limit")]
    TooLarge { limit: u64 },
    #[error("the file host redirected more than {MAX_REDIRECTS} times")]
    Redirects,
    #[error("the file host answered HTTP {0}")]
    Status(u16),
    #[error("cannot fetch the file: {0}")]
    Http(#[source] reqwest::Error),
}

/// Downloads attachments from an allow-list of hosts, with the platform's credentials if it
/// needs any (Slack does, Discord's CDN links are signed).
#[derive(Clone)]
pub struct Fetcher {
    http: reqwest::Client,
    hosts: Vec<String>,
    bearer: Option<String>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

/// The host part of a URL, empty when it has none.
pub fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

/// Redirects followed between the allowed hosts before giving up.
const MAX_REDIRECTS: usize = 5;

impl Fetcher {
    pub fn new(hosts: Vec<String>, bearer: Option<String>) -> Self {
        // Every hop is checked, not only the first URL: a file host that redirects elsewhere
        // would otherwise have foreign content investigated and posted. A refused hop stops
        // the client, and `fetch` reports the redirect's target.
        let allowed = hosts.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            let host = attempt.url().host_str().unwrap_or_default();
            if attempt.previous().len() <= MAX_REDIRECTS && allowed.iter().any(|h| h == host) {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .redirect(policy)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            http,
            hosts,
            bearer,
        }
    }

    /// Fetches `url`, stopping as soon as the body grows past `max_bytes`.
    pub async fn fetch(&self, url: &str, max_bytes: u64) -> Result<Vec<u8>, FetchError> {
        let host = host_of(url);
        if host.is_empty() || !self.hosts.contains(&host) {
            return Err(FetchError::ForeignHost(host));
        }
        let mut request = self.http.get(url);
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| FetchError::Http(e.without_url()))?;
        if response.status().is_redirection() {
            let target = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| response.url().join(l).ok())
                .map(|u| u.host_str().unwrap_or_default().to_string())
                .unwrap_or_default();
            return Err(if self.hosts.contains(&target) {
                FetchError::Redirects
            } else {
                FetchError::ForeignHost(target)
            });
        }
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|length| length > max_bytes)
        {
            return Err(FetchError::TooLarge { limit: max_bytes });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| FetchError::Http(e.without_url()))?
        {
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Err(FetchError::TooLarge { limit: max_bytes });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, kind: Option<&str>, size: u64) -> Attachment {
        Attachment {
            name: name.into(),
            size: Some(size),
            kind: kind.map(str::to_string),
            url: Some("https://cdn.example/x".into()),
        }
    }

    #[test]
    fn only_csv_within_the_limit_is_read() {
        assert_eq!(file("latency.csv", None, 10).refusal(100), None);
        assert_eq!(
            file("export", Some("text/csv; charset=utf-8"), 10).refusal(100),
            None
        );
        assert!(file("graph.png", Some("image/png"), 10)
            .refusal(100)
            .unwrap()
            .contains("is a image/png file; I can only investigate CSV"));
        assert!(file("big.csv", None, 101)
            .refusal(100)
            .unwrap()
            .contains("larger than the 100-byte limit"));
    }

    #[tokio::test]
    async fn foreign_hosts_are_refused_before_any_request() {
        let fetcher = Fetcher::new(vec!["cdn.discordapp.com".into()], None);
        let refused = fetcher.fetch("https://evil.example/x.csv", 100).await;
        assert!(matches!(refused, Err(FetchError::ForeignHost(host)) if host == "evil.example"));
    }
}
