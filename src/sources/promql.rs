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
    let base = labels
        .get("__name__")
        .cloned()
        .unwrap_or_else(|| query.to_string());
    let rest = label_list(labels);
    if rest.is_empty() {
        base
    } else {
        format!("{base}{{{rest}}}")
    }
}

/// `instance="a",job="api"` (sorted, `__name__` left out); what tells apart the series of one
/// query in a table.
pub fn label_list(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .filter(|(name, _)| name.as_str() != "__name__")
        .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
        .collect::<Vec<_>>()
        .join(",")
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
    }
}
