//! Who may see the web view: one-time login tokens and the sessions they open. Owns both
//! tables; nothing else reads or writes them.
//!
//! `rix web` asks the daemon (through its token-protected API) for a login token and prints a
//! URL carrying it. Opening the URL spends the token and sets a session cookie (HttpOnly,
//! SameSite=Strict), so the token in the URL, the browser history and the terminal is worth
//! nothing afterwards. Both live in memory only: a restart of the daemon signs everyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a login token may wait to be used.
pub const LOGIN_TTL: Duration = Duration::from_secs(10 * 60);
/// How long a session lasts without being used.
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 60 * 60);
/// At most this many unspent login tokens and this many sessions; the oldest go first. A
/// bound, so that a script calling `rix web` in a loop cannot grow the daemon's memory.
const MAX_ENTRIES: usize = 256;

/// The cookie that carries a session.
pub const COOKIE: &str = "rix_session";

/// Login tokens and sessions, by their secret value.
#[derive(Default)]
pub struct Sessions {
    // One short critical section per request; no await inside.
    inner: Mutex<Tables>,
}

#[derive(Default)]
struct Tables {
    /// Unspent login token → when it expires.
    logins: HashMap<String, Instant>,
    /// Session id → when it was last used.
    sessions: HashMap<String, Instant>,
}

/// A fresh secret: 32 random bytes as hex.
fn secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    hex::encode(bytes)
}

/// Drops the oldest entries beyond [`MAX_ENTRIES`].
fn bound(table: &mut HashMap<String, Instant>) {
    while table.len() > MAX_ENTRIES {
        let Some(oldest) = table.iter().min_by_key(|(_, at)| **at).map(|(k, _)| k.clone()) else { return };
        table.remove(&oldest);
    }
}

impl Sessions {
    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock leaves consistent maps: carry on with them.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new one-time login token, valid for [`LOGIN_TTL`] from `now`.
    pub fn issue_login(&self, now: Instant) -> String {
        let token = secret();
        let mut tables = self.tables();
        tables.logins.retain(|_, expires| *expires > now);
        tables.logins.insert(token.clone(), now + LOGIN_TTL);
        bound(&mut tables.logins);
        token
    }

    /// Spends a login token: a new session id if the token was issued, unspent and unexpired.
    pub fn log_in(&self, token: &str, now: Instant) -> Option<String> {
        let mut tables = self.tables();
        let expires = tables.logins.remove(token)?;
        if expires <= now {
            return None;
        }
        let session = secret();
        tables.sessions.retain(|_, used| now.duration_since(*used) < SESSION_IDLE);
        tables.sessions.insert(session.clone(), now);
        bound(&mut tables.sessions);
        Some(session)
    }

    /// Whether `session` is open at `now`; using it extends it.
    pub fn check(&self, session: &str, now: Instant) -> bool {
        let mut tables = self.tables();
        match tables.sessions.get_mut(session) {
            Some(used) if now.duration_since(*used) < SESSION_IDLE => {
                *used = now;
                true
            }
            Some(_) => {
                tables.sessions.remove(session);
                false
            }
            None => false,
        }
    }

    /// Ends a session.
    pub fn log_out(&self, session: &str) {
        self.tables().sessions.remove(session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_token_opens_one_session_once_and_expires() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let token = sessions.issue_login(now);
        assert_eq!(token.len(), 64);
        let session = sessions.log_in(&token, now).expect("a fresh token");
        assert!(sessions.check(&session, now + Duration::from_secs(60)));
        assert_eq!(sessions.log_in(&token, now), None, "a token is spent by its first use");
        assert!(!sessions.check("not-a-session", now));

        let late = sessions.issue_login(now);
        assert_eq!(sessions.log_in(&late, now + LOGIN_TTL), None, "expired");

        let idle = now + Duration::from_secs(60) + SESSION_IDLE;
        assert!(!sessions.check(&session, idle), "a session ends after being idle");
        let other = sessions.log_in(&sessions.issue_login(now), now).unwrap();
        sessions.log_out(&other);
        assert!(!sessions.check(&other, now));
    }

    #[test]
    fn the_tables_are_bounded() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let first = sessions.issue_login(now);
        for i in 0..MAX_ENTRIES as u64 + 10 {
            sessions.issue_login(now + Duration::from_millis(i + 1));
        }
        assert_eq!(sessions.tables().logins.len(), MAX_ENTRIES);
        assert_eq!(sessions.log_in(&first, now), None, "the oldest token went first");
    }
}
