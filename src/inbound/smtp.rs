//! The built-in SMTP listener (`FIRELATER_SMTP_ADDR`): enough of RFC 5321 for an MTA or a
//! mail client to hand over messages — HELO/EHLO, MAIL, RCPT (only tenants' support
//! addresses are accepted, so it is no open relay), DATA, RSET, NOOP, QUIT. Each message goes
//! through the same intake as `POST /v1/inbound/email`, once per tenant it is addressed to.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::receive::{self, MAX_BYTES};
use super::settings;
use crate::platform::error::AppError;
use crate::platform::state::AppState;
use crate::platform::tenancy::Slug;

/// A client silent this long is dropped.
const IDLE: Duration = Duration::from_secs(300);

pub async fn serve(state: AppState, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let state = state.clone();
                tokio::spawn(async move {
                    if let Err(e) = session(&state, stream).await {
                        tracing::debug!(%peer, error = %e, "smtp session ended");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "smtp accept failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// The address inside `MAIL FROM:<a@b>` / `RCPT TO:<a@b>`.
fn path_of(arg: &str) -> String {
    let arg = arg.trim();
    let inner = match (arg.find('<'), arg.find('>')) {
        (Some(s), Some(e)) if e > s => &arg[s + 1..e],
        _ => arg.split_whitespace().next().unwrap_or_default(),
    };
    inner.trim().to_ascii_lowercase()
}

async fn session(state: &AppState, stream: TcpStream) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 FireLater ESMTP ready\r\n").await?;
    let mut tenants: Vec<Slug> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        let n = tokio::time::timeout(IDLE, lines.read_line(&mut line)).await??;
        if n == 0 {
            return Ok(());
        }
        let cmd = line.trim_end();
        let upper = cmd.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") {
            format!("250-FireLater\r\n250-SIZE {MAX_BYTES}\r\n250 8BITMIME")
        } else if upper.starts_with("HELO") {
            "250 FireLater".into()
        } else if upper.starts_with("MAIL FROM:") {
            tenants.clear();
            "250 2.1.0 OK".into()
        } else if upper.starts_with("RCPT TO:") {
            let to = path_of(&cmd[8..]);
            match settings::tenant_of(&state.pool, &to).await {
                Ok(Some(t)) => {
                    if !tenants.contains(&t) {
                        tenants.push(t);
                    }
                    "250 2.1.5 OK".into()
                }
                Ok(None) => "550 5.1.1 no such mailbox here".into(),
                Err(_) => "451 4.3.0 try again later".into(),
            }
        } else if upper == "DATA" {
            if tenants.is_empty() {
                "554 5.5.1 no valid recipients".into()
            } else {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let (raw, too_big) = read_data(&mut lines).await?;
                let reply = if too_big {
                    "552 5.3.4 message too big".to_string()
                } else {
                    deliver(state, &tenants, &raw).await
                };
                tenants.clear();
                reply
            }
        } else if upper == "RSET" {
            tenants.clear();
            "250 2.0.0 OK".into()
        } else if upper == "NOOP" {
            "250 2.0.0 OK".into()
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            "502 5.5.2 command not implemented".into()
        };
        write.write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
}

/// The message up to the lone dot, dot-stuffing undone; past the size limit it is drained and
/// flagged.
async fn read_data(
    lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> anyhow::Result<(Vec<u8>, bool)> {
    let mut raw = Vec::new();
    let mut line = Vec::new();
    let mut too_big = false;
    loop {
        line.clear();
        let n = tokio::time::timeout(IDLE, lines.read_until(b'\n', &mut line)).await??;
        if n == 0 {
            anyhow::bail!("connection closed during DATA");
        }
        let trimmed: &[u8] = line
            .strip_suffix(b"\r\n")
            .or(line.strip_suffix(b"\n"))
            .unwrap_or(&line);
        if trimmed == b"." {
            return Ok((raw, too_big));
        }
        let content = line.strip_prefix(b".").unwrap_or(&line);
        if raw.len() + content.len() > MAX_BYTES {
            too_big = true;
        } else {
            raw.extend_from_slice(content);
        }
    }
}

async fn deliver(state: &AppState, tenants: &[Slug], raw: &[u8]) -> String {
    for t in tenants {
        match receive::receive(state, t, raw).await {
            Ok(r) => tracing::info!(tenant = %t, outcome = %r.outcome, "inbound mail"),
            Err(AppError::Validation { message, .. }) => {
                return format!("554 5.6.0 {message}");
            }
            Err(e) => {
                tracing::warn!(tenant = %t, error = %e, "inbound mail failed");
                return "451 4.3.0 try again later".into();
            }
        }
    }
    "250 2.0.0 OK: taken in".into()
}

#[cfg(test)]
mod tests {
    use super::path_of;

    #[test]
    fn paths_are_read_from_angle_brackets() {
        assert_eq!(path_of("<Support@Acme.Test> SIZE=100"), "support@acme.test");
        assert_eq!(path_of(" plain@acme.test"), "plain@acme.test");
    }
}
