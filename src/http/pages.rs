//! The pages for people: `/` lists recent investigations (filtered by metric, severity and
//! verdict), `/investigations/{id}` shows one whole — headline, chart, each agent's finding
//! and evidence, hypothesis, similar incidents with what people said, the thread's feedback —
//! with Confirm / False positive buttons that record feedback as a chat button does.
//! Server-rendered HTML that works without JavaScript.
//!
//! Access: without an API token the pages are open (the listener is then loopback only).
//! With one, a signed link (as posted with every verdict) opens its own page, and the token
//! given once at `/login` opens a browser session for every page.

use axum::extract::{Path, Query, RawForm, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;

use super::links::PageLinks;
use super::problem::Problem;
use super::verdict_doc::{AgentDoc, VerdictDoc};
use crate::chat::message::headline;
use crate::chat::service::ChatService;
use crate::render::chart::{PLOT_X, SIZE};
use crate::render::{number, percent};
use crate::store::{FeedbackEntry, HistoryEntry, HistoryFilter, NewFeedback};
use engine::learning::{judgement, FeedbackVerdict};
use engine::series::timestamp::to_rfc3339;

/// Investigations one page of the list shows.
const PAGE_SIZE: i64 = 50;
/// The browser session's cookie (HttpOnly, SameSite=Strict).
const SESSION_COOKIE: &str = "anomaly_hunter_session";
/// How long a browser session lasts.
const SESSION_SECONDS: u32 = 30 * 24 * 3600;

#[derive(Clone)]
struct Pages {
    service: ChatService,
    links: PageLinks,
}

/// The page routes, merged at the root of `serve`'s listener.
pub fn routes(service: ChatService, links: PageLinks) -> Router {
    Router::new()
        .route("/", get(list))
        .route("/investigations/{id}", get(investigation))
        .route("/investigations/{id}/chart.png", get(chart))
        .route(
            "/investigations/{id}/feedback",
            axum::routing::post(feedback),
        )
        .route("/login", get(login_form).post(login))
        .with_state(Pages { service, links })
}

/// `?sig=` of a signed link, and for a chart the stretch to draw.
#[derive(Deserialize, Default)]
struct Signed {
    sig: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
}

impl Pages {
    /// Whether this request may see every page: no token is configured, or its browser
    /// session is valid.
    fn in_session(&self, headers: &HeaderMap) -> bool {
        !self.links.guarded()
            || cookie(headers, SESSION_COOKIE).is_some_and(|value| self.links.in_session(value))
    }

    /// Whether this request may see investigation `id`: a session, or its signed link.
    fn may_see(&self, headers: &HeaderMap, id: &str, sig: Option<&str>) -> bool {
        self.in_session(headers) || sig.is_some_and(|sig| self.links.signed(id, sig))
    }

    /// The path of investigation `id` for this visitor: signed unless they have a session.
    fn path(&self, headers: &HeaderMap, id: &str) -> String {
        if self.in_session(headers) {
            format!("/investigations/{id}")
        } else {
            self.links.path(id)
        }
    }
}

/// `path` carrying the signature the visitor came with, if any.
fn with_sig(path: &str, sig: Option<&str>) -> String {
    match sig {
        Some(sig) => format!("{path}?sig={sig}"),
        None => path.to_string(),
    }
}

/// A cookie's value from the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The filters of the list, as the form sends them (empty fields mean "any").
#[derive(Deserialize, Default)]
struct ListQuery {
    metric: Option<String>,
    severity: Option<String>,
    /// `anomalous` or `normal`.
    verdict: Option<String>,
    cursor: Option<String>,
}

impl ListQuery {
    fn filter(&self) -> Result<HistoryFilter, String> {
        let text = |field: &Option<String>| {
            field
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let min_severity = text(&self.severity)
            .map(|s| match s.parse::<i64>() {
                Ok(n @ 0..=10) => Ok(n),
                _ => Err(format!("severity `{s}` is not 0 to 10")),
            })
            .transpose()?;
        let anomalous = match text(&self.verdict).as_deref() {
            None => None,
            Some("anomalous") => Some(true),
            Some("normal") => Some(false),
            Some(other) => return Err(format!("verdict `{other}` is not anomalous or normal")),
        };
        Ok(HistoryFilter {
            metric: text(&self.metric),
            min_severity,
            anomalous,
        })
    }

    /// This query's link to the next page.
    fn next(&self, cursor: &str) -> String {
        let query = [
            ("metric", self.metric.as_deref()),
            ("severity", self.severity.as_deref()),
            ("verdict", self.verdict.as_deref()),
            ("cursor", Some(cursor)),
        ];
        let pairs: Vec<(&str, &str)> = query
            .into_iter()
            .filter_map(|(key, value)| Some((key, value?)))
            .collect();
        format!(
            "/?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    }
}

async fn list(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    if !pages.in_session(&headers) {
        return login_page(StatusCode::UNAUTHORIZED, "/", None);
    }
    let filter = match query.filter() {
        Ok(filter) => filter,
        Err(problem) => return error_page(StatusCode::BAD_REQUEST, &problem),
    };
    let store = pages.service.store();
    let rows = match store
        .history_after(&filter, PAGE_SIZE, query.cursor.as_deref())
        .await
    {
        Ok(rows) => rows,
        Err(e) => return error_page_of(Problem::from(e)),
    };
    let next = (rows.len() as i64 == PAGE_SIZE)
        .then(|| rows.last().map(|row| query.next(&row.id)))
        .flatten();
    let body = html! {
        h1 { "Investigations" }
        form.filters method="get" action="/" {
            label { "Metric " input name="metric" value=[filter.metric.as_deref()] placeholder="any"; }
            label { "Severity at least "
                select name="severity" {
                    option value="" { "any" }
                    @for n in 1..=10 {
                        option value=(n) selected[filter.min_severity == Some(n)] { (n) }
                    }
                }
            }
            label { "Verdict "
                select name="verdict" {
                    option value="" { "any" }
                    option value="anomalous" selected[filter.anomalous == Some(true)] { "anomalous" }
                    option value="normal" selected[filter.anomalous == Some(false)] { "normal" }
                }
            }
            button type="submit" { "Filter" }
        }
        @if rows.is_empty() {
            p { "No investigation matches." }
        } @else {
            table.list {
                thead { tr { th { "When (UTC)" } th { "Metric" } th { "Severity" } th { "Confidence" } th { "Verdict" } th { "Feedback" } } }
                tbody { @for row in &rows { (list_row(row)) } }
            }
        }
        @if let Some(next) = next { p { a href=(next) { "Older →" } } }
    };
    page("Investigations", body).into_response()
}

fn list_row(row: &HistoryEntry) -> Markup {
    html! {
        tr.(severity_class(row.severity, row.anomalous)) {
            td { (row.created_at.get(..19).unwrap_or(&row.created_at).replace('T', " ")) }
            td { (row.metric) }
            td.num { (row.severity) "/10" }
            td.num { (percent(row.confidence)) }
            td { a href={ "/investigations/" (row.id) } { (row.verdict) } }
            td { (row.feedback.as_deref().unwrap_or("").replace('_', " ")) }
        }
    }
}

async fn investigation(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(signed): Query<Signed>,
) -> Response {
    if !pages.may_see(&headers, &id, signed.sig.as_deref()) {
        return login_page(
            StatusCode::UNAUTHORIZED,
            &format!("/investigations/{id}"),
            None,
        );
    }
    match investigation_page(&pages, &headers, &id, signed.sig.as_deref()).await {
        Ok(markup) => markup.into_response(),
        Err(problem) => error_page_of(problem),
    }
}

async fn investigation_page(
    pages: &Pages,
    headers: &HeaderMap,
    id: &str,
    sig: Option<&str>,
) -> Result<Markup, Problem> {
    let store = pages.service.store();
    let (stored, verdict) = super::stored_verdict(store, id).await?;
    let feedback = store.feedback_on(id).await?;
    let summary = store.accepted_summary(id).await?;
    let chart = store.chart(id).await?;
    let headline = headline(
        &verdict.metric,
        verdict.severity,
        verdict.anomalous,
        verdict.confidence,
    );
    let body = html! {
        @if pages.in_session(headers) { nav { a href="/" { "← All investigations" } } }
        h1.(severity_class(i64::from(verdict.severity), verdict.anomalous)) { (headline) }
        p.verdict { (verdict.verdict) }
        @if let Some(summary) = summary.as_ref().and_then(|s| Some((s.model.as_str(), s.answer["summary"].as_str()?))) {
            p.summary { strong { "Summary" } " (" (summary.0) ", checked against the evidence): " (summary.1) }
        }
        p.meta {
            "Investigated " (when(stored.created_at)) " · "
            (verdict.points) " points judged"
            @if verdict.baseline_points > 0 { ", " (verdict.baseline_points) " before them read as the baseline" }
            @if let Some(seasonality) = &verdict.seasonality { " · " (seasonality) " seasonality" }
            " · " (format!("{:.1}", verdict.elapsed_ms)) " ms · from " (stored.source)
        }
        @let (plot_left, plot_right) = PLOT_X;
        figure.chart data-from=[chart.as_ref().and_then(|c| c.points.first()).map(|p| p.0)]
            data-to=[chart.as_ref().and_then(|c| c.points.last()).map(|p| p.0)]
            data-left=(plot_left) data-right=(plot_right) {
            img #chart src=(with_sig(&format!("/investigations/{id}/chart.png"), sig))
                alt={ "Chart of " (verdict.metric) ": the series, the expected band and the anomalous windows" }
                width=(SIZE.0) height=(SIZE.1);
        }
        script { (PreEscaped(ZOOM_SCRIPT)) }
        @if !verdict.anomalies.is_empty() { (windows_table(&verdict)) }
        h2 { "Hypothesis" }
        p { (verdict.hypothesis) }
        h2 { "What each agent found" }
        @for agent in &verdict.agents { (agent_section(agent)) }
        h2 { "Similar past incidents" }
        (similar_table(pages, headers, &verdict))
        h2 #feedback { "Feedback" }
        (feedback_list(&feedback))
        (feedback_form(id, sig, &verdict))
        p.meta { "Investigation " code { (id) } " · "
            a href={ "/api/v1/investigations/" (id) } { "verdict JSON (API, with the token)" } }
    };
    Ok(page(
        &format!("{} — {}", verdict.metric, verdict.verdict),
        body,
    ))
}

fn windows_table(verdict: &VerdictDoc) -> Markup {
    html! {
        h2 { "Anomalous windows" }
        table {
            thead { tr { th { "From (UTC)" } th { "To" } th { "Kind" } th { "Peak change" } th { "Score" } } }
            tbody {
                @for window in &verdict.anomalies {
                    tr {
                        td { (window.start.replace('T', " ")) }
                        td { (window.end.replace('T', " ")) }
                        td { (window.kind.replace('_', " ")) }
                        td.num { (format!("{:+.0}%", window.magnitude * 100.0)) }
                        td.num { (number(window.score)) }
                    }
                }
            }
        }
    }
}

fn agent_section(agent: &AgentDoc) -> Markup {
    html! {
        section.agent {
            h3 { (agent.title()) " " span.confidence { (percent(agent.confidence)) " confident" } }
            p { (agent.finding) }
            @if !agent.evidence.is_empty() {
                table.evidence {
                    thead { tr { th { "Evidence" } th { "Value" } th { "What it means" } } }
                    tbody {
                        @for evidence in &agent.evidence {
                            tr { td { code { (evidence.name) } } td.num { (number(evidence.value)) } td { (evidence.detail) } }
                        }
                    }
                }
            }
        }
    }
}

fn similar_table(pages: &Pages, headers: &HeaderMap, verdict: &VerdictDoc) -> Markup {
    html! {
        @if verdict.similar_incidents.is_empty() {
            p { "None of this shape is on record." }
        } @else {
            table {
                thead { tr { th { "When" } th { "Metric" } th { "Pattern" } th { "Shape distance" } th { "What people said" } } }
                tbody {
                    @for similar in &verdict.similar_incidents {
                        tr {
                            td { a href=(pages.path(headers, &similar.id)) { (to_rfc3339(similar.created_at)[..10]) } }
                            td { (similar.metric) }
                            td { (similar.pattern.as_deref().unwrap_or("—").replace('_', " ")) }
                            td.num { (number(similar.distance)) }
                            td { (judgement(similar.feedback.as_deref().and_then(FeedbackVerdict::parse), similar.root_cause.as_deref())) }
                        }
                    }
                }
            }
        }
    }
}

fn feedback_list(feedback: &[FeedbackEntry]) -> Markup {
    html! {
        @if feedback.is_empty() {
            p { "Nobody has judged this verdict yet." }
        } @else {
            ul.feedback {
                @for entry in feedback {
                    li {
                        strong { (judgement(Some(entry.verdict), entry.root_cause.as_deref())) }
                        " — " (entry.author.as_deref().unwrap_or("someone"))
                        @if let Some(platform) = &entry.platform { " on " (platform) }
                        ", " (when(entry.created_at))
                    }
                }
            }
        }
    }
}

fn feedback_form(id: &str, sig: Option<&str>, verdict: &VerdictDoc) -> Markup {
    html! {
        @if verdict.anomalous {
            form.judge method="post" action={ "/investigations/" (id) "/feedback" } {
                @if let Some(sig) = sig { input type="hidden" name="sig" value=(sig); }
                label { "Root cause (optional) " input name="root_cause" size="40" placeholder="e.g. connection pool too small"; }
                label { "Your name (optional) " input name="author" size="16"; }
                button.confirm type="submit" name="verdict" value="confirmed" { "Confirm" }
                button.false-positive type="submit" name="verdict" value="false_positive" { "False positive" }
            }
        } @else {
            p.meta { "A normal verdict: nothing to confirm." }
        }
    }
}

/// The feedback form's fields.
#[derive(Deserialize)]
struct FeedbackForm {
    verdict: String,
    root_cause: Option<String>,
    author: Option<String>,
    sig: Option<String>,
}

async fn feedback(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawForm(form): RawForm,
) -> Response {
    let Ok(form) = serde_urlencoded::from_bytes::<FeedbackForm>(&form) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "send the form's verdict: confirmed or false_positive",
        );
    };
    if !pages.may_see(&headers, &id, form.sig.as_deref()) {
        return login_page(
            StatusCode::UNAUTHORIZED,
            &format!("/investigations/{id}"),
            None,
        );
    }
    let Some(verdict) = FeedbackVerdict::parse(&form.verdict) else {
        return error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!(
                "verdict `{}` is not confirmed or false_positive",
                form.verdict
            ),
        );
    };
    let nonblank =
        |text: Option<String>| text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let recorded = pages
        .service
        .store()
        .add_feedback(NewFeedback {
            investigation_id: id.clone(),
            verdict,
            root_cause: nonblank(form.root_cause),
            author: nonblank(form.author),
            platform: Some("web".to_string()),
        })
        .await;
    match recorded {
        Ok(_) => {
            let page = with_sig(&format!("/investigations/{id}"), form.sig.as_deref());
            Redirect::to(&format!("{page}#feedback")).into_response()
        }
        Err(e) => error_page_of(Problem::from(e)),
    }
}

async fn chart(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(signed): Query<Signed>,
) -> Response {
    if !pages.may_see(&headers, &id, signed.sig.as_deref()) {
        return error_page(StatusCode::UNAUTHORIZED, "open the page through its link");
    }
    let stretch = super::Stretch {
        from: signed.from,
        to: signed.to,
    };
    match super::chart_png(pages.service.store(), &id, stretch).await {
        Ok(png) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "private, max-age=3600"),
            ],
            png,
        )
            .into_response(),
        Err(problem) => error_page_of(problem),
    }
}

/// Where to go after logging in: a path on this site only.
#[derive(Deserialize, Default)]
struct Next {
    next: Option<String>,
}

fn local_path(next: Option<&str>) -> &str {
    next.filter(|path| path.starts_with('/') && !path.starts_with("//"))
        .unwrap_or("/")
}

async fn login_form(Query(next): Query<Next>) -> Response {
    login_page(StatusCode::OK, local_path(next.next.as_deref()), None)
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

async fn login(State(pages): State<Pages>, RawForm(form): RawForm) -> Response {
    let form = serde_urlencoded::from_bytes::<LoginForm>(&form).ok();
    let next = local_path(form.as_ref().and_then(|f| f.next.as_deref())).to_string();
    let given = form.map(|f| f.token).unwrap_or_default();
    let Some(session) = pages
        .links
        .session()
        .filter(|_| pages.links.is_token(given.trim()))
    else {
        let problem = if pages.links.guarded() {
            "That is not the token (ANOMALY_HUNTER_API_TOKEN)."
        } else {
            "No token is configured: the pages are open."
        };
        return login_page(StatusCode::UNAUTHORIZED, &next, Some(problem));
    };
    let secure = if pages.links.over_https() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}{secure}"
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
}

fn login_page(status: StatusCode, next: &str, problem: Option<&str>) -> Response {
    let body = html! {
        h1 { "Sign in" }
        p { "Open an investigation through the link posted with its verdict, or give the API token (ANOMALY_HUNTER_API_TOKEN) to see every investigation." }
        @if let Some(problem) = problem { p.problem { (problem) } }
        form method="post" action="/login" {
            input type="hidden" name="next" value=(next);
            label { "Token " input type="password" name="token" autocomplete="current-password"; }
            button type="submit" { "Sign in" }
        }
    };
    (status, page("Sign in", body)).into_response()
}

fn error_page_of(problem: Problem) -> Response {
    error_page(problem.status, &problem.detail)
}

fn error_page(status: StatusCode, detail: &str) -> Response {
    let body = html! {
        h1 { (status.canonical_reason().unwrap_or("Error")) }
        p.problem { (detail) }
        p { a href="/" { "All investigations" } }
    };
    (status, page("Error", body)).into_response()
}

/// A moment as people read it: `2026-12-01 22:16:17 UTC`.
fn when(ms: i64) -> String {
    let text = to_rfc3339(ms).replace('T', " ");
    format!("{} UTC", text.get(..19).unwrap_or(&text))
}

/// The CSS class of a severity band, for the row or headline colour.
fn severity_class(severity: i64, anomalous: bool) -> &'static str {
    match (anomalous, severity) {
        (false, _) => "normal",
        (true, ..=6) => "warning",
        (true, 7..=8) => "error",
        (true, _) => "critical",
    }
}

/// A whole page: the document, the style, the body.
fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · Anomaly Hunter" }
                style { (PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    }
}

/// Progressive enhancement of the chart: drag across it to draw only that stretch (the
/// server draws it), double-click to see it all again. Without JavaScript the chart is whole.
const ZOOM_SCRIPT: &str = r#"
(() => {
  const img = document.getElementById('chart');
  const figure = img && img.parentElement;
  if (!figure || !figure.dataset.from) return;
  const whole = img.src, d = figure.dataset;
  let from = +d.from, to = +d.to, start = null;
  const band = figure.appendChild(document.createElement('div'));
  band.className = 'zoom';
  const hint = figure.appendChild(document.createElement('figcaption'));
  hint.textContent = 'Drag across the chart to zoom in; double-click to see it all.';
  const x = e => e.clientX - img.getBoundingClientRect().left;
  const time = px => {
    const f = (px * img.naturalWidth / img.width - d.left) / (d.right - d.left);
    return from + Math.min(1, Math.max(0, f)) * (to - from);
  };
  img.addEventListener('mousedown', e => { e.preventDefault(); start = x(e); });
  window.addEventListener('mousemove', e => {
    if (start === null) return;
    band.style.display = 'block';
    band.style.height = img.height + 'px';
    band.style.left = Math.min(x(e), start) + 'px';
    band.style.width = Math.abs(x(e) - start) + 'px';
  });
  window.addEventListener('mouseup', e => {
    if (start === null) return;
    const [a, b] = [time(start), time(x(e))].sort((p, q) => p - q);
    start = null;
    band.style.display = 'none';
    if ((b - a) / (to - from) < 0.005) return; // a click, not a drag
    from = Math.round(a);
    to = Math.round(b);
    img.src = whole + (whole.includes('?') ? '&' : '?') + 'from=' + from + '&to=' + to;
  });
  img.addEventListener('dblclick', () => { from = +d.from; to = +d.to; img.src = whole; });
})();
"#;

const STYLE: &str = "
body { font: 15px/1.45 system-ui, sans-serif; color: #1d1d1f; margin: 0; background: #fafafa; }
main { max-width: 1240px; margin: 0 auto; padding: 16px 20px 40px; }
h1 { font-size: 1.5em; margin: .3em 0; padding-left: 10px; border-left: 6px solid #888; }
h1.normal { border-color: #2eb67d; } h1.warning { border-color: #ecb22e; }
h1.error { border-color: #e8772e; } h1.critical { border-color: #e01e5a; }
h2 { font-size: 1.15em; margin-top: 1.6em; } h3 { font-size: 1em; margin-bottom: .2em; }
.verdict { font-size: 1.1em; } .meta, .confidence { color: #666; font-size: .9em; }
.summary { background: #eef4ff; padding: 8px 12px; border-radius: 6px; }
.problem { color: #b00020; font-weight: 600; }
figure.chart { margin: 12px 0; position: relative; user-select: none; }
figure.chart .zoom { display: none; position: absolute; top: 0; background: rgba(30, 100, 220, .18); pointer-events: none; }
figure.chart figcaption { color: #666; font-size: .85em; } figure.chart img { max-width: 100%; height: auto; border: 1px solid #ddd; background: #fff; }
table { border-collapse: collapse; margin: 6px 0; background: #fff; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #e5e5e5; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.critical td:first-child { box-shadow: inset 4px 0 #e01e5a; } tr.error td:first-child { box-shadow: inset 4px 0 #e8772e; }
tr.warning td:first-child { box-shadow: inset 4px 0 #ecb22e; } tr.normal td:first-child { box-shadow: inset 4px 0 #2eb67d; }
form.filters, form.judge { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; margin: 10px 0; }
button { font: inherit; padding: 5px 14px; border-radius: 5px; border: 1px solid #888; background: #fff; cursor: pointer; }
button.confirm { background: #2eb67d; color: #fff; border-color: #2eb67d; }
button.false-positive { background: #fff; color: #b00020; border-color: #b00020; }
";
