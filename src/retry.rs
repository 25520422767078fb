//! One backoff for every retry loop: pauses that double from a first to a longest one, with
//! jitter so replicas that failed together do not retry together (backon's exponential
//! backoff). Loops that run for the process's life take `pauses` and start again from the
//! first after a success; a bounded retry adds `with_max_times`. (A server's own `Retry-After`
//! — Slack's Web API — is honoured as given instead.)

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// The backoff from `first` to `longest`, without a limit on attempts.
pub fn backoff(first: Duration, longest: Duration) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(first)
        .with_max_delay(longest)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
}

/// The pauses of [`backoff`], endless: `next()` is never `None`.
pub fn pauses(first: Duration, longest: Duration) -> impl Iterator<Item = Duration> {
    backoff(first, longest)
        .build()
        .chain(std::iter::repeat(longest))
}

/// The start of a refusal's body (200 characters), to say in an error what the server said.
pub async fn refusal_text(response: reqwest::Response) -> String {
    let text = response.text().await.unwrap_or_default();
    text.trim().chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_to_the_longest_and_go_on() {
        let pauses: Vec<Duration> = pauses(Duration::from_secs(1), Duration::from_secs(8))
            .take(8)
            .collect();
        assert!(pauses[0] >= Duration::from_secs(1) && pauses[0] < Duration::from_secs(2));
        assert!(pauses[3] >= Duration::from_secs(8), "{pauses:?}");
        assert!(
            pauses.iter().all(|p| *p <= Duration::from_secs(16)),
            "jitter stays bounded: {pauses:?}"
        );
    }
}
