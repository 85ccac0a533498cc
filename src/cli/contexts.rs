//! Contexts: the servers an operator has logged in to, as kubeconfig keeps
//! clusters. One small TOML file per user,
//! `$XDG_CONFIG_HOME/velvet/contexts.toml` (else `~/.config/velvet/`), in a
//! folder made 0700 and written 0600; a file that others can read is
//! refused, as ssh refuses a key file, because it holds bearer tokens.
//!
//! ```toml
//! current = "prod"
//! [contexts.prod]
//! url = "https://velvet-admin.example.com"
//! token = "velvet_op_…"
//! operator = "ada"
//! role = "support"
//! ```

use crate::domain::Role;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Contexts {
    /// The context used when neither --context nor --database-url is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    #[serde(default)]
    pub contexts: BTreeMap<String, Context>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Context {
    pub url: String,
    pub token: String,
    /// Plain http:// to another machine was allowed at login.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_http: bool,
    /// Who the token was at login (the server says again on every call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

/// Never prints the token.
impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("url", &self.url).field("operator", &self.operator).finish_non_exhaustive()
    }
}

/// Where the file lives.
pub fn path() -> Result<PathBuf, String> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => return Err("neither XDG_CONFIG_HOME nor HOME is set: velvet has nowhere to keep contexts".into()),
        },
    };
    Ok(base.join("velvet").join("contexts.toml"))
}

/// Names are what people type after --context: short, no spaces.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok =
        !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok { Ok(()) } else { Err(format!("context name '{name}' must be 1-64 letters, digits, '.', '_' or '-'")) }
}

impl Contexts {
    /// Reads the file (none yet: no contexts). Refuses one that others may
    /// read or write, naming the fix.
    pub fn load() -> Result<Contexts, String> {
        Self::load_from(&path()?)
    }

    pub fn load_from(file: &Path) -> Result<Contexts, String> {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Contexts::default()),
            Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        };
        check_private(file)?;
        // The parser's message quotes the line, which may hold a token:
        // only where it is goes out.
        toml::from_str(&text).map_err(|e: toml::de::Error| {
            let line = e.span().map_or(0, |span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            format!(
                "{} is not a valid contexts file (line {line}): mend it, or remove it and log in again",
                file.display()
            )
        })
    }

    /// Writes the file whole (a temporary file renamed over it), 0600 in a
    /// 0700 folder.
    pub fn save(&self) -> Result<PathBuf, String> {
        let file = path()?;
        self.save_to(&file)?;
        Ok(file)
    }

    pub fn save_to(&self, file: &Path) -> Result<(), String> {
        let dir = file.parent().ok_or_else(|| format!("{} has no folder", file.display()))?;
        make_private_dir(dir)?;
        let text = toml::to_string(self).map_err(|e| format!("cannot write contexts: {e}"))?;
        let tmp = dir.join(format!(".contexts.toml.{}", std::process::id()));
        // One left by a crash (the pid came round again) is ours to replace.
        let _ = std::fs::remove_file(&tmp);
        write_private(&tmp, text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, file).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write {}: {e}", file.display())
        })
    }

    /// The context to use: the one named, else the current one.
    pub fn pick(&self, name: Option<&str>) -> Result<Option<(String, Context)>, String> {
        let Some(name) = name.or(self.current.as_deref()) else { return Ok(None) };
        match self.contexts.get(name) {
            Some(c) => Ok(Some((name.to_string(), c.clone()))),
            None => {
                let known: Vec<&str> = self.contexts.keys().map(String::as_str).collect();
                let known = if known.is_empty() { "none yet".to_string() } else { known.join(", ") };
                Err(format!("no context named '{name}' (known: {known}); log in first with `velvet login {name} URL`"))
            }
        }
    }
}

#[cfg(unix)]
fn check_private(file: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        std::fs::metadata(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} holds operator tokens but others can read or write it (mode {:o}); \
             velvet will not use it until you run `chmod 600 {}`",
            file.display(),
            mode & 0o777,
            file.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_file: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(unix)]
fn make_private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    }
    let mode = std::fs::metadata(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?.permissions().mode();
    if mode & 0o022 != 0 {
        return Err(format!(
            "{} can be written by others (mode {:o}): run `chmod 700 {}` first",
            dir.display(),
            mode & 0o777,
            dir.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))
}

fn write_private(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(file)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn one() -> Contexts {
        let mut c = Contexts { current: Some("prod".into()), ..Default::default() };
        let ctx = Context {
            url: "https://v.example".into(),
            token: "velvet_op_secret".into(),
            insecure_http: false,
            operator: Some("ada".into()),
            role: Some(Role::Support),
        };
        c.contexts.insert("prod".into(), ctx);
        c
    }

    #[test]
    fn the_file_is_private_and_a_readable_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cfg").join("velvet").join("contexts.toml");
        one().save_to(&file).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
        let back = Contexts::load_from(&file).unwrap();
        assert_eq!(back.pick(None).unwrap().unwrap().1.url, "https://v.example");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = Contexts::load_from(&file).err().unwrap();
        assert!(refused.contains("chmod 600") && refused.contains("644"), "{refused}");
        assert!(format!("{:?}", back.contexts["prod"]).find("secret").is_none(), "Debug hides the token");
        // A hand edit gone wrong: the message says where, never what.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&file, "[contexts.prod]\nurl = \"https://v.example\"\ntoken = velvet_op_secret\n").unwrap();
        let broken = Contexts::load_from(&file).err().unwrap();
        assert!(broken.contains("line 3") && !broken.contains("secret"), "{broken}");
    }

    #[test]
    fn an_unknown_context_names_the_known_ones_and_the_fix() {
        let e = one().pick(Some("staging")).err().unwrap();
        assert!(e.contains("known: prod") && e.contains("velvet login staging URL"), "{e}");
        assert!(Contexts::default().pick(None).unwrap().is_none());
    }
}
