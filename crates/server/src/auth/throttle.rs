//! Sign-in throttling: a bounded number of unfinished (failed or pending)
//! password attempts per user name and per client address in a window.
//! A refused attempt is refused before the user is looked up or a hash is
//! computed, with the same answer whether the user exists or not.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

tokio::task_local! {
    /// The address of the client whose request is being served, set by the
    /// HTTP layer around each request.
    pub static CLIENT_ADDR: IpAddr;
}

/// The current request's client address, when the HTTP layer set one.
pub fn client_addr() -> Option<IpAddr> {
    CLIENT_ADDR.try_with(|addr| *addr).ok()
}

/// How many attempts are allowed, per what, in which window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failed attempts per user name in a window (0: unlimited).
    pub per_user: u32,
    /// Failed attempts per client address in a window (0: unlimited).
    pub per_address: u32,
    pub window: Duration,
}

/// Entries kept per map before expired ones are dropped.
const MAX_ENTRIES: usize = 100_000;

struct Counter {
    started: Instant,
    attempts: u32,
}

struct Windows<K> {
    counters: Mutex<HashMap<K, Counter>>,
}

impl<K: Hash + Eq + Clone> Windows<K> {
    fn new() -> Self {
        Windows {
            counters: Mutex::new(HashMap::new()),
        }
    }

    /// Whether another attempt is allowed, or how long to wait.
    fn check(&self, key: &K, limit: u32, window: Duration, now: Instant) -> Result<(), Duration> {
        if limit == 0 {
            return Ok(());
        }
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        match counters.get(key) {
            Some(c) if now.duration_since(c.started) < window && c.attempts >= limit => {
                Err(window.saturating_sub(now.duration_since(c.started)))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed attempt.
    fn fail(&self, key: &K, limit: u32, window: Duration, now: Instant) {
        if limit == 0 {
            return;
        }
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        if counters.len() >= MAX_ENTRIES {
            counters.retain(|_, c| now.duration_since(c.started) < window);
            if counters.len() >= MAX_ENTRIES {
                // Memory stays bounded even under a spread-out attack.
                counters.clear();
            }
        }
        let counter = counters.entry(key.clone()).or_insert(Counter {
            started: now,
            attempts: 0,
        });
        if now.duration_since(counter.started) >= window {
            *counter = Counter {
                started: now,
                attempts: 0,
            };
        }
        counter.attempts = counter.attempts.saturating_add(1);
    }

    fn forget(&self, key: &K) {
        self.counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

/// Per-user-name and per-address attempt windows.
pub struct LoginThrottle {
    limits: ThrottleLimits,
    users: Windows<String>,
    addresses: Windows<IpAddr>,
}

impl LoginThrottle {
    pub fn new(limits: ThrottleLimits) -> Self {
        LoginThrottle {
            limits,
            users: Windows::new(),
            addresses: Windows::new(),
        }
    }

    /// Whether an attempt for `user_name` from `addr` may run, or how long
    /// to wait. Only failures count, so that concurrent good requests
    /// (Basic auth) are never refused.
    pub fn check(&self, user_name: &str, addr: Option<IpAddr>) -> Result<(), Duration> {
        let now = Instant::now();
        let (limits, window) = (self.limits, self.limits.window);
        if let Some(addr) = addr {
            self.addresses
                .check(&addr, limits.per_address, window, now)?;
        }
        self.users
            .check(&normalise(user_name), limits.per_user, window, now)
    }

    /// Counts a failed attempt.
    pub fn failed(&self, user_name: &str, addr: Option<IpAddr>) {
        let now = Instant::now();
        let (limits, window) = (self.limits, self.limits.window);
        if let Some(addr) = addr {
            self.addresses.fail(&addr, limits.per_address, window, now);
        }
        self.users
            .fail(&normalise(user_name), limits.per_user, window, now);
    }

    /// A successful sign-in clears the user name's count (its address keeps
    /// its count: one address trying many names is the attack).
    pub fn succeeded(&self, user_name: &str) {
        self.users.forget(&normalise(user_name));
    }
}

fn normalise(user_name: &str) -> String {
    user_name.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleventh_attempt_in_a_window_is_refused_for_that_name_only() {
        let throttle = LoginThrottle::new(ThrottleLimits {
            per_user: 10,
            per_address: 0,
            window: Duration::from_secs(60),
        });
        for _ in 0..10 {
            assert!(throttle.check("Alice@x.io", None).is_ok());
            throttle.failed("Alice@x.io", None);
        }
        let wait = throttle.check(" alice@X.io ", None).unwrap_err();
        assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60));
        assert!(throttle.check("bob@x.io", None).is_ok());
        throttle.succeeded("alice@x.io");
        assert!(throttle.check("alice@x.io", None).is_ok());
    }

    #[test]
    fn an_address_is_limited_across_names() {
        let throttle = LoginThrottle::new(ThrottleLimits {
            per_user: 0,
            per_address: 3,
            window: Duration::from_secs(60),
        });
        let addr: IpAddr = "192.0.2.7".parse().unwrap();
        for name in ["a", "b", "c"] {
            assert!(throttle.check(name, Some(addr)).is_ok());
            throttle.failed(name, Some(addr));
        }
        assert!(throttle.check("d", Some(addr)).is_err());
        assert!(throttle
            .check("d", Some("192.0.2.8".parse().unwrap()))
            .is_ok());
    }
}
