//! Attachments are fetched only from the platform's hosts, at every hop: a file host that
//! redirects elsewhere does not get foreign content investigated.

use anomaly_hunter::chat::attachment::{FetchError, Fetcher};
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;

/// A file host on a free loopback port: `/file.csv`, a redirect to it on the same host, a
/// redirect to the same server under another host name, and a redirect loop.
async fn file_host() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new()
        .route("/file.csv", get(|| async { "timestamp,value\n1,2\n" }))
        .route("/same", get(|| async { Redirect::temporary("/file.csv") }))
        .route(
            "/away",
            get(move || async move {
                Redirect::temporary(&format!("http://localhost:{port}/file.csv"))
            }),
        )
        .route("/loop", get(|| async { Redirect::temporary("/loop") }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

#[tokio::test]
async fn redirects_are_followed_on_the_allowed_hosts_only() {
    let port = file_host().await;
    let fetcher = Fetcher::new(vec!["127.0.0.1".to_string()], Some("xoxb-secret".into()));
    let base = format!("http://127.0.0.1:{port}");

    let same = fetcher.fetch(&format!("{base}/same"), 1_000).await.unwrap();
    assert_eq!(same, b"timestamp,value\n1,2\n");

    let away = fetcher.fetch(&format!("{base}/away"), 1_000).await;
    assert!(
        matches!(&away, Err(FetchError::ForeignHost(host)) if host == "localhost"),
        "{away:?}"
    );
    let message = away.unwrap_err().to_string();
    assert!(
        message.contains("refusing to download from localhost"),
        "{message}"
    );

    let looped = fetcher.fetch(&format!("{base}/loop"), 1_000).await;
    assert!(matches!(looped, Err(FetchError::Redirects)), "{looped:?}");
}
