//! Voice alerts: a short spoken sentence for a critical verdict, synthesised by ElevenLabs when
//! a key is configured and by the local `espeak-ng` otherwise, for the chat thread. A failure
//! here is logged by the caller and never holds up the verdict.

use std::time::Duration;

use crate::config::VoiceSettings;
use thiserror::Error;

use engine::agents::catalogue::CATALOGUE;
use engine::investigation::Verdict;

const ELEVENLABS_MODEL: &str = "eleven_multilingual_v2";
/// Longest wait for a clip, from either engine.
const SYNTHESIS_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Clone)]
pub struct VoiceConfig {
    /// Speak when severity ≥ this…
    pub min_severity: u8,
    /// …and confidence ≥ this.
    pub min_confidence: f64,
    pub elevenlabs: Option<ElevenLabs>,
    /// The offline engine's binary.
    pub espeak: String,
}

#[derive(Clone)]
pub struct ElevenLabs {
    pub api_key: String,
    pub api_url: String,
    pub voice_id: String,
}

impl std::fmt::Debug for VoiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceConfig")
            .field("min_severity", &self.min_severity)
            .field("min_confidence", &self.min_confidence)
            .field("elevenlabs", &self.elevenlabs.as_ref().map(|e| &e.api_url))
            .field("espeak", &self.espeak)
            .finish()
    }
}

impl VoiceConfig {
    pub fn from_settings(settings: &VoiceSettings) -> Self {
        Self {
            min_severity: settings.voice_min_severity,
            min_confidence: settings.voice_min_confidence,
            elevenlabs: settings
                .elevenlabs_api_key
                .clone()
                .map(|api_key| ElevenLabs {
                    api_key,
                    api_url: settings
                        .elevenlabs_api_url
                        .trim_end_matches('/')
                        .to_string(),
                    voice_id: settings.elevenlabs_voice_id.clone(),
                }),
            espeak: settings.espeak.clone(),
        }
    }

    /// The sentence to speak for `verdict`, or `None` below the thresholds.
    pub fn announcement(&self, verdict: &Verdict) -> Option<String> {
        let loud = verdict.anomalous
            && verdict.severity >= self.min_severity
            && verdict.confidence >= self.min_confidence;
        loud.then(|| announcement(verdict))
    }
}

/// "Critical anomaly in api_latency_p99: connection-pool exhaustion suspected, 95 percent
/// confidence". Metric names are spoken with spaces for underscores.
pub fn announcement(verdict: &Verdict) -> String {
    let level = if verdict.severity >= 9 {
        "Critical"
    } else {
        "Severe"
    };
    let suspicion = match verdict
        .pattern
        .and_then(|id| CATALOGUE.iter().find(|p| p.id == id))
    {
        Some(pattern) => format!("{} suspected", pattern.name.to_lowercase()),
        None => match verdict.main_window() {
            Some(window) => format!("{} detected", kind_words(window.kind)),
            None => "cause unknown".to_string(),
        },
    };
    let confidence = if verdict.confidence >= engine::agents::MAX_CONFIDENCE {
        "at least 99 percent".to_string()
    } else {
        format!("{} percent", (verdict.confidence * 100.0).round())
    };
    format!(
        "{level} anomaly in {}: {suspicion}, {confidence} confidence",
        verdict.metric.replace('_', " "),
    )
}

fn kind_words(kind: engine::agents::WindowKind) -> String {
    let debug = format!("{kind:?}");
    let mut words = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            words.push(' ');
        }
        words.push(c.to_ascii_lowercase());
    }
    words
}

/// A synthesised clip, ready to attach.
#[derive(Debug, Clone)]
pub struct VoiceClip {
    pub filename: String,
    pub audio: Vec<u8>,
}

#[derive(Debug, Error)]
pub enum VoiceError {
    #[error("ElevenLabs did not answer: {0}")]
    Unreachable(reqwest::Error),
    #[error("ElevenLabs refused the request ({status}): {detail}")]
    Refused { status: u16, detail: String },
    #[error("cannot run `{binary}` (install espeak-ng or set ANOMALY_HUNTER_ESPEAK): {source}")]
    Espeak {
        binary: String,
        source: std::io::Error,
    },
    #[error("`{binary}` failed: {detail}")]
    EspeakFailed { binary: String, detail: String },
    #[error("speech synthesis took longer than {} s", SYNTHESIS_TIMEOUT.as_secs())]
    Timeout,
}

/// Synthesises speech with the configured engine.
pub struct Voice {
    config: VoiceConfig,
    http: reqwest::Client,
}

impl Voice {
    pub fn new(config: VoiceConfig) -> Self {
        Self {
            config,
            http: reqwest::Client::builder()
                .timeout(SYNTHESIS_TIMEOUT)
                .build()
                .unwrap_or_default(),
        }
    }

    pub fn config(&self) -> &VoiceConfig {
        &self.config
    }

    /// The spoken alert for `verdict`: `None` below the thresholds.
    pub async fn alert(&self, verdict: &Verdict) -> Option<Result<VoiceClip, VoiceError>> {
        let text = self.config.announcement(verdict)?;
        let stem = format!("{}-alert", verdict.metric);
        let clip = match &self.config.elevenlabs {
            Some(elevenlabs) => self.elevenlabs(elevenlabs, &text, &stem).await,
            None => self.espeak(&text, &stem).await,
        };
        Some(clip)
    }

    async fn elevenlabs(
        &self,
        elevenlabs: &ElevenLabs,
        text: &str,
        stem: &str,
    ) -> Result<VoiceClip, VoiceError> {
        let url = format!(
            "{}/v1/text-to-speech/{}",
            elevenlabs.api_url, elevenlabs.voice_id
        );
        let response = self
            .http
            .post(url)
            .header("xi-api-key", &elevenlabs.api_key)
            .header(reqwest::header::ACCEPT, "audio/mpeg")
            .json(&serde_json::json!({"text": text, "model_id": ELEVENLABS_MODEL}))
            .send()
            .await
            .map_err(VoiceError::Unreachable)?;
        let status = response.status();
        if !status.is_success() {
            return Err(VoiceError::Refused {
                status: status.as_u16(),
                detail: crate::retry::refusal_text(response).await,
            });
        }
        let audio = response.bytes().await.map_err(VoiceError::Unreachable)?;
        Ok(VoiceClip {
            filename: format!("{stem}.mp3"),
            audio: audio.to_vec(),
        })
    }

    /// `espeak-ng -w FILE`: written to a scratch file so the WAV header carries real sizes.
    async fn espeak(&self, text: &str, stem: &str) -> Result<VoiceClip, VoiceError> {
        let binary = &self.config.espeak;
        let path =
            std::env::temp_dir().join(format!("anomaly-hunter-{}.wav", uuid::Uuid::new_v4()));
        let run = tokio::process::Command::new(binary)
            .arg("-w")
            .arg(&path)
            .arg("--")
            .arg(text)
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(SYNTHESIS_TIMEOUT, run)
            .await
            .map_err(|_| VoiceError::Timeout)?
            .map_err(|source| VoiceError::Espeak {
                binary: binary.clone(),
                source,
            })?;
        let audio = std::fs::read(&path);
        let _ = std::fs::remove_file(&path);
        match (output.status.success(), audio) {
            (true, Ok(audio)) if !audio.is_empty() => Ok(VoiceClip {
                filename: format!("{stem}.wav"),
                audio,
            }),
            _ => Err(VoiceError::EspeakFailed {
                binary: binary.clone(),
                detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            }),
        }
    }
}
