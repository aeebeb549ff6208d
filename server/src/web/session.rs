//! Encrypted cookies: the login session and the CSRF nonce.
//!
//! Each login session has a random id, and every CSRF nonce is bound to the
//! session it was issued in (or to "nobody signed in"): a nonce, even with
//! its cookie, works only in the browser session it was made for, and the
//! nonces of the login form stop working at login. With an https public
//! URL the cookies are named `__Host-...`, which browsers accept only with
//! `Secure`, `Path=/` and no `Domain`, so a sibling host of the same site
//! cannot plant a cookie of its own in their place.

use axum_extra::extract::cookie::{Cookie, Key, PrivateCookieJar, SameSite};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::identity::User;
use crate::identity::oidc::PendingLogin;
use crate::store::UnixTime;
use crate::tokens;

/// The names of the three cookies.
struct CookieNames {
    session: &'static str,
    csrf: &'static str,
    upstream: &'static str,
}

/// With an https public URL: the `__Host-` prefix (RFC 6265bis 4.1.3.2).
const HOST_NAMES: CookieNames = CookieNames {
    session: "__Host-alexa_link_session",
    csrf: "__Host-alexa_link_csrf",
    upstream: "__Host-alexa_link_upstream",
};

/// Plain `http://` (local development): browsers refuse `__Host-` cookies
/// without `Secure`, which such a page cannot set.
const PLAIN_NAMES: CookieNames = CookieNames {
    session: "alexa_link_session",
    csrf: "alexa_link_csrf",
    upstream: "alexa_link_upstream",
};

/// Every cookie covers the whole host: `__Host-` requires it, and one path
/// for all keeps the two modes alike.
const COOKIE_PATH: &str = "/";

/// Cookie settings shared by every page.
#[derive(Clone)]
pub struct CookieSettings {
    /// Encrypts and authenticates cookie values.
    pub key: Key,
    /// Set the `Secure` attribute (the public URL is https).
    pub secure: bool,
    /// Lifetime of a login.
    pub session_seconds: i64,
    /// Lifetime of a CSRF nonce.
    pub form_seconds: i64,
}

/// A logged-in user, as remembered by the session cookie.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginSession {
    /// Random id of this login, new at every login; CSRF nonces are bound
    /// to it.
    pub session_id: String,
    /// Stable user id.
    pub user_id: String,
    /// Name shown on pages.
    pub display_name: String,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// When this login stops counting.
    pub expires_at: UnixTime,
}

/// A login delegated to the upstream OpenID Provider, between the redirect
/// there and the callback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpstreamLogin {
    /// state, nonce and PKCE verifier.
    pub pending: PendingLogin,
    /// The interrupted authorization request (its query string), or `None`
    /// when the login leads to the linked-apps page.
    pub request: Option<String>,
    /// When the callback stops being accepted.
    pub expires_at: UnixTime,
}

#[derive(Serialize, Deserialize)]
struct CsrfValue {
    nonce: String,
    /// The login session the nonce was issued in; `None` before login.
    session_id: Option<String>,
    expires_at: UnixTime,
}

impl CookieSettings {
    /// The jar of a request.
    pub fn jar(&self, headers: &axum::http::HeaderMap) -> PrivateCookieJar {
        PrivateCookieJar::from_headers(headers, self.key.clone())
    }

    fn names(&self) -> &'static CookieNames {
        if self.secure {
            &HOST_NAMES
        } else {
            &PLAIN_NAMES
        }
    }

    fn cookie(&self, name: &'static str, value: String, max_age: i64) -> Cookie<'static> {
        Cookie::build((name, value))
            .path(COOKIE_PATH)
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(time::Duration::seconds(max_age))
            .build()
    }

    /// The login session the cookie names, if unexpired. The cookie alone:
    /// whether the session was ended by signing out is the store's to say,
    /// so pages ask [`super::signed_in::current`] instead.
    pub fn session_cookie(&self, jar: &PrivateCookieJar, now: UnixTime) -> Option<LoginSession> {
        let cookie = jar.get(self.names().session)?;
        let session: LoginSession = serde_json::from_str(cookie.value()).ok()?;
        (now < session.expires_at).then_some(session)
    }

    /// Remembers `user` as logged in, in a new session: the CSRF nonce of
    /// the login form is dropped (and would no longer match anyway).
    pub fn start_session(
        &self,
        jar: PrivateCookieJar,
        user: &User,
        now: UnixTime,
    ) -> PrivateCookieJar {
        let session = LoginSession {
            session_id: tokens::random_nonce(),
            user_id: user.id.clone(),
            display_name: user.display_name.clone(),
            auth_time: now,
            expires_at: now.saturating_add(self.session_seconds),
        };
        let value = serde_json::to_string(&session).unwrap_or_default();
        jar.remove(self.removal(self.names().csrf)).add(self.cookie(
            self.names().session,
            value,
            self.session_seconds,
        ))
    }

    /// Forgets the login session, the CSRF nonce and any pending upstream
    /// login (sign out).
    pub fn end_session(&self, jar: PrivateCookieJar) -> PrivateCookieJar {
        let names = self.names();
        [names.session, names.csrf, names.upstream]
            .into_iter()
            .fold(jar, |jar, name| jar.remove(self.removal(name)))
    }

    /// Drops the session cookie of a session that was ended elsewhere (a
    /// copy of the cookie, after signing out): the browser forgets it, and
    /// the CSRF nonces of this response belong to "nobody signed in".
    pub fn forget_session(&self, jar: PrivateCookieJar) -> PrivateCookieJar {
        jar.remove(self.removal(self.names().session))
    }

    /// What removes cookie `name`: the browser matches name and path.
    fn removal(&self, name: &'static str) -> Cookie<'static> {
        Cookie::build(name)
            .path(COOKIE_PATH)
            .secure(self.secure)
            .http_only(true)
            .build()
    }

    /// Remembers a login sent to the upstream provider. One at a time: a
    /// newer one replaces it (the older tab then asks to start again).
    pub fn start_upstream(&self, jar: PrivateCookieJar, login: &UpstreamLogin) -> PrivateCookieJar {
        let value = serde_json::to_string(login).unwrap_or_default();
        jar.add(self.cookie(self.names().upstream, value, self.form_seconds))
    }

    /// The pending upstream login, if unexpired, and the jar without it
    /// (its state is single-use).
    pub fn take_upstream(
        &self,
        jar: PrivateCookieJar,
        now: UnixTime,
    ) -> (PrivateCookieJar, Option<UpstreamLogin>) {
        let login = jar
            .get(self.names().upstream)
            .and_then(|c| serde_json::from_str::<UpstreamLogin>(c.value()).ok())
            .filter(|l| now < l.expires_at);
        let jar = jar.remove(self.removal(self.names().upstream));
        (jar, login)
    }

    /// The CSRF nonce to embed in a form: the current one while it is
    /// fresh and bound to the current session, so several open tabs keep
    /// working, else a new one.
    pub fn csrf(&self, jar: PrivateCookieJar, now: UnixTime) -> (PrivateCookieJar, String) {
        if let Some(current) = self.current_csrf(&jar, now)
            // Renew early so a form shown now stays valid for its lifetime.
            && current.expires_at - now > self.form_seconds / 2
        {
            return (jar, current.nonce);
        }
        let value = CsrfValue {
            nonce: tokens::random_nonce(),
            session_id: self.session_cookie(&jar, now).map(|s| s.session_id),
            expires_at: now.saturating_add(self.form_seconds),
        };
        let nonce = value.nonce.clone();
        let jar = jar.add(self.cookie(
            self.names().csrf,
            serde_json::to_string(&value).unwrap_or_default(),
            self.form_seconds,
        ));
        (jar, nonce)
    }

    /// Whether a submitted form's nonce matches the cookie (double submit
    /// with an encrypted cookie: a cross-site page can neither read nor
    /// forge it) and the cookie was issued in the current login session.
    pub fn check_csrf(
        &self,
        jar: &PrivateCookieJar,
        presented: Option<&str>,
        now: UnixTime,
    ) -> bool {
        match (self.current_csrf(jar, now), presented) {
            (Some(current), Some(presented)) => {
                current.nonce.as_bytes().ct_eq(presented.as_bytes()).into()
            }
            _ => false,
        }
    }

    /// The unexpired nonce of the cookie, if it belongs to the session the
    /// browser is in now.
    fn current_csrf(&self, jar: &PrivateCookieJar, now: UnixTime) -> Option<CsrfValue> {
        let value: CsrfValue = serde_json::from_str(jar.get(self.names().csrf)?.value()).ok()?;
        let session_id = self.session_cookie(jar, now).map(|s| s.session_id);
        (now < value.expires_at && value.session_id == session_id).then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use axum::http::{HeaderMap, HeaderValue, header};
    use axum::response::IntoResponse;

    use super::*;

    fn settings(secure: bool) -> CookieSettings {
        CookieSettings {
            key: Key::generate(),
            secure,
            session_seconds: 600,
            form_seconds: 600,
        }
    }

    fn user(id: &str) -> User {
        User {
            id: id.into(),
            username: id.into(),
            display_name: id.into(),
            groups: vec![],
        }
    }

    /// A browser's cookie store: what the server set, sent back.
    #[derive(Default, Clone)]
    struct Browser(BTreeMap<String, String>);

    impl Browser {
        fn jar(&self, s: &CookieSettings) -> PrivateCookieJar {
            let mut headers = HeaderMap::new();
            for (name, value) in &self.0 {
                headers.append(
                    header::COOKIE,
                    HeaderValue::from_str(&format!("{name}={value}")).expect("cookie header"),
                );
            }
            s.jar(&headers)
        }

        /// Applies the `Set-Cookie` headers of a response carrying `jar`,
        /// and returns them.
        fn store(&mut self, jar: PrivateCookieJar) -> Vec<Cookie<'static>> {
            let response = (jar, ()).into_response();
            let mut set = Vec::new();
            for v in response.headers().get_all(header::SET_COOKIE) {
                let cookie =
                    Cookie::parse(v.to_str().expect("ascii").to_owned()).expect("set-cookie");
                if cookie.max_age() == Some(time::Duration::ZERO) {
                    self.0.remove(cookie.name());
                } else {
                    self.0
                        .insert(cookie.name().to_owned(), cookie.value().to_owned());
                }
                set.push(cookie);
            }
            set
        }
    }

    #[test]
    fn https_cookies_carry_the_host_prefix_and_its_attributes() {
        let s = settings(true);
        let mut browser = Browser::default();
        let jar = s.start_session(browser.jar(&s), &user("u1"), 1000);
        let (jar, _) = s.csrf(jar, 1000);
        let set = browser.store(jar);
        assert_eq!(set.len(), 2, "{set:?}");
        for cookie in set {
            assert!(cookie.name().starts_with("__Host-"), "{cookie}");
            assert_eq!(cookie.path(), Some("/"), "{cookie}");
            assert_eq!(cookie.secure(), Some(true), "{cookie}");
            assert_eq!(cookie.domain(), None, "{cookie}");
            assert_eq!(cookie.http_only(), Some(true), "{cookie}");
        }
    }

    #[test]
    fn plain_http_cookies_have_no_prefix_and_no_secure_flag() {
        let s = settings(false);
        let mut browser = Browser::default();
        let (jar, _) = s.csrf(browser.jar(&s), 1000);
        let set = browser.store(jar);
        assert_eq!(set[0].name(), "alexa_link_csrf");
        assert_ne!(set[0].secure(), Some(true));
        assert_eq!(set[0].path(), Some("/"));
    }

    #[test]
    fn csrf_nonce_is_stable_while_fresh_and_checked() {
        let s = settings(true);
        let jar = PrivateCookieJar::from_headers(&HeaderMap::new(), s.key.clone());
        let (jar, nonce) = s.csrf(jar, 1000);
        let (jar, again) = s.csrf(jar, 1010);
        assert_eq!(nonce, again);
        assert!(s.check_csrf(&jar, Some(&nonce), 1010));
        assert!(!s.check_csrf(&jar, Some("forged"), 1010));
        assert!(!s.check_csrf(&jar, None, 1010));
        assert!(
            !s.check_csrf(&jar, Some(&nonce), 1000 + 600),
            "expired nonce"
        );
    }

    #[test]
    fn a_nonce_and_its_cookie_work_only_in_their_own_session() {
        let s = settings(true);
        let csrf_name = HOST_NAMES.csrf;
        let mut victim = Browser::default();
        victim.store(s.start_session(victim.jar(&s), &user("victim"), 1000));
        let mut attacker = Browser::default();
        attacker.store(s.start_session(attacker.jar(&s), &user("attacker"), 1000));
        let (jar, attacker_nonce) = s.csrf(attacker.jar(&s), 1000);
        attacker.store(jar);
        assert!(s.check_csrf(&attacker.jar(&s), Some(&attacker_nonce), 1001));
        // The attacker plants their CSRF cookie in the victim's browser
        // (say, from a sibling host) and submits their own nonce.
        victim
            .0
            .insert(csrf_name.into(), attacker.0[csrf_name].clone());
        assert!(
            !s.check_csrf(&victim.jar(&s), Some(&attacker_nonce), 1001),
            "a nonce of another session must not pass"
        );
        // And the victim's next form gets a nonce of their own session.
        let (jar, fresh) = s.csrf(victim.jar(&s), 1001);
        assert_ne!(fresh, attacker_nonce);
        victim.store(jar);
        assert!(s.check_csrf(&victim.jar(&s), Some(&fresh), 1002));
    }

    #[test]
    fn logging_in_rotates_the_nonce() {
        let s = settings(true);
        let mut browser = Browser::default();
        let (jar, before) = s.csrf(browser.jar(&s), 1000);
        browser.store(jar);
        assert!(s.check_csrf(&browser.jar(&s), Some(&before), 1001));
        // A browser that kept the old cookie (the removal lost) cannot use
        // it either once logged in.
        let mut kept = browser.clone();
        let session = s.start_session(kept.jar(&s), &user("u1"), 1001);
        let csrf_cookie = kept.0[HOST_NAMES.csrf].clone();
        kept.store(session);
        kept.0.insert(HOST_NAMES.csrf.into(), csrf_cookie);
        assert!(!s.check_csrf(&kept.jar(&s), Some(&before), 1002));
        let set = browser.store(s.start_session(browser.jar(&s), &user("u1"), 1001));
        assert!(
            set.iter()
                .any(|c| c.name() == HOST_NAMES.csrf && c.max_age() == Some(time::Duration::ZERO)),
            "the login removes the old nonce's cookie: {set:?}"
        );
        assert!(!s.check_csrf(&browser.jar(&s), Some(&before), 1002));
        let (jar, after) = s.csrf(browser.jar(&s), 1002);
        assert_ne!(after, before);
        browser.store(jar);
        assert!(s.check_csrf(&browser.jar(&s), Some(&after), 1003));
    }

    #[test]
    fn ending_the_session_removes_every_cookie() {
        let s = settings(true);
        let mut browser = Browser::default();
        let jar = s.start_session(browser.jar(&s), &user("u1"), 1000);
        let (jar, _) = s.csrf(jar, 1000);
        browser.store(jar);
        assert_eq!(browser.0.len(), 2);
        browser.store(s.end_session(browser.jar(&s)));
        assert!(browser.0.is_empty(), "{:?}", browser.0.keys());
        assert!(s.session_cookie(&browser.jar(&s), 1001).is_none());
    }

    #[test]
    fn a_forgotten_session_is_gone_and_its_nonces_with_it() {
        let s = settings(true);
        let mut browser = Browser::default();
        browser.store(s.start_session(browser.jar(&s), &user("u1"), 1000));
        let (jar, nonce) = s.csrf(browser.jar(&s), 1000);
        browser.store(jar);
        let jar = s.forget_session(browser.jar(&s));
        assert!(s.session_cookie(&jar, 1001).is_none(), "no session now");
        assert!(
            !s.check_csrf(&jar, Some(&nonce), 1001),
            "the ended session's nonce no longer passes"
        );
        let (jar, fresh) = s.csrf(jar, 1001);
        assert!(s.check_csrf(&jar, Some(&fresh), 1001), "a new nonce does");
        let set = browser.store(jar);
        assert!(
            set.iter().any(
                |c| c.name() == HOST_NAMES.session && c.max_age() == Some(time::Duration::ZERO)
            ),
            "the browser is told to drop the session cookie: {set:?}"
        );
        assert!(s.session_cookie(&browser.jar(&s), 1002).is_none());
    }

    #[test]
    fn sessions_expire() {
        let s = settings(true);
        let jar = PrivateCookieJar::from_headers(&HeaderMap::new(), s.key.clone());
        let jar = s.start_session(jar, &user("u1"), 1000);
        assert_eq!(
            s.session_cookie(&jar, 1599).map(|x| x.user_id),
            Some("u1".into())
        );
        assert!(s.session_cookie(&jar, 1600).is_none());
    }
}
