//! Platforms deliver some events twice (Slack retries, a Discord gateway replays after a
//! resume); a command must still run once. This remembers the ids of recent deliveries.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// The last `capacity` ids seen, oldest forgotten first.
#[derive(Debug)]
pub struct RecentIds {
    capacity: usize,
    seen: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl RecentIds {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            seen: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }

    /// True the first time `id` is seen.
    pub fn first_time(&self, id: &str) -> bool {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (set, order) = &mut *seen;
        if !set.insert(id.to_string()) {
            return false;
        }
        order.push_back(id.to_string());
        if order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_is_caught_until_it_is_forgotten() {
        let ids = RecentIds::new(2);
        assert!(ids.first_time("a"));
        assert!(!ids.first_time("a"));
        assert!(ids.first_time("b"));
        assert!(ids.first_time("c"));
        assert!(ids.first_time("a"), "the oldest id was forgotten");
    }
}
