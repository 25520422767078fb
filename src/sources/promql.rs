//! The little PromQL the bot needs to understand without a parser: which text is a query,
//! the measured side of an alert's comparison, and a label selector for related series.
//! Pure text functions, no I/O.

use std::collections::BTreeMap;

/// Labels that tie a series to the service behind it; related series are looked up by the
/// ones the investigated series has.
pub const SERVICE_LABELS: [&str; 4] = ["job", "instance", "service", "namespace"];

/// True for a bare metric name (`api_latency`, `db.latency`): a name the store may hold.
/// Anything else (`rate(x[5m])`, `up{job="api"}`) is a PromQL expression.
pub fn is_metric_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c))
}

/// Chat clients turn quotes into typographic ones and Slack escapes `<>&`; PromQL needs the
/// plain characters back.
pub fn from_chat(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace(['\u{201C}', '\u{201D}', '\u{201E}'], "\"")
        .replace(['\u{2018}', '\u{2019}'], "'")
        .trim()
        .trim_matches('`')
        .trim()
        .to_string()
}

/// The measured side of an alerting expression: `api_latency_seconds > 0.5` is investigated
/// as `api_latency_seconds` (the comparison would drop every point below the threshold, the
/// baseline included). The first comparison at the top level (outside parentheses, braces,
/// brackets and strings) splits; an expression without one is returned whole.
pub fn measured_side(expr: &str) -> &str {
    let bytes = expr.as_bytes();
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'"' | b'\'' | b'`' => quote = Some(c),
                b'(' | b'{' | b'[' => depth += 1,
                b')' | b'}' | b']' => depth -= 1,
                b'>' | b'<' if depth == 0 => return expr[..i].trim(),
                b'=' | b'!' if depth == 0 && bytes.get(i + 1) == Some(&b'=') => {
                    return expr[..i].trim()
                }
                _ => {}
            },
        }
        i += 1;
    }
    expr.trim()
}

/// `job="api",instance="db-1:9100"`: the service labels among `labels`, ready to go inside
/// `{…}`; empty when the series has none of them.
pub fn service_selector(labels: &BTreeMap<String, String>) -> String {
    SERVICE_LABELS
        .iter()
        .filter_map(|name| {
            labels
                .get(*name)
                .map(|value| format!("{name}=\"{}\"", escape(value)))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A label value inside double quotes.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// How a series is named in verdicts and the store: `name{label="v",…}` without `__name__`,
/// or the query itself when the result has no name (`rate(x[5m]){job="api"}`).
pub fn series_name(query: &str, labels: &BTreeMap<String, String>) -> String {
    series_name_of_sorted(
        query,
        labels
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    )
}

/// `instance="a",job="api"` (sorted, `__name__` left out); what tells apart the series of one
/// query in a table.
pub fn label_list(labels: &BTreeMap<String, String>) -> String {
    let mut text = String::new();
    write_labels(
        &mut text,
        labels
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    text
}

/// [`series_name`] of a series given as label pairs sorted by name (as remote write sends
/// them), without building a map; `unnamed` stands for the name when there is no `__name__`.
pub fn series_name_of_sorted<'a>(
    unnamed: &str,
    labels: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) -> String {
    let name = labels
        .clone()
        .find(|(label, _)| *label == "__name__")
        .map_or(unnamed, |(_, value)| value);
    let mut text = String::with_capacity(64);
    text.push_str(name);
    text.push('{');
    write_labels(&mut text, labels);
    if text.ends_with('{') {
        text.pop();
    } else {
        text.push('}');
    }
    text
}

/// Appends `a="x",b="y"` for the pairs other than `__name__`.
fn write_labels<'a>(text: &mut String, labels: impl Iterator<Item = (&'a str, &'a str)>) {
    for (name, value) in labels.filter(|(name, _)| *name != "__name__") {
        if !text.is_empty() && !text.ends_with('{') {
            text.push(',');
        }
        text.push_str(name);
        text.push_str("=\"");
        if value.contains(['\\', '"', '\n']) {
            text.push_str(&escape(value));
        } else {
            text.push_str(value);
        }
        text.push('"');
    }
}

/// A series selector — `http_requests_total{job="api"}`, `{__name__=~"http_.*"}` — parsed
/// once: which series remote write scores. As in PromQL, a label a series lacks has the value
/// "" and a regular expression must match the whole value.
#[derive(Debug, Clone)]
pub struct SeriesSelector {
    text: String,
    matchers: Vec<LabelMatcher>,
}

#[derive(Debug, Clone)]
struct LabelMatcher {
    label: String,
    test: LabelTest,
}

#[derive(Debug, Clone)]
enum LabelTest {
    Equal(String),
    NotEqual(String),
    Matches(regex::Regex),
    NotMatches(regex::Regex),
}

impl LabelMatcher {
    fn accepts(&self, value: &str) -> bool {
        match &self.test {
            LabelTest::Equal(wanted) => value == wanted,
            LabelTest::NotEqual(unwanted) => value != unwanted,
            LabelTest::Matches(pattern) => pattern.is_match(value),
            LabelTest::NotMatches(pattern) => !pattern.is_match(value),
        }
    }
}

impl std::fmt::Display for SeriesSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for SeriesSelector {
    type Err = String;

    /// `name`, `name{…}` or `{…}`, where `…` is `label op "value"` separated by commas and
    /// `op` is `=`, `!=`, `=~` or `!~`.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let name_end = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(text.len());
        let (name, rest) = text.split_at(name_end);
        let mut matchers = Vec::new();
        if !name.is_empty() {
            if name.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(format!("`{name}` is not a metric name"));
            }
            matchers.push(LabelMatcher {
                label: "__name__".into(),
                test: LabelTest::Equal(name.into()),
            });
        }
        let rest = rest.trim();
        if !rest.is_empty() {
            let inner = rest
                .strip_prefix('{')
                .and_then(|r| r.strip_suffix('}'))
                .ok_or("expected `{label=\"value\", …}` after the metric name")?;
            parse_matchers(inner, &mut matchers)?;
        }
        if matchers.is_empty() {
            return Err("selects nothing: give a metric name or `{label=\"value\"}`".into());
        }
        Ok(Self {
            text: text.to_string(),
            matchers,
        })
    }
}

impl SeriesSelector {
    /// True when the series with these labels is selected.
    pub fn matches<'a>(&self, labels: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> bool {
        self.matchers.iter().all(|matcher| {
            let value = labels
                .clone()
                .find(|(name, _)| *name == matcher.label)
                .map_or("", |(_, value)| value);
            matcher.accepts(value)
        })
    }
}

/// Reads `label op "value", …` (a trailing comma allowed) into `matchers`.
fn parse_matchers(mut inner: &str, matchers: &mut Vec<LabelMatcher>) -> Result<(), String> {
    loop {
        inner = inner.trim_start();
        if inner.is_empty() {
            return Ok(());
        }
        let label_end = inner
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(inner.len());
        let label = &inner[..label_end];
        if label.is_empty() || label.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("expected a label name at `{inner}`"));
        }
        let after = inner[label_end..].trim_start();
        let (op, after) = ["=~", "!~", "!=", "="]
            .into_iter()
            .find_map(|op| after.strip_prefix(op).map(|rest| (op, rest)))
            .ok_or_else(|| format!("expected =, !=, =~ or !~ after `{label}`"))?;
        let (value, after) = quoted(after.trim_start())
            .ok_or_else(|| format!("expected a quoted value after `{label}{op}`"))?;
        let pattern = || {
            regex::Regex::new(&format!("^(?:{value})$"))
                .map_err(|e| format!("`{value}` is not a regular expression: {e}"))
        };
        let test = match op {
            "=" => LabelTest::Equal(value),
            "!=" => LabelTest::NotEqual(value),
            "=~" => LabelTest::Matches(pattern()?),
            _ => LabelTest::NotMatches(pattern()?),
        };
        matchers.push(LabelMatcher {
            label: label.to_string(),
            test,
        });
        inner = after.trim_start();
        match inner.strip_prefix(',') {
            Some(rest) => inner = rest,
            None if inner.is_empty() => return Ok(()),
            None => return Err(format!("expected `,` or `}}` at `{inner}`")),
        }
    }
}

/// A value in `"…"`, `'…'` or `` `…` `` (backslash escapes inside the first two); the value
/// and the text after its closing quote.
fn quoted(text: &str) -> Option<(String, &str)> {
    let quote = text.chars().next().filter(|c| "\"'`".contains(*c))?;
    let mut value = String::new();
    let mut chars = text[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if quote != '`' => match chars.next()?.1 {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                other => value.push(other),
            },
            c if c == quote => return Some((value, &text[1 + i + 1..])),
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_and_expressions() {
        assert!(is_metric_name("api_latency_seconds"));
        assert!(is_metric_name("api_latency.db_connections_active"));
        assert!(!is_metric_name("rate(http_requests_total[5m])"));
        assert!(!is_metric_name("up{job=\"api\"}"));
        assert!(!is_metric_name(""));
    }

    #[test]
    fn chat_text_becomes_promql() {
        assert_eq!(
            from_chat("`up{job=\u{201C}api\u{201D}} &gt; 0`"),
            "up{job=\"api\"} > 0"
        );
    }

    #[test]
    fn the_measured_side_of_an_alert() {
        assert_eq!(
            measured_side("api_latency_seconds > 0.5"),
            "api_latency_seconds"
        );
        assert_eq!(
            measured_side(
                "histogram_quantile(0.99, sum by (le) (rate(x_bucket{a!=\"b\"}[5m]))) >= 0.5"
            ),
            "histogram_quantile(0.99, sum by (le) (rate(x_bucket{a!=\"b\"}[5m])))"
        );
        assert_eq!(
            measured_side("up{job=~\"a|b\", code=\">\"} == 0"),
            "up{job=~\"a|b\", code=\">\"}"
        );
        assert_eq!(
            measured_side("rate(errors_total[5m]) != bool 0"),
            "rate(errors_total[5m])"
        );
        assert_eq!(measured_side("  node_load1 "), "node_load1");
    }

    #[test]
    fn selectors_and_names() {
        let l = labels(&[
            ("__name__", "api_latency_seconds"),
            ("job", "api"),
            ("instance", "a\"b"),
            ("le", "0.5"),
        ]);
        assert_eq!(service_selector(&l), "job=\"api\",instance=\"a\\\"b\"");
        assert_eq!(
            series_name("ignored", &l),
            "api_latency_seconds{instance=\"a\\\"b\",job=\"api\",le=\"0.5\"}"
        );
        assert_eq!(series_name("sum(x)", &labels(&[])), "sum(x)");
        assert_eq!(service_selector(&labels(&[("le", "1")])), "");
        let pairs = l.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        assert_eq!(series_name_of_sorted("", pairs), series_name("ignored", &l));
        assert_eq!(
            series_name_of_sorted("", [("__name__", "up")].into_iter()),
            "up"
        );
    }

    fn selects(selector: &str, pairs: &[(&str, &str)]) -> bool {
        selector
            .parse::<SeriesSelector>()
            .unwrap()
            .matches(pairs.iter().copied())
    }

    #[test]
    fn series_selectors_match_as_promql_does() {
        let http = [("__name__", "http_requests_total"), ("job", "api")];
        let latency = [("__name__", "db_latency_seconds"), ("job", "db")];
        let up = [("__name__", "up"), ("job", "api")];
        let any = r#"{__name__=~"http_.*|.*_latency_seconds"}"#;
        assert!(selects(any, &http) && selects(any, &latency) && !selects(any, &up));
        // Anchored: `http_` alone does not match `http_requests_total`.
        assert!(!selects(r#"{__name__=~"http_"}"#, &http));
        assert!(selects(r#"http_requests_total{job="api"}"#, &http));
        assert!(!selects(r#"http_requests_total{job!="api"}"#, &http));
        assert!(selects(r#"{job!~'d.*', }"#, &http) && !selects("{job!~'d.*'}", &latency));
        // A missing label is "".
        assert!(selects(r#"up{zone=""}"#, &up) && !selects(r#"up{zone="a"}"#, &up));
        assert!(selects(r#"{job="a\"b"}"#, &[("job", "a\"b")]));
    }

    #[test]
    fn bad_selectors_say_what_is_wrong() {
        for (bad, says) in [
            ("", "selects nothing"),
            ("{}", "selects nothing"),
            ("up{job=api}", "quoted value"),
            ("up{job~\"a\"}", "expected =, !=, =~ or !~"),
            (r#"{job=~"("}"#, "not a regular expression"),
            (r#"up{job="a" zone="b"}"#, "expected `,`"),
            (r#"up job="a""#, "after the metric name"),
            (r#"{job="a}"#, "quoted value"),
        ] {
            let error = bad.parse::<SeriesSelector>().unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
