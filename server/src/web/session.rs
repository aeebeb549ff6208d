//! Encrypted cookies: the login session and the CSRF nonce.

use axum_extra::extract::cookie::{Cookie, Key, PrivateCookieJar, SameSite};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::identity::User;
use crate::identity::oidc::PendingLogin;
use crate::store::UnixTime;
use crate::tokens;

const SESSION_COOKIE: &str = "alexa_link_session";
const CSRF_COOKIE: &str = "alexa_link_csrf";
const UPSTREAM_COOKIE: &str = "alexa_link_upstream";

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
    expires_at: UnixTime,
}

impl CookieSettings {
    /// The jar of a request.
    pub fn jar(&self, headers: &axum::http::HeaderMap) -> PrivateCookieJar {
        PrivateCookieJar::from_headers(headers, self.key.clone())
    }

    fn cookie(&self, name: &'static str, value: String, max_age: i64) -> Cookie<'static> {
        Cookie::build((name, value))
            .path("/oauth")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(time::Duration::seconds(max_age))
            .build()
    }

    /// The login session, if there is an unexpired one.
    pub fn session(&self, jar: &PrivateCookieJar, now: UnixTime) -> Option<LoginSession> {
        let cookie = jar.get(SESSION_COOKIE)?;
        let session: LoginSession = serde_json::from_str(cookie.value()).ok()?;
        (now < session.expires_at).then_some(session)
    }

    /// Remembers `user` as logged in.
    pub fn start_session(
        &self,
        jar: PrivateCookieJar,
        user: &User,
        now: UnixTime,
    ) -> PrivateCookieJar {
        let session = LoginSession {
            user_id: user.id.clone(),
            display_name: user.display_name.clone(),
            auth_time: now,
            expires_at: now.saturating_add(self.session_seconds),
        };
        let value = serde_json::to_string(&session).unwrap_or_default();
        jar.add(self.cookie(SESSION_COOKIE, value, self.session_seconds))
    }

    /// Remembers a login sent to the upstream provider. One at a time: a
    /// newer one replaces it (the older tab then asks to start again).
    pub fn start_upstream(&self, jar: PrivateCookieJar, login: &UpstreamLogin) -> PrivateCookieJar {
        let value = serde_json::to_string(login).unwrap_or_default();
        jar.add(self.cookie(UPSTREAM_COOKIE, value, self.form_seconds))
    }

    /// The pending upstream login, if unexpired, and the jar without it
    /// (its state is single-use).
    pub fn take_upstream(
        &self,
        jar: PrivateCookieJar,
        now: UnixTime,
    ) -> (PrivateCookieJar, Option<UpstreamLogin>) {
        let login = jar
            .get(UPSTREAM_COOKIE)
            .and_then(|c| serde_json::from_str::<UpstreamLogin>(c.value()).ok())
            .filter(|l| now < l.expires_at);
        let jar = jar.remove(Cookie::build(UPSTREAM_COOKIE).path("/oauth").build());
        (jar, login)
    }

    /// The CSRF nonce to embed in a form: the current one while it is
    /// fresh, so several open tabs keep working, else a new one.
    pub fn csrf(&self, jar: PrivateCookieJar, now: UnixTime) -> (PrivateCookieJar, String) {
        if let Some(current) = self.current_csrf(&jar, now)
            // Renew early so a form shown now stays valid for its lifetime.
            && current.expires_at - now > self.form_seconds / 2
        {
            return (jar, current.nonce);
        }
        let value = CsrfValue {
            nonce: tokens::random_nonce(),
            expires_at: now.saturating_add(self.form_seconds),
        };
        let nonce = value.nonce.clone();
        let jar = jar.add(self.cookie(
            CSRF_COOKIE,
            serde_json::to_string(&value).unwrap_or_default(),
            self.form_seconds,
        ));
        (jar, nonce)
    }

    /// Whether a submitted form's nonce matches the cookie (double submit
    /// with an encrypted cookie: a cross-site page can neither read nor
    /// forge it).
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

    fn current_csrf(&self, jar: &PrivateCookieJar, now: UnixTime) -> Option<CsrfValue> {
        let value: CsrfValue = serde_json::from_str(jar.get(CSRF_COOKIE)?.value()).ok()?;
        (now < value.expires_at).then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes;

    fn settings() -> CookieSettings {
        CookieSettings {
            key: Key::generate(),
            secure: true,
            session_seconds: 600,
            form_seconds: 600,
        }
    }

    #[test]
    fn cookies_are_scoped_to_every_page_of_the_flow() {
        for path in [routes::AUTHORIZE, routes::LOGIN, routes::CONSENT] {
            assert!(
                path.starts_with("/oauth/"),
                "{path} would not receive the cookies"
            );
        }
    }

    #[test]
    fn csrf_nonce_is_stable_while_fresh_and_checked() {
        let s = settings();
        let jar = PrivateCookieJar::from_headers(&axum::http::HeaderMap::new(), s.key.clone());
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
    fn sessions_expire() {
        let s = settings();
        let jar = PrivateCookieJar::from_headers(&axum::http::HeaderMap::new(), s.key.clone());
        let user = User {
            id: "u1".into(),
            username: "ann".into(),
            display_name: "Ann".into(),
            groups: vec![],
        };
        let jar = s.start_session(jar, &user, 1000);
        assert_eq!(s.session(&jar, 1599).map(|x| x.user_id), Some("u1".into()));
        assert!(s.session(&jar, 1600).is_none());
    }
}
