//! Bounded work: how many investigations run at once, how many may wait, and how often one
//! person or one channel may ask. Under overload the bot says so — "queued, 3 ahead", or a
//! polite refusal with when to try again — instead of timing out or falling over.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// The rate limits' window.
const WINDOW: Duration = Duration::from_secs(60);
/// Keys kept by a rate limiter before idle ones are forgotten.
const MAX_TRACKED_KEYS: usize = 10_000;

/// How much work the bot takes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkLimits {
    /// Investigations running at once.
    pub concurrency: usize,
    /// Investigations waiting for a slot; beyond, refused.
    pub queue: usize,
    /// Commands per person per minute (0 = no limit).
    pub user_rate: u32,
    /// Commands per channel per minute (0 = no limit).
    pub channel_rate: u32,
}

impl Default for WorkLimits {
    /// As many at once as there are cores; no rate limits (the command line).
    fn default() -> Self {
        Self {
            concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            queue: 200,
            user_rate: 0,
            channel_rate: 0,
        }
    }
}

/// Admits work or refuses it politely.
#[derive(Debug)]
pub struct Admission {
    limits: WorkLimits,
    slots: Arc<Semaphore>,
    counts: Arc<Counts>,
    users: RateLimiter,
    channels: RateLimiter,
}

/// Investigations admitted and not yet started, and running; each change is reported to
/// `/metrics`.
#[derive(Debug, Default)]
struct Counts {
    waiting: AtomicUsize,
    running: AtomicUsize,
}

impl Counts {
    fn report(&self) {
        crate::telemetry::work_queue(
            self.running.load(Ordering::Relaxed),
            self.waiting.load(Ordering::Relaxed),
        );
    }
}

/// A place in the queue; [`Ticket::run`] waits for a slot, then runs the work.
#[derive(Debug)]
pub struct Ticket {
    slots: Arc<Semaphore>,
    counts: Arc<Counts>,
    /// `None`: a slot is free now; `Some(n)`: queued behind `n` others.
    pub ahead: Option<usize>,
    started: bool,
}

impl Admission {
    pub fn new(limits: WorkLimits) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            counts: Arc::default(),
            users: RateLimiter::new(limits.user_rate),
            channels: RateLimiter::new(limits.channel_rate),
            limits,
        }
    }

    /// A ticket for one investigation asked by `user` in `channel` (per platform), or the
    /// sentence that says why not and when to try again.
    pub fn admit(&self, platform: &str, user: &str, channel: &str) -> Result<Ticket, String> {
        if let Err(wait) = self.users.allow(&format!("{platform}:{user}")) {
            crate::telemetry::refused("user_rate");
            return Err(format!(
                "You have asked for {} investigations in the last minute, my limit per person; try again in {} s.",
                self.limits.user_rate,
                wait.as_secs().max(1)
            ));
        }
        if let Err(wait) = self.channels.allow(&format!("{platform}:{channel}")) {
            crate::telemetry::refused("channel_rate");
            return Err(format!(
                "This channel has asked for {} investigations in the last minute, my limit per channel; try again in {} s.",
                self.limits.channel_rate,
                wait.as_secs().max(1)
            ));
        }
        self.ticket()
    }

    /// A ticket without rate limits (alerts, the metrics stream, the command line).
    pub fn ticket(&self) -> Result<Ticket, String> {
        let waiting = self.counts.waiting.fetch_add(1, Ordering::SeqCst);
        if waiting >= self.limits.queue.max(1) && self.slots.available_permits() == 0 {
            self.counts.waiting.fetch_sub(1, Ordering::SeqCst);
            crate::telemetry::refused("busy");
            return Err(format!(
                "I am busy: {waiting} investigations are already waiting. Please try again in a minute."
            ));
        }
        let free = self.slots.available_permits();
        self.counts.report();
        Ok(Ticket {
            slots: self.slots.clone(),
            counts: self.counts.clone(),
            ahead: (waiting >= free).then(|| waiting - free),
            started: false,
        })
    }
}

impl Ticket {
    /// "(busy: queued, 3 ahead)" for an acknowledgement, empty when work starts at once.
    pub fn queued_note(&self) -> String {
        match self.ahead {
            None => String::new(),
            Some(0) => " (busy: queued, next in line)".to_string(),
            Some(n) => format!(" (busy: queued, {n} ahead)"),
        }
    }

    /// Waits for a free slot (first come, first served), then runs `work` in it.
    pub async fn run<F: Future>(mut self, work: F) -> F::Output {
        let permit = self.slots.clone().acquire_owned().await;
        self.started = true;
        self.counts.waiting.fetch_sub(1, Ordering::SeqCst);
        let _running = Running::start(self.counts.clone());
        let output = work.await;
        drop(permit);
        output
    }
}

impl Drop for Ticket {
    /// A ticket dropped before it ran (its task was cancelled) leaves the queue.
    fn drop(&mut self) {
        if !self.started {
            self.counts.waiting.fetch_sub(1, Ordering::SeqCst);
            self.counts.report();
        }
    }
}

/// Counts a running investigation for as long as it lives, cancellation included.
struct Running(Arc<Counts>);

impl Running {
    fn start(counts: Arc<Counts>) -> Self {
        counts.running.fetch_add(1, Ordering::SeqCst);
        counts.report();
        Self(counts)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
        self.0.report();
    }
}

/// At most `per_minute` hits per key in any sliding minute.
#[derive(Debug)]
struct RateLimiter {
    per_minute: u32,
    hits: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a hit for `key`, or says how long until one is allowed.
    fn allow(&self, key: &str) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if hits.len() > MAX_TRACKED_KEYS {
            hits.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        let times = hits.entry(key.to_string()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            times.pop_front();
        }
        if times.len() >= self.per_minute as usize {
            let oldest = times.front().copied().unwrap_or(now);
            return Err(WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(concurrency: usize, queue: usize, user_rate: u32, channel_rate: u32) -> Admission {
        Admission::new(WorkLimits {
            concurrency,
            queue,
            user_rate,
            channel_rate,
        })
    }

    #[test]
    fn a_person_over_the_rate_is_told_when_to_come_back() {
        let admission = admission(4, 100, 2, 0);
        assert!(admission.admit("slack", "U1", "C1").is_ok());
        assert!(admission.admit("slack", "U1", "C1").is_ok());
        let refused = admission.admit("slack", "U1", "C1").unwrap_err();
        assert!(
            refused.contains("2 investigations in the last minute"),
            "{refused}"
        );
        assert!(refused.contains("try again in"), "{refused}");
        assert!(
            admission.admit("slack", "U2", "C1").is_ok(),
            "another person is not limited"
        );
        assert!(
            admission.admit("discord", "U1", "C1").is_ok(),
            "nor the same id elsewhere"
        );
    }

    #[test]
    fn a_channel_over_its_rate_is_refused_whoever_asks() {
        let admission = admission(4, 100, 0, 1);
        assert!(admission.admit("slack", "U1", "C1").is_ok());
        assert!(admission
            .admit("slack", "U2", "C1")
            .unwrap_err()
            .contains("This channel"));
    }

    #[tokio::test]
    async fn work_beyond_the_slots_queues_in_order_and_a_full_queue_refuses() {
        let admission = admission(1, 2, 0, 0);
        let first = admission.ticket().unwrap();
        assert_eq!(first.ahead, None, "a free slot: starts at once");
        let (release, hold) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(first.run(async move { hold.await.ok() }));
        // Wait until the first holds the slot.
        while admission.slots.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let second = admission.ticket().unwrap();
        assert_eq!(second.ahead, Some(0));
        assert_eq!(second.queued_note(), " (busy: queued, next in line)");
        let third = admission.ticket().unwrap();
        assert_eq!(third.ahead, Some(1));
        let refused = admission.ticket().unwrap_err();
        assert!(refused.contains("busy"), "{refused}");
        drop(third);
        assert!(
            admission.ticket().is_ok(),
            "a cancelled ticket frees its place"
        );
        release.send(()).unwrap();
        running.await.unwrap();
        assert_eq!(second.run(async { 7 }).await, 7);
    }
}
