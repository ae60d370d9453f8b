//! Where uploaded files live. The app talks to `Storage`; `LocalDisk` keeps files under the data
//! directory (`<data_dir>/attachments/<tenant>/<random key>`). An S3 implementation slots in
//! behind the same trait later.

use std::path::PathBuf;

use anyhow::Context;
use axum::body::Bytes;
use rand::RngCore;

#[async_trait::async_trait]
pub trait Storage: Send + Sync {
    /// Stores `bytes` under a new random key for `tenant` and returns the key.
    async fn put(&self, tenant: &str, bytes: Bytes) -> anyhow::Result<String>;
    async fn get(&self, key: &str) -> anyhow::Result<Bytes>;
    /// Removing a missing file is not an error.
    async fn delete(&self, key: &str) -> anyhow::Result<()>;
}

pub struct LocalDisk {
    root: PathBuf,
}

impl LocalDisk {
    pub fn new(root: PathBuf) -> Self {
        LocalDisk { root }
    }

    /// Keys are `<tenant>/<32 hex>`, made here; anything else is refused so a key can never
    /// point outside the root.
    fn path_of(&self, key: &str) -> anyhow::Result<PathBuf> {
        let (tenant, name) = key.split_once('/').context("malformed storage key")?;
        let tenant_ok = !tenant.is_empty()
            && tenant
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let name_ok = name.len() == 32 && name.chars().all(|c| c.is_ascii_hexdigit());
        anyhow::ensure!(tenant_ok && name_ok, "malformed storage key");
        Ok(self.root.join(tenant).join(name))
    }
}

#[async_trait::async_trait]
impl Storage for LocalDisk {
    async fn put(&self, tenant: &str, bytes: Bytes) -> anyhow::Result<String> {
        let mut raw = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut raw);
        let name: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let key = format!("{tenant}/{name}");
        let path = self.path_of(&key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        // Write then rename, so a reader never sees half a file.
        let tmp = path.with_extension("part");
        tokio::fs::write(&tmp, &bytes).await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(key)
    }

    async fn get(&self, key: &str) -> anyhow::Result<Bytes> {
        let path = self.path_of(key)?;
        Ok(Bytes::from(
            tokio::fs::read(&path)
                .await
                .with_context(|| format!("reading {}", path.display()))?,
        ))
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match tokio::fs::remove_file(self.path_of(key)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_stay_inside_the_root() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("firelater-storage-{}", std::process::id()));
        let disk = LocalDisk::new(dir.clone());
        let key = disk.put("acme", Bytes::from_static(b"hello")).await?;
        assert_eq!(disk.get(&key).await?, Bytes::from_static(b"hello"));
        for bad in [
            "../etc/passwd",
            "acme/../../x",
            "acme/short",
            "/abs/0123456789abcdef0123456789abcdef",
        ] {
            assert!(disk.get(bad).await.is_err(), "{bad}");
        }
        disk.delete(&key).await?;
        disk.delete(&key).await?;
        assert!(disk.get(&key).await.is_err());
        let _ = std::fs::remove_dir_all(dir);
        Ok(())
    }
}
