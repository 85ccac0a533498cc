//! `velvet console`: the full-screen room where the beta is run.
//!
//! One `select!` over terminal input, a tick and the channel of results
//! from background work; `update` is synchronous and returns effects, which
//! run as tasks. Terminal restored on exit, on Ctrl-C and on panic.

pub mod action;
mod commandline;
pub mod export;
pub mod filter;
pub mod keymap;
pub mod live;
pub mod rows;
pub mod runner;
pub mod state;
pub mod theme;
pub mod update;
pub mod view;

use crate::ops::Ops;
use action::{Effect, Input, Msg};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use runner::Runner;
use state::State;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the clock, toasts and Live pane roll forward.
const TICK: Duration = Duration::from_millis(250);

/// Maps a key press to an input: text for open fields, the keymap otherwise.
pub fn key_input(s: &State, key: event::KeyEvent) -> Option<Input> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Input::Msg(Msg::Quit));
    }
    if update::wants_text(s) {
        return match key.code {
            KeyCode::Enter => Some(Input::Submit),
            KeyCode::Esc => Some(Input::Cancel),
            KeyCode::Backspace => Some(Input::Backspace),
            KeyCode::Char(c) => Some(Input::Char(c)),
            _ => None,
        };
    }
    keymap::lookup(key, s).map(|b| Input::Command(b.command))
}

/// Runs the console until the operator quits. `welcome` is shown first.
pub async fn run(ops: Ops, welcome: Option<String>) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let (keys_tx, mut keys) = mpsc::unbounded_channel::<Event>();
    let mut s = State::new(ops.now(), ops.name().to_string(), ops.role(), &ops.place());
    s.tz = *chrono::Local::now().offset();
    if let Some(text) = welcome {
        s.toast(text, state::ToastKind::Info);
        if let Some(t) = s.toasts.last_mut() {
            t.until = s.now + chrono::Duration::seconds(30);
        }
    }
    let runner = Runner { ops: ops.clone(), tx };
    tokio::spawn(runner.clone().load_entries());
    tokio::spawn(runner.clone().follow());

    let mut terminal = ratatui::try_init()?;
    let theme = theme::Theme::from_env();
    if let Ok(size) = terminal.size() {
        s.width = size.width;
        s.height = size.height;
    }
    // Terminal input is read on its own thread; the loop never blocks on it.
    std::thread::spawn(move || {
        while let Ok(ev) = event::read() {
            if keys_tx.send(ev).is_err() {
                break;
            }
        }
    });
    let mut ticker = tokio::time::interval(TICK);
    let mut term = signal_term();
    let result = loop {
        if let Err(e) = terminal.draw(|f| view::draw(f, &s, &theme)) {
            break Err(e);
        }
        let input = tokio::select! {
            Some(ev) = keys.recv() => match ev {
                Event::Key(k) if k.kind != KeyEventKind::Release => key_input(&s, k),
                Event::Resize(w, h) => Some(Input::Resize(w, h)),
                _ => None,
            },
            Some(m) = rx.recv() => Some(Input::Msg(m)),
            _ = ticker.tick() => Some(Input::Tick(ops.now())),
            _ = term.recv() => Some(Input::Msg(Msg::Quit)),
        };
        let Some(input) = input else { continue };
        for effect in update::update(&mut s, input) {
            // Only a filter search reads the haystack; other tasks holding
            // it would make the next new row copy it whole.
            let haystack = matches!(effect, Effect::Filter { .. }).then(|| s.haystack.clone());
            runner.spawn(effect, haystack);
        }
        if s.quit {
            break Ok(());
        }
    };
    ratatui::try_restore()?;
    result
}

/// SIGTERM as a channel (never fires where signals are unavailable).
fn signal_term() -> mpsc::UnboundedReceiver<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    #[cfg(unix)]
    tokio::spawn(async move {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            term.recv().await;
            let _ = tx.send(());
        }
    });
    #[cfg(not(unix))]
    drop(tx);
    rx
}
