//! Sessions: the credentials a login checks, sessions made and ended (request handlers read the
//! live ones straight from the shared table). A session is one holder's: each holder of a joint
//! account logs in with their own e-mail and password, and what asks for the password again asks
//! for that holder's.

use super::*;

/// Who a session is: the account, and which of its holders logged in (index into the account's
/// holders; 0 for an account with one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoggedIn {
    pub account: AccountId,
    pub holder: u8,
}

impl LoggedIn {
    pub fn new(account: AccountId, holder: u8) -> LoggedIn {
        LoggedIn { account, holder }
    }
}

pub(super) struct Credentials {
    email: String,
}

impl Request for Credentials {
    type Answer = Option<(LoggedIn, PasswordHash)>;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Option<(LoggedIn, PasswordHash)>> {
        let Credentials { email } = self;
        let found = state.ledger.by_email(&email).map(|(account, login)| {
            (
                LoggedIn::new(account.id, login.holder),
                login.password_hash.clone(),
            )
        });
        Ok(found)
    }
}

pub(super) struct LoginEmail {
    who: LoggedIn,
}

impl Request for LoginEmail {
    type Answer = Option<String>;
    const READ: bool = true;

    fn run(self, state: &mut State, _now: i64) -> EngineResult<Option<String>> {
        let LoginEmail { who } = self;
        Ok(state
            .ledger
            .account(who.account)
            .and_then(|a| a.login(who.holder))
            .map(|l| l.email.clone()))
    }
}

pub(super) struct CreateSession {
    token: TokenHash,
    who: LoggedIn,
}

impl Request for CreateSession {
    type Answer = ();

    fn run(self, state: &mut State, now: i64) -> EngineResult<()> {
        let CreateSession { token, who } = self;
        state.create_session(token, who, now)
    }
}

pub(super) struct EndSession {
    token: TokenHash,
}

impl Request for EndSession {
    type Answer = ();

    fn run(self, state: &mut State, _now: i64) -> EngineResult<()> {
        let EndSession { token } = self;
        if state
            .sessions
            .write()
            .expect("sessions lock")
            .remove(&token)
            .is_some()
        {
            state.session_changes.push(SessionChange::Deleted { token });
        }
        Ok(())
    }
}

impl EngineHandle {
    /// Whom an e-mail logs in (the account and its holder) and that login's password hash, for
    /// the caller to verify off this thread.
    pub async fn credentials(
        &self,
        email: String,
    ) -> EngineResult<Option<(LoggedIn, PasswordHash)>> {
        self.request(Credentials { email }).await
    }

    /// The e-mail a holder logs in with (`None`: no such account, or that holder has no login):
    /// what asking for the password again checks, under that e-mail's lock-out.
    pub async fn login_email(&self, who: LoggedIn) -> EngineResult<Option<String>> {
        self.request(LoginEmail { who }).await
    }

    /// Starts a session for a holder of an account.
    pub async fn create_session(&self, token: TokenHash, who: LoggedIn) -> EngineResult<()> {
        self.request(CreateSession { token, who }).await
    }

    pub async fn end_session(&self, token: TokenHash) -> EngineResult<()> {
        self.request(EndSession { token }).await
    }

    /// The account logged in with `token`, if that session is live (before its end and used
    /// within the idle time); marks it used.
    pub async fn session_account(&self, token: TokenHash) -> EngineResult<Option<AccountId>> {
        Ok(self.live_session(token, true)?.map(|who| who.account))
    }

    /// Like [`EngineHandle::session_account`], without marking it used: for what a page asks on
    /// its own (refreshing figures), which is no sign that anyone is there.
    pub async fn session_account_quietly(
        &self,
        token: TokenHash,
    ) -> EngineResult<Option<AccountId>> {
        Ok(self.live_session(token, false)?.map(|who| who.account))
    }

    /// The account and holder logged in with `token`, like [`EngineHandle::session_account`].
    pub async fn session_login(&self, token: TokenHash) -> EngineResult<Option<LoggedIn>> {
        self.live_session(token, true)
    }

    /// Like [`EngineHandle::session_login`], without marking it used: for what a page asks on
    /// its own (refreshing figures), which is no sign that anyone is there.
    pub async fn session_login_quietly(&self, token: TokenHash) -> EngineResult<Option<LoggedIn>> {
        self.live_session(token, false)
    }

    fn live_session(&self, token: TokenHash, used: bool) -> EngineResult<Option<LoggedIn>> {
        let now = self.clock.now_ms();
        let sessions = self.sessions.read().map_err(|_| EngineError::Unexpected)?;
        Ok(sessions
            .get(&token)
            .filter(|s| s.live(now, self.session_idle_ms))
            .map(|s| {
                if used {
                    s.last_used_ms
                        .fetch_max(now, std::sync::atomic::Ordering::Relaxed);
                }
                s.who
            }))
    }

    /// How long a session lives at most, and unused: for the cookie and for the page that
    /// notices the end.
    pub fn session_limits_ms(&self) -> (i64, i64) {
        (self.session_ttl_ms, self.session_idle_ms)
    }
}

impl State {
    fn create_session(&mut self, token: TokenHash, who: LoggedIn, now: i64) -> EngineResult<()> {
        let account = who.account;
        if self
            .ledger
            .account(account)
            .and_then(|a| a.login(who.holder))
            .is_none()
        {
            return Err(LedgerError::UnknownAccount.into());
        }
        let mut sessions = self.sessions.write().expect("sessions lock");
        let mut own: Vec<(i64, TokenHash)> = sessions
            .iter()
            .filter(|(_, s)| s.who.account == account)
            .map(|(t, s)| (s.expires_ms, *t))
            .collect();
        if own.len() >= self.config.sessions_per_account {
            own.sort_unstable_by_key(|(expires, _)| *expires);
            let excess = own.len() + 1 - self.config.sessions_per_account;
            for (_, token) in own.into_iter().take(excess) {
                sessions.remove(&token);
                self.session_changes.push(SessionChange::Deleted { token });
            }
        }
        if sessions.len() >= self.config.sessions_max {
            let idle_ms = self.config.session_idle_ms;
            sessions.retain(|_, s| s.live(now, idle_ms));
            self.session_changes
                .push(SessionChange::ExpiredBefore { now_ms: now });
            if sessions.len() >= self.config.sessions_max {
                return Err(EngineError::Busy);
            }
        }
        let expires_ms = now + self.config.session_ttl_ms;
        sessions.insert(token, LiveSession::new(who, expires_ms, now));
        self.session_changes.push(SessionChange::Created {
            token,
            account,
            holder: who.holder,
            expires_ms,
        });
        Ok(())
    }
}

/// The unexpired sessions in the store, keyed as the engine keeps them, each counted as used now.
pub(super) fn live_sessions(
    store: &Store,
    now_ms: i64,
) -> rusqlite::Result<HashMap<TokenHash, LiveSession>> {
    Ok(store
        .load_sessions(now_ms)?
        .into_iter()
        .map(|s| {
            let who = LoggedIn::new(s.account, s.holder);
            (s.token, LiveSession::new(who, s.expires_ms, now_ms))
        })
        .collect())
}
