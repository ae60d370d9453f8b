//! Login throttling per account and per client IP, shared through PostgreSQL so several
//! instances agree. Blocks grow exponentially but are capped and expire: no permanent lockout.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use crate::platform::error::AppError;

pub struct Policy {
    pub free_failures: i32,
    pub window: Duration,
    pub first_block: Duration,
    pub max_block: Duration,
}

/// One account from one address: five wrong passwords, then waits that grow.
pub const ACCOUNT_HERE: Policy = Policy {
    free_failures: 5,
    window: Duration::minutes(15),
    first_block: Duration::seconds(30),
    max_block: Duration::minutes(15),
};

/// One account from anywhere: a higher ceiling, so guessing from one place locks the guesser,
/// not the person (who signs in from elsewhere), while a spread-out attack is still slowed.
pub const ACCOUNT: Policy = Policy {
    free_failures: 50,
    window: Duration::minutes(15),
    first_block: Duration::seconds(30),
    max_block: Duration::minutes(15),
};

pub const IP: Policy = Policy {
    free_failures: 30,
    window: Duration::minutes(15),
    first_block: Duration::seconds(60),
    max_block: Duration::minutes(15),
};

pub fn account_bucket(tenant: &str, email: &str) -> String {
    format!(
        "acct:{}:{}",
        tenant.trim().to_lowercase(),
        domain::identity::normalize_email(email)
    )
}

pub fn account_at_bucket(account: &str, ip: Option<std::net::IpAddr>) -> String {
    match ip {
        Some(ip) => format!("{account}@{ip}"),
        None => format!("{account}@unknown"),
    }
}

pub fn ip_bucket(ip: Option<std::net::IpAddr>) -> Option<String> {
    ip.map(|ip| format!("ip:{ip}"))
}

/// 429 with the seconds to wait when any bucket is blocked.
pub async fn check(pool: &PgPool, buckets: &[String], now: DateTime<Utc>) -> Result<(), AppError> {
    let until: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT MAX(blocked_until) FROM public.login_attempts WHERE bucket = ANY($1) AND blocked_until > $2")
            .bind(buckets)
            .bind(now)
            .fetch_one(pool)
            .await?;
    match until {
        Some(until) => Err(AppError::TooManyRequests {
            retry_after_secs: (until - now).num_seconds().max(1) as u64,
        }),
        None => Ok(()),
    }
}

pub async fn record_failure(
    pool: &PgPool,
    bucket: &str,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let window_secs = policy.window.num_seconds() as f64;
    let failures: i32 = sqlx::query_scalar(
        "INSERT INTO public.login_attempts (bucket, failures, window_start) VALUES ($1, 1, $2)
         ON CONFLICT (bucket) DO UPDATE SET
            failures = CASE WHEN login_attempts.window_start < $2 - make_interval(secs => $3) THEN 1 ELSE login_attempts.failures + 1 END,
            window_start = CASE WHEN login_attempts.window_start < $2 - make_interval(secs => $3) THEN $2 ELSE login_attempts.window_start END
         RETURNING failures",
    )
    .bind(bucket)
    .bind(now)
    .bind(window_secs)
    .fetch_one(pool)
    .await?;
    if failures >= policy.free_failures {
        let block = block_for(policy, failures);
        sqlx::query("UPDATE public.login_attempts SET blocked_until = $2 WHERE bucket = $1")
            .bind(bucket)
            .bind(now + block)
            .execute(pool)
            .await?;
    }
    Ok(())
}

fn block_for(policy: &Policy, failures: i32) -> Duration {
    let exp = (failures - policy.free_failures).clamp(0, 16) as u32;
    let secs = policy.first_block.num_seconds().saturating_mul(1i64 << exp);
    Duration::seconds(secs).min(policy.max_block)
}

pub async fn clear(pool: &PgPool, bucket: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM public.login_attempts WHERE bucket = $1")
        .bind(bucket)
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_grow_and_cap() {
        assert_eq!(block_for(&ACCOUNT_HERE, 5), Duration::seconds(30));
        assert_eq!(block_for(&ACCOUNT_HERE, 6), Duration::seconds(60));
        assert_eq!(block_for(&ACCOUNT_HERE, 100), Duration::minutes(15));
    }
}
