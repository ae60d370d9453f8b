//! argon2id password hashing. `Argon2::default()` is argon2id v19 with m = 19 MiB, t = 2, p = 1,
//! the OWASP minimum; parameters live in each PHC string, so they can be raised later.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::platform::error::AppError;

pub fn hash(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Runs a verification against a fixed hash so that "no such user" costs the same time as
/// "wrong password" and cannot be told apart by timing.
pub fn burn_time(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("firelater-timing-equaliser").unwrap_or_default());
    let _ = verify(password, phc);
}

/// How many sign-ins may wait for a hashing slot before more are refused with 429. A storm of
/// attempts then costs queue entries, not 19 MiB each.
const MAX_WAITING: usize = 64;

/// The hashing gate: at most one argon2 computation per core at a time (each holds 19 MiB, so
/// concurrency, not traffic, decides the memory), on the blocking pool so the async workers
/// stay free. Process-wide because cores and memory are.
struct Gate {
    slots: tokio::sync::Semaphore,
    waiting: std::sync::atomic::AtomicUsize,
}

fn gate() -> &'static Gate {
    static GATE: std::sync::OnceLock<Gate> = std::sync::OnceLock::new();
    GATE.get_or_init(|| Gate {
        slots: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, |n| n.get()),
        ),
        waiting: Default::default(),
    })
}

/// Runs `work` when a hashing slot is free; refuses (429) when too many already wait.
async fn gated<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    use std::sync::atomic::Ordering;
    let g = gate();
    if g.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
        g.waiting.fetch_sub(1, Ordering::SeqCst);
        return Err(AppError::TooManyRequests {
            retry_after_secs: 1,
        });
    }
    let permit = g.slots.acquire().await;
    g.waiting.fetch_sub(1, Ordering::SeqCst);
    let _permit = permit.map_err(|e| AppError::Internal(e.into()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(e.into()))
}

pub async fn hash_blocking(password: String) -> Result<String, AppError> {
    Ok(gated(move || hash(&password)).await??)
}

/// Whether `password` matches `phc`; with no hash, the same work is done and `false` returned.
pub async fn verify_blocking(password: String, phc: Option<String>) -> Result<bool, AppError> {
    gated(move || match phc {
        Some(phc) => verify(&password, &phc),
        None => {
            burn_time(&password);
            false
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn roundtrip_and_params() -> anyhow::Result<()> {
        let h = super::hash("correct horse battery")?;
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(super::verify("correct horse battery", &h));
        assert!(!super::verify("wrong", &h));
        assert!(!super::verify("x", "not a hash"));
        Ok(())
    }
}
