//! The investigation pages of the real `serve`: who may see them (a signed link, or the token
//! given once), what they show, the list's filters, feedback from the page's buttons — and
//! the page in a real browser (headless Chromium through chromedriver), whose screenshot must
//! show the chart and the verdict, and whose "False positive" click must reach `stats`.

mod support;

use std::time::Duration;

use fantoccini::actions::{InputSource as _, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::Locator;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::serve::ServeProcess;

const TOKEN: &str = "pages-test-token-81c4e2a9";

/// `serve` with a token, and an anomalous investigation of the demo incident made through
/// the API; the client does not follow redirects, so each answer can be checked.
async fn serve_with_an_incident(test: &str) -> (ServeProcess, reqwest::Client, Value) {
    let serve = ServeProcess::start(
        test,
        &[
            ("ANOMALY_HUNTER_API_TOKEN", TOKEN),
            ("ANOMALY_HUNTER_PUBLIC_URL", "https://bot.example"),
        ],
    );
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let csv = std::fs::read_to_string(format!(
        "{}/examples/db_query_latency.csv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let verdict: Value = http
        .post(format!(
            "{}/api/v1/investigations?metric=orders_db_latency",
            serve.url
        ))
        .bearer_auth(TOKEN)
        .header(CONTENT_TYPE, "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verdict["anomalous"], true, "{verdict}");
    (serve, http, verdict)
}

/// The page's signed path, as a chat verdict links to it.
fn signed_path(id: &str) -> String {
    anomaly_hunter::http::links::PageLinks::new(None, Some(TOKEN)).path(id)
}

#[tokio::test]
async fn a_signed_link_opens_its_page_and_the_token_opens_them_all() {
    let (serve, http, verdict) = serve_with_an_incident("pages-access").await;
    let id = verdict["id"].as_str().unwrap();
    let get = |path: String| http.get(format!("{}{path}", serve.url)).send();

    for path in [
        format!("/investigations/{id}"),
        format!("/investigations/{id}?sig=00ff"),
        format!("/investigations/{id}/chart.png"),
        "/".to_string(),
    ] {
        let response = get(path.clone()).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let refused = get(format!("/investigations/{id}")).await.unwrap();
    assert!(refused.text().await.unwrap().contains("Sign in"));

    let page = get(signed_path(id)).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    for shown in [
        "orders_db_latency · severity",
        verdict["verdict"].as_str().unwrap(),
        "Pattern Analyst",
        "Change Detective",
        "Root Cause Agent",
        "Anomalous windows",
        "Hypothesis",
        "False positive",
    ] {
        assert!(html.contains(&escaped(shown)), "the page shows {shown:?}");
    }
    let evidence = verdict["agents"][0]["evidence"][0]["name"]
        .as_str()
        .unwrap();
    assert!(
        html.contains(evidence),
        "the evidence table names {evidence}"
    );
    let sig = signed_path(id).split_once("?sig=").unwrap().1.to_string();
    assert!(
        html.contains(&format!("/investigations/{id}/chart.png?sig={sig}")),
        "the chart is fetched with the page's signature"
    );
    let chart = get(format!("/investigations/{id}/chart.png?sig={sig}"))
        .await
        .unwrap();
    assert_eq!(chart.status(), StatusCode::OK);
    assert_eq!(chart.headers()[CONTENT_TYPE], "image/png");
    assert!(chart.bytes().await.unwrap().starts_with(b"\x89PNG"));
    let other = get(format!("/investigations/another-id?sig={sig}"))
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        StatusCode::UNAUTHORIZED,
        "a link opens its own page only"
    );

    // The token, given once, opens a session for every page.
    let login = |token: &str| {
        http.post(format!("{}/login", serve.url))
            .form(&[("token", token), ("next", "/?verdict=anomalous")])
            .send()
    };
    assert_eq!(
        login("wrong").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let signed_in = login(TOKEN).await.unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed_in.headers()[LOCATION], "/?verdict=anomalous");
    let cookie = signed_in.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(
        cookie.contains("Secure"),
        "the public URL is https: {cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_string();
    let list = |query: &str| {
        http.get(format!("{}/{query}", serve.url))
            .header(COOKIE, &session)
            .send()
    };
    let anomalous = list("?verdict=anomalous&severity=&metric=").await.unwrap();
    assert_eq!(anomalous.status(), StatusCode::OK);
    assert!(anomalous.text().await.unwrap().contains(id));
    let normal = list("?verdict=normal").await.unwrap().text().await.unwrap();
    assert!(!normal.contains(id), "the verdict filter leaves it out");
    let other_metric = list("?metric=api_latency")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !other_metric.contains(id),
        "the metric filter leaves it out"
    );
    let bad = list("?severity=eleven").await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("0 to 10"));
    let unsigned = http
        .get(format!("{}/investigations/{id}", serve.url))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::OK, "a session needs no link");
    let (status, detail) = missing_page(&http, &serve.url, &session).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(detail.contains("no-such-id"));

    // The same chart from the API, with the bearer token.
    let api_chart = http
        .get(format!(
            "{}/api/v1/investigations/{id}/chart.png",
            serve.url
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(api_chart.status(), StatusCode::OK);
    assert!(api_chart.bytes().await.unwrap().starts_with(b"\x89PNG"));
}

async fn missing_page(http: &reqwest::Client, url: &str, session: &str) -> (StatusCode, String) {
    let response = http
        .get(format!("{url}/investigations/no-such-id"))
        .header(COOKIE, session)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

/// Text as the page's HTML escapes it.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[tokio::test]
async fn the_page_buttons_record_feedback_as_chat_buttons_do() {
    let (serve, http, verdict) = serve_with_an_incident("pages-feedback").await;
    let id = verdict["id"].as_str().unwrap();
    let sig = signed_path(id).split_once("?sig=").unwrap().1.to_string();
    let post = |form: Vec<(&'static str, String)>| {
        http.post(format!("{}/investigations/{id}/feedback", serve.url))
            .form(&form)
            .send()
    };
    let forged = post(vec![("verdict", "confirmed".into()), ("sig", "00".into())])
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let unknown = post(vec![("verdict", "maybe".into()), ("sig", sig.clone())])
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let said = post(vec![
        ("verdict", "confirmed".into()),
        ("root_cause", "connection pool too small".into()),
        ("author", "dana".into()),
        ("sig", sig.clone()),
    ])
    .await
    .unwrap();
    assert_eq!(said.status(), StatusCode::SEE_OTHER);
    let back = said.headers()[LOCATION].to_str().unwrap().to_string();
    assert_eq!(back, format!("/investigations/{id}?sig={sig}#feedback"));
    let page = http
        .get(format!("{}{back}", serve.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("confirmed: connection pool too small"),
        "the feedback is listed"
    );
    assert!(page.contains("dana") && page.contains("on web"));
    assert_eq!(serve.stats()["confirmed"], 1);
}

#[cfg_attr(
    not(test_chromedriver),
    ignore = "needs Chromium: set ANOMALY_HUNTER_TEST_CHROMEDRIVER (bash .ci/run installs it)"
)]
#[tokio::test]
async fn the_page_in_a_real_browser_shows_the_chart_and_takes_a_false_positive() {
    let test = "the_page_in_a_real_browser_shows_the_chart_and_takes_a_false_positive";
    let Some(chromedriver) = support::service_binary("ANOMALY_HUNTER_TEST_CHROMEDRIVER", test)
    else {
        return;
    };
    let (serve, _, verdict) = serve_with_an_incident("pages-browser").await;
    let id = verdict["id"].as_str().unwrap();
    let browser = support::browser::Browser::start(&chromedriver).await;
    let page = &browser.client;
    page.goto(&format!("{}{}", serve.url, signed_path(id)))
        .await
        .unwrap();
    let headline = browser.text("h1").await;
    assert!(
        headline.contains("orders_db_latency") && headline.contains("severity"),
        "{headline}"
    );
    browser
        .wait_for("the chart is loaded", "return document.getElementById('chart').complete && document.getElementById('chart').naturalWidth")
        .await;
    browser
        .wait_for(
            "the verdict and the chart are in the screenshot's view",
            "const seen = e => e.getBoundingClientRect().bottom <= window.innerHeight; return seen(document.querySelector('h1')) && seen(document.querySelector('p.verdict')) && seen(document.getElementById('chart'))",
        )
        .await;
    let screenshot = page.screenshot().await.unwrap();
    let shot = support::browser::Picture::decode(&screenshot);
    // The chart's colours, as plotters draws them: the window shaded red at 18% on white,
    // the green "now" mark.
    let shaded = (255, 209, 209);
    let now = (0, 140, 70);
    assert!(
        shot.count(shaded) > 500,
        "the screenshot shows the anomalous window of the chart"
    );
    assert!(
        shot.count(now) > 20,
        "the screenshot shows the chart's now mark"
    );
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(shots.join("investigation-page.png"), &screenshot).unwrap();

    // Dragging across the chart zooms in: the server draws that stretch alone.
    let chart = page.find(Locator::Id("chart")).await.unwrap();
    let across = |x: f64| PointerAction::MoveToElement {
        element: chart.clone(),
        duration: Some(Duration::from_millis(100)),
        x,
        y: 0.0,
    };
    let drag = MouseActions::new("mouse".to_string())
        .then(across(-250.0))
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(across(150.0))
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    page.perform_actions(drag).await.unwrap();
    browser
        .wait_for(
            "the zoomed chart is drawn",
            "const c = document.getElementById('chart'); return c.src.includes('&from=') && c.complete && c.naturalWidth",
        )
        .await;

    let button = page
        .find(Locator::Css("button.false-positive"))
        .await
        .unwrap();
    button.click().await.unwrap();
    browser
        .wait_for(
            "the page lists the false positive",
            "return document.querySelector('ul.feedback') && document.querySelector('ul.feedback').innerText.includes('false positive')",
        )
        .await;
    assert_eq!(
        serve.stats()["false_positives"],
        1,
        "{}",
        json!(serve.stats())
    );
}
