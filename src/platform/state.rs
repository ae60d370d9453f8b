//! The one application state every handler and job reaches through axum's `State`.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use crate::platform::auth::tokens::JwtKeys;
use crate::platform::clock::Clock;
use crate::platform::config::Config;
use crate::platform::module::Manifest;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub jwt: Arc<JwtKeys>,
    pub clock: Arc<dyn Clock>,
    pub storage: Arc<dyn crate::platform::storage::Storage>,
    pub live: crate::platform::live::Hub,
    /// Seals secrets at rest (webhook signing secrets).
    pub sealer: crate::platform::crypto::Sealer,
    /// The SSRF-guarded client for user-configured targets.
    pub outbound: crate::platform::outbound::Outbound,
    /// The product areas this binary carries: navigation, permissions, events, routes, jobs.
    pub manifest: Arc<Manifest>,
    /// Principals remembered between requests while their tenant's auth epoch holds.
    pub principals: crate::platform::auth::cache::PrincipalCache,
    /// Whether every schema was found migrated (cached for `/readyz`).
    pub readiness: crate::platform::tenancy::Readiness,
}

impl AppState {
    /// Panics only if the TLS-less HTTP client cannot be built, which no configuration causes.
    pub fn new(pool: PgPool, config: Config, clock: Arc<dyn Clock>, manifest: Manifest) -> Self {
        let jwt = Arc::new(JwtKeys::new(&config.secret_key, &config.base_url));
        let storage = Arc::new(crate::platform::storage::LocalDisk::new(
            config.data_dir.join("attachments"),
        ));
        let sealer = crate::platform::crypto::Sealer::new(&config.secret_key);
        let outbound = crate::platform::outbound::Outbound::new(
            config.outbound_allow.clone(),
            Duration::from_secs(15),
        )
        .expect("a plain HTTP client builds from any allow-list");
        AppState {
            sealer,
            outbound,
            storage,
            live: Default::default(),
            pool,
            config: Arc::new(config),
            jwt,
            clock,
            manifest: Arc::new(manifest),
            principals: Default::default(),
            readiness: Default::default(),
        }
    }
}
