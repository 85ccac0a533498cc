//! `login`, `contexts`, `logout`, `use`: the servers this operator logged
//! in to (see `cli::contexts`). These touch no database.

use super::*;
use crate::cli::contexts::{self, Context, Contexts};
use crate::ops::Remote;

pub(super) async fn login(name: &str, url: &str, token_stdin: bool, insecure_http: bool) -> CliResult {
    contexts::check_name(name).map_err(CliError::usage)?;
    // Before any token is read or sent: https, or http to this machine.
    let url = crate::ops::remote::check_url(url, insecure_http).map_err(CliError::usage)?;
    let path = contexts::path().map_err(CliError::failure)?;
    let mut saved = Contexts::load_from(&path).map_err(CliError::failure)?;
    let token = if token_stdin { token_from_stdin()? } else { token_from_prompt(&url)? };
    if token.is_empty() {
        return Err(CliError::usage("no token given: an admin makes one with `velvet operator token NAME`"));
    }
    let remote = Remote::connect(Some(name), &url, &token, insecure_http).await?;
    let who = remote.who().clone();
    let replaced = saved.contexts.contains_key(name);
    saved.contexts.insert(
        name.to_string(),
        Context { url: url.clone(), token, insecure_http, operator: Some(who.operator.clone()), role: Some(who.role) },
    );
    // Not made the current one by itself: commands that ran on the local
    // database must not start going to a server unannounced.
    saved.save_to(&path).map_err(CliError::failure)?;
    let current = if saved.current.as_deref() == Some(name) {
        " (the current context)".to_string()
    } else {
        format!("; use it with --context {name}, or `velvet use {name}` to make it the default")
    };
    let verb = if replaced { "replaced" } else { "saved" };
    eprintln!(
        "logged in to {url} as {} ({}); {verb} as context {name} in {}{current}",
        who.operator,
        who.role,
        path.display()
    );
    Ok(())
}

fn token_from_stdin() -> CliResult<String> {
    use std::io::Read;
    let mut text = String::new();
    std::io::stdin().take(4096).read_to_string(&mut text).map_err(io_error)?;
    Ok(text.trim().to_string())
}

/// Asks for the token on the terminal without echoing it.
fn token_from_prompt(url: &str) -> CliResult<String> {
    use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
    use ratatui::crossterm::terminal;
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage("no terminal to ask for the token on: pass it with --token-stdin"));
    }
    eprint!("Token for {url} (not shown): ");
    terminal::enable_raw_mode().map_err(|e| CliError::failure(format!("cannot read the terminal: {e}")))?;
    /// Gives the terminal back however this ends (a panic too).
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = ratatui::crossterm::terminal::disable_raw_mode();
        }
    }
    let restore = Restore;
    let mut token = String::new();
    let read = loop {
        match event::read() {
            Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => match k.code {
                KeyCode::Enter => break Ok(()),
                KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                    break Err(CliError::failure("cancelled: nothing saved"));
                }
                KeyCode::Esc => break Err(CliError::failure("cancelled: nothing saved")),
                KeyCode::Backspace => {
                    token.pop();
                }
                KeyCode::Char(c) if token.len() < 4096 => token.push(c),
                _ => {}
            },
            Ok(_) => {}
            Err(e) => break Err(CliError::failure(format!("cannot read the terminal: {e}"))),
        }
    };
    drop(restore);
    eprintln!();
    read.map(|()| token.trim().to_string())
}

pub(super) fn list() -> CliResult {
    let saved = Contexts::load().map_err(CliError::failure)?;
    if saved.contexts.is_empty() {
        eprintln!("no contexts yet: `velvet login NAME URL` adds one");
        return Ok(());
    }
    for (name, c) in &saved.contexts {
        let mark = if saved.current.as_deref() == Some(name) { "*" } else { " " };
        let who = match (&c.operator, c.role) {
            (Some(o), Some(r)) => format!("{o} ({r})"),
            (Some(o), None) => o.clone(),
            _ => "?".into(),
        };
        emit(&format!("{mark} {name:<16} {:<40} {who}", c.url))?;
    }
    Ok(())
}

pub(super) fn logout(name: &str) -> CliResult {
    let path = contexts::path().map_err(CliError::failure)?;
    let mut saved = Contexts::load_from(&path).map_err(CliError::failure)?;
    if saved.contexts.remove(name).is_none() {
        return Err(CliError::usage(format!("no context named '{name}': `velvet contexts` lists them")));
    }
    if saved.current.as_deref() == Some(name) {
        saved.current = None;
    }
    saved.save_to(&path).map_err(CliError::failure)?;
    eprintln!(
        "forgot context {name}; its token stays valid until an admin revokes it \
         (`velvet operator tokens`, `velvet operator revoke-token ID`)"
    );
    Ok(())
}

pub(super) fn use_context(name: &str) -> CliResult {
    let path = contexts::path().map_err(CliError::failure)?;
    let mut saved = Contexts::load_from(&path).map_err(CliError::failure)?;
    saved.pick(Some(name)).map_err(CliError::usage)?;
    saved.current = Some(name.to_string());
    saved.save_to(&path).map_err(CliError::failure)?;
    eprintln!("using context {name} when no --context or --database-url is given");
    Ok(())
}
