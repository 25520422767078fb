//! What keeps a model from costing more than it gives: a circuit breaker (after repeated
//! failures the model is left alone for a while, so a dead endpoint costs nothing per verdict)
//! and a token budget per UTC day. Time is passed in, so both are plain state machines.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Consecutive failures that open the breaker.
pub const FAILURES_TO_OPEN: u32 = 3;
/// How long an open breaker stays open before one request is tried again.
pub const COOL_DOWN: Duration = Duration::from_secs(60);

/// Why a request was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Skip {
    #[error("the model failed {FAILURES_TO_OPEN} times in a row; it is left alone for a minute")]
    CircuitOpen,
    #[error("today's token budget (LLM_DAILY_TOKENS) is spent")]
    BudgetSpent,
}

impl Skip {
    pub fn reason(self) -> &'static str {
        match self {
            Self::CircuitOpen => "circuit_open",
            Self::BudgetSpent => "budget_spent",
        }
    }
}

#[derive(Debug, Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    /// UTC day number and tokens used on it.
    day: i64,
    tokens_today: u64,
}

#[derive(Debug)]
pub struct Guard {
    daily_tokens: u64,
    state: Mutex<State>,
}

impl Guard {
    /// `daily_tokens` = 0: no budget.
    pub fn new(daily_tokens: u64) -> Self {
        Self {
            daily_tokens,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a request may go now (`day`: the UTC day number).
    pub fn admit(&self, now: Instant, day: i64) -> Result<(), Skip> {
        let mut state = self.state();
        if state.day != day {
            state.day = day;
            state.tokens_today = 0;
        }
        if self.daily_tokens > 0 && state.tokens_today >= self.daily_tokens {
            return Err(Skip::BudgetSpent);
        }
        match state.open_until {
            Some(until) if now < until => Err(Skip::CircuitOpen),
            _ => Ok(()),
        }
    }

    /// Records a request's outcome: a success closes the breaker, the last of
    /// [`FAILURES_TO_OPEN`] failures in a row opens it (again, after a failed trial).
    pub fn record(&self, succeeded: bool, tokens: u64, now: Instant, day: i64) {
        let mut state = self.state();
        if state.day != day {
            state.day = day;
            state.tokens_today = 0;
        }
        state.tokens_today += tokens;
        if succeeded {
            state.consecutive_failures = 0;
            state.open_until = None;
        } else {
            state.consecutive_failures += 1;
            if state.consecutive_failures >= FAILURES_TO_OPEN {
                state.open_until = Some(now + COOL_DOWN);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_after_failures_and_tries_again_later() {
        let guard = Guard::new(0);
        let now = Instant::now();
        for _ in 0..FAILURES_TO_OPEN - 1 {
            guard.record(false, 0, now, 1);
            assert_eq!(guard.admit(now, 1), Ok(()));
        }
        guard.record(false, 0, now, 1);
        assert_eq!(guard.admit(now, 1), Err(Skip::CircuitOpen));
        let later = now + COOL_DOWN;
        assert_eq!(guard.admit(later, 1), Ok(()), "one trial after the pause");
        guard.record(false, 0, later, 1);
        assert_eq!(
            guard.admit(later, 1),
            Err(Skip::CircuitOpen),
            "a failed trial opens it again"
        );
        guard.record(true, 0, later + COOL_DOWN, 1);
        assert_eq!(guard.admit(later + COOL_DOWN, 1), Ok(()));
    }

    #[test]
    fn the_budget_is_per_day() {
        let guard = Guard::new(1_000);
        let now = Instant::now();
        guard.record(true, 999, now, 7);
        assert_eq!(guard.admit(now, 7), Ok(()));
        guard.record(true, 5, now, 7);
        assert_eq!(guard.admit(now, 7), Err(Skip::BudgetSpent));
        assert_eq!(guard.admit(now, 8), Ok(()), "a new day, a new budget");
    }
}
