//! Writing NAB's result files, for NAB's own scorer; reading the corpus and scoring it are the
//! engine's (`evaluation::nab`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use engine::evaluation::nab::{LabelledFile, DETECTOR};
use engine::series::timestamp::to_calendar;

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
