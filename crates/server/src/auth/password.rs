//! Password hashing with argon2id (PHC strings).
//!
//! A verification costs tens of milliseconds and (with argon2's default
//! parameters) 19 MiB of memory on purpose, so the server runs them on the
//! blocking pool behind a global limit ([`PasswordChecker`]) and reuses one
//! memory buffer per permit: however many wrong passwords arrive at once,
//! resident memory grows by at most `limit × m_cost` KiB.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

/// The largest argon2 memory cost (KiB) a stored hash may ask for; a hash
/// asking for more never matches (it would break the memory bound).
pub const MAX_MEMORY_KIB: u32 = 64 * 1024;

/// Hashes a password into an argon2id PHC string.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| anyhow::anyhow!("hashing the password failed: {error}"))
}

/// Whether `password` matches the stored PHC string. A malformed stored hash
/// never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    verify_with_memory(password.as_bytes(), stored, &mut Vec::new())
}

/// Verifies with a caller-owned memory buffer (grown as needed, kept for
/// the next verification). Argon2's own `verify_password` allocates and
/// frees its 19 MiB each time, which per-thread malloc arenas may keep.
fn verify_with_memory(password: &[u8], stored: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) =
        (Algorithm::try_from(hash.algorithm), Params::try_from(&hash))
    else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let (Some(expected), Some(salt)) = (hash.hash, hash.salt) else {
        return false;
    };
    if params.m_cost() > MAX_MEMORY_KIB {
        tracing::warn!(
            m_cost = params.m_cost(),
            "a stored password hash asks for too much memory"
        );
        return false;
    }
    let mut salt_buffer = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buffer) else {
        return false;
    };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    if Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..blocks])
        .is_err()
    {
        return false;
    }
    // `Output`'s equality is constant-time.
    argon2::password_hash::Output::new(&out).is_ok_and(|actual| actual == expected)
}

/// Runs password verifications off the async workers, at most `limit` at a
/// time, each with a reused memory buffer.
pub struct PasswordChecker {
    permits: Arc<Semaphore>,
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    checks: AtomicU64,
    dummy_hash: String,
}

impl PasswordChecker {
    /// A checker running at most `limit` verifications at once (0: one per
    /// core).
    pub fn new(limit: usize) -> Self {
        let limit = if limit == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            limit
        };
        PasswordChecker {
            permits: Arc::new(Semaphore::new(limit)),
            buffers: Arc::new(Mutex::new(Vec::new())),
            checks: AtomicU64::new(0),
            // Same parameters as every stored hash, so that checking a user
            // who does not exist costs what checking one who does costs.
            // An empty dummy would make unknown users instant (a timing
            // oracle); argon2 with its default parameters hashes any input.
            dummy_hash: hash_password("no such user")
                .expect("argon2 with default parameters hashes any password"),
        }
    }

    /// How many verifications ran (or are running) since start.
    pub fn checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }

    /// Whether `password` matches `stored`, on the blocking pool.
    pub async fn verify(&self, password: String, stored: String) -> bool {
        self.checks.fetch_add(1, Ordering::Relaxed);
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            return false;
        };
        let buffers = self.buffers.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut memory = buffers
                .lock()
                .map(|mut pool| pool.pop().unwrap_or_default())
                .unwrap_or_default();
            let matched = verify_with_memory(password.as_bytes(), &stored, &mut memory);
            if let Ok(mut pool) = buffers.lock() {
                pool.push(memory);
            }
            matched
        })
        .await
        .unwrap_or(false)
    }

    /// A verification against a hash no password matches, for unknown user
    /// names: the same cost and the same limit as a real one.
    pub async fn verify_unknown(&self, password: String) -> bool {
        let _ = self.verify(password, self.dummy_hash.clone()).await;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let hash = hash_password("s3cret").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &hash));
        assert!(!verify_password("s3cret!", &hash));
        assert!(!verify_password("s3cret", "not a hash"));
    }

    #[test]
    fn the_reused_buffer_verifies_like_argon2_itself() {
        use argon2::password_hash::PasswordVerifier;
        let hash = hash_password("s3cret").unwrap();
        let parsed = PasswordHash::new(&hash).unwrap();
        let mut memory = Vec::new();
        for (password, expected) in [("s3cret", true), ("S3cret", false), ("s3cret", true)] {
            assert_eq!(
                verify_with_memory(password.as_bytes(), &hash, &mut memory),
                expected
            );
            assert_eq!(
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok(),
                expected
            );
        }
        // 19 MiB: argon2's default m_cost, allocated once.
        assert_eq!(memory.len(), Params::DEFAULT_M_COST as usize);
    }

    #[tokio::test]
    async fn the_checker_counts_every_verification_known_or_not() {
        let checker = PasswordChecker::new(1);
        let hash = hash_password("pw").unwrap();
        assert!(checker.verify("pw".into(), hash.clone()).await);
        assert!(!checker.verify_unknown("pw".into()).await);
        assert!(!checker.verify("no".into(), hash).await);
        assert_eq!(checker.checks(), 3);
    }
}
