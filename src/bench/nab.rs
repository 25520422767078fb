//! Reading the Numenta Anomaly Benchmark's corpus from disk and writing NAB's result files;
//! the scoring itself is the engine's (`evaluation::nab`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use engine::evaluation::nab::{LabelledFile, DETECTOR};
use engine::series::csv::{read_rows_as_written, CsvOptions};
use engine::series::timestamp::{to_calendar, TimestampFormat};

/// Reads the corpus: `windows.json` (file → `[start, end]` timestamps) and the CSV files it
/// names, relative to `dir`.
pub fn load(dir: &Path) -> anyhow::Result<Vec<LabelledFile>> {
    let labels_path = dir.join("windows.json");
    let labels = std::fs::read_to_string(&labels_path).with_context(|| {
        format!(
            "cannot read {}; pass --data with the NAB corpus folder (windows.json and the CSV folders it names)",
            labels_path.display()
        )
    })?;
    let labels: BTreeMap<String, Vec<[String; 2]>> = serde_json::from_str(&labels)
        .with_context(|| format!("{}: not NAB's windows format", labels_path.display()))?;
    labels
        .into_iter()
        .map(|(name, windows)| {
            let (timestamps, values) =
                read_rows_as_written(&dir.join(&name), &CsvOptions::default())?.columns();
            // NAB finds a window's bounds at the first row with that timestamp.
            let row_of = |text: &str| -> anyhow::Result<usize> {
                let at = TimestampFormat::Calendar
                    .parse(text)
                    .with_context(|| format!("{name}: window bound `{text}` is no timestamp"))?;
                timestamps.iter().position(|&t| t == at).with_context(|| {
                    format!("{name}: window bound `{text}` is not a row of the file")
                })
            };
            let windows = windows
                .iter()
                .map(|[start, end]| Ok((row_of(start)?, row_of(end)?)))
                .collect::<anyhow::Result<_>>()?;
            Ok(LabelledFile {
                name,
                timestamps,
                values,
                windows,
            })
        })
        .collect()
}

/// Writes NAB's result files, `dir/anomalyhunter/<category>/anomalyhunter_<file>.csv` with
/// `timestamp,value,anomaly_score,label`; returns the detector's folder.
pub fn write_results(
    dir: &Path,
    corpus: &[LabelledFile],
    scores: &[Vec<f64>],
) -> anyhow::Result<PathBuf> {
    let detector_dir = dir.join(DETECTOR);
    for (file, file_scores) in corpus.iter().zip(scores) {
        let (category, name) = file
            .name
            .rsplit_once('/')
            .with_context(|| format!("{}: expected category/file.csv", file.name))?;
        let folder = detector_dir.join(category);
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("creating {}", folder.display()))?;
        let path = folder.join(format!("{DETECTOR}_{name}"));
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
        );
        writeln!(out, "timestamp,value,anomaly_score,label")?;
        for (row, ((&at, &value), &score)) in file
            .timestamps
            .iter()
            .zip(&file.values)
            .zip(file_scores)
            .enumerate()
        {
            let label = u8::from(file.windows.iter().any(|&(s, e)| (s..=e).contains(&row)));
            writeln!(out, "{},{value},{score},{label}", to_calendar(at))?;
        }
        out.flush()
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(detector_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_bounds_become_rows_of_the_file() {
        let dir = std::env::temp_dir().join(format!("anomaly-hunter-nab-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("real")).unwrap();
        let mut csv = String::from("timestamp,value\n");
        for minute in 0..60 {
            csv.push_str(&format!(
                "2014-04-10 07:{minute:02}:00,{}\n",
                10 + minute % 3
            ));
        }
        std::fs::write(dir.join("real/a.csv"), csv).unwrap();
        std::fs::write(
            dir.join("windows.json"),
            r#"{"real/a.csv": [["2014-04-10 07:10:00.000000", "2014-04-10 07:19:00.000000"]]}"#,
        )
        .unwrap();
        let corpus = load(&dir).unwrap();
        assert_eq!(corpus[0].name, "real/a.csv");
        assert_eq!(corpus[0].values.len(), 60);
        assert_eq!(corpus[0].windows, [(10, 19)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
