-- What each investigation's chart draws (JSON: the series thinned to the chart's width with
-- each point's expected value, the band, the windows), so the investigation page and
-- /api/v1/investigations/{id}/chart.png can draw it again without the series.
CREATE TABLE investigation_charts (
    investigation_id TEXT PRIMARY KEY REFERENCES investigations (id),
    chart_json TEXT NOT NULL
);
