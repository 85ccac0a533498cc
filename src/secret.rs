//! The deployment's secret, which keys rate-limit keys and device hashes.
//! It is never stored in the database, so a dump alone does not let anyone
//! test an address or a device against those hashes. It comes from
//! `[serve] secret` / `VELVET_SECRET`, else (SQLite only) from a key file
//! beside the database, created with mode 0600 on first start. PostgreSQL
//! deployments must configure it: every server on the database needs the
//! same one. The database keeps only its fingerprint (an HMAC of a fixed
//! label), so a server started with another secret refuses to start.

use crate::service::Velvet;
use crate::store::Store;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::{Path, PathBuf};

const FINGERPRINT_LABEL: &[u8] = b"velvet secret fingerprint v1";
/// A configured secret shorter than this is refused.
pub const MIN_LEN: usize = 16;

/// HMAC-SHA256(secret, fixed label), hex: tells two secrets apart and says
/// nothing about either.
pub fn fingerprint(secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(FINGERPRINT_LABEL);
    crate::domain::hex::hex(&mac.finalize().into_bytes())
}

/// Where an SQLite database keeps its key file: `velvet.db` → `velvet.db.key`.
pub fn key_file_for(store: &Store) -> Option<PathBuf> {
    match store {
        Store::Sqlite(pool) => {
            let db = pool.connect_options().get_filename().to_path_buf();
            let mut name = db.file_name()?.to_os_string();
            name.push(".key");
            Some(db.with_file_name(name))
        }
        Store::Postgres(_) => None,
    }
}

/// Reads the key file, or creates it (0600, 256 random bits) when absent.
/// A key file others can read is refused, as ssh refuses such a key.
pub fn key_file(path: &Path) -> Result<String, String> {
    use std::io::Write;
    let shown = path.display();
    match std::fs::read_to_string(path) {
        Ok(text) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode =
                    std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(format!(
                        "the key file {shown} can be read by others (mode {:o}); run: chmod 600 {shown}",
                        mode & 0o777
                    ));
                }
            }
            let secret = text.trim().to_string();
            if secret.len() < MIN_LEN {
                return Err(format!(
                    "the key file {shown} holds no usable secret; remove it to have a new one made (rate-limit windows start over)"
                ));
            }
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a new key: {e}"))?;
            let secret: String = crate::domain::hex::hex(&bytes);
            // Written whole under a private name, then linked into place: a
            // second server starting at the same moment either finds the
            // finished file or loses the race to link and reads the winner's.
            let draft = path.with_extension(format!("key-{}", crate::domain::hex::hex(&bytes[..4])));
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let written = options.open(&draft).and_then(|mut file| {
                file.write_all(format!("{secret}\n").as_bytes())?;
                file.sync_all()
            });
            if let Err(e) = written {
                let _ = std::fs::remove_file(&draft);
                return Err(format!("cannot create the key file {shown}: {e}"));
            }
            let linked = std::fs::hard_link(&draft, path);
            let _ = std::fs::remove_file(&draft);
            match linked {
                Ok(()) => {
                    tracing::info!(path = %shown, "created the key file for rate-limit and device hashes");
                    Ok(secret)
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => key_file(path),
                Err(e) => Err(format!("cannot create the key file {shown}: {e}")),
            }
        }
        Err(e) => Err(format!("cannot read the key file {shown}: {e}")),
    }
}

/// The secret this server keys its hashes with: configured, else the
/// SQLite key file. Checked against the fingerprint in the database (the
/// first server to start records it).
pub async fn resolve(velvet: &Velvet, configured: Option<&str>) -> Result<String, String> {
    let secret = match configured.map(str::trim) {
        Some(s) if s.len() < MIN_LEN => {
            return Err(format!(
                "the secret (VELVET_SECRET or [serve] secret) is shorter than {MIN_LEN} characters; use e.g. `openssl rand -hex 32`"
            ));
        }
        Some(s) => s.to_string(),
        None => match key_file_for(velvet.store()) {
            Some(path) => key_file(&path)?,
            None => {
                return Err("a PostgreSQL deployment needs a secret shared by every server (it keys rate-limit and device hashes, \
                            and is not stored in the database): set VELVET_SECRET or [serve] secret in velvet.toml, \
                            e.g. to the output of `openssl rand -hex 32`, the same on every server"
                    .into());
            }
        },
    };
    let mine = fingerprint(&secret);
    let recorded = velvet.claim_secret_fingerprint(&mine).await.map_err(|e| e.to_string())?;
    if recorded != mine {
        return Err("this database was set up with another secret (its fingerprint does not match): give this server the same \
                    VELVET_SECRET / [serve] secret as the others (on SQLite: restore the key file beside the database). To change \
                    the secret on purpose, stop every server and run `velvet migrate --forget-secret` (rate-limit windows start over)"
            .into());
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_secrets_apart_without_showing_them() {
        // python3 -c "import hmac,hashlib; print(hmac.new(b'0123456789abcdef', b'velvet secret fingerprint v1', hashlib.sha256).hexdigest())"
        let f = fingerprint("0123456789abcdef");
        assert_eq!(f, "60a41f184ce75794135deaebda68344d61302a1990abf881966e224d56165c09");
        assert_ne!(f, fingerprint("0123456789abcdeg"));
        assert!(!f.contains("0123456789abcdef"));
    }

    #[test]
    fn key_files_are_made_private_and_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("velvet.db.key");
        let made = key_file(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(key_file(&path).unwrap(), made, "the same key on the next start");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(key_file(&path).unwrap_err().contains("chmod 600"));
    }

    #[test]
    fn servers_starting_together_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("velvet.db.key");
        let keys: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| key_file(&path).unwrap())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]), "every server reads the one key: {keys:?}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left.len(), 1, "no draft is left behind: {left:?}");
    }
}
