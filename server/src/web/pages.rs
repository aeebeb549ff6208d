//! Server-rendered pages (askama templates in `server/templates/`), with the
//! headers every page gets: no caching, no framing, no scripts.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::cookie::PrivateCookieJar;

/// The login page.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    /// Form target.
    pub action: &'a str,
    /// Client shown to the user; `None` on the way to the linked-apps page.
    pub client_name: Option<&'a str>,
    /// The authorization request, carried through the form (may be empty).
    pub request: &'a str,
    /// CSRF nonce.
    pub csrf: &'a str,
    /// Username to prefill after a failed attempt.
    pub username: &'a str,
    /// What went wrong, if anything.
    pub error: Option<&'a str>,
}

/// The consent page.
#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    /// Form target.
    pub action: &'a str,
    /// Client shown to the user.
    pub client_name: &'a str,
    /// Who is logged in.
    pub user_name: &'a str,
    /// Scopes asked for.
    pub scopes: &'a [String],
    /// The authorization request, carried through the form.
    pub request: &'a str,
    /// CSRF nonce.
    pub csrf: &'a str,
    /// What went wrong, if anything.
    pub error: Option<&'a str>,
}

/// One linked client on the linked-apps page.
pub struct LinkedApp {
    /// Client name.
    pub name: String,
    /// When the user linked it (UTC date).
    pub since: String,
    /// Granted scopes.
    pub scope: String,
    /// The grant id, hex.
    pub grant: String,
}

/// The signed-in user's linked clients.
#[derive(Template)]
#[template(path = "links.html")]
pub struct LinksPage<'a> {
    /// Form target.
    pub action: &'a str,
    /// Who is logged in.
    pub user_name: &'a str,
    /// The linked clients.
    pub apps: &'a [LinkedApp],
    /// CSRF nonce.
    pub csrf: &'a str,
    /// A confirmation to show.
    pub notice: Option<&'a str>,
    /// Where the sign-out form posts.
    pub logout: &'a str,
}

/// After signing out.
#[derive(Template)]
#[template(path = "signed_out.html")]
pub struct SignedOutPage<'a> {
    /// The linked-apps page, to sign in again.
    pub links: &'a str,
}

/// An error shown instead of redirecting to an untrusted URI.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    /// Heading.
    pub title: &'a str,
    /// Explanation.
    pub message: &'a str,
}

/// Renders `page` with `status`, the cookies in `jar`, and hardening headers.
pub fn render(status: StatusCode, page: &impl Template, jar: Option<PrivateCookieJar>) -> Response {
    let mut response = match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "failed to render page");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    };
    harden(&mut response);
    match jar {
        Some(jar) => (jar, response).into_response(),
        None => response,
    }
}

/// An error page.
pub fn error(status: StatusCode, title: &str, message: &str) -> Response {
    render(status, &ErrorPage { title, message }, None)
}

/// A redirect (302 after GET, 303 after POST) that is never cached.
pub fn redirect(status: StatusCode, location: &str, jar: Option<PrivateCookieJar>) -> Response {
    let mut response = status.into_response();
    match HeaderValue::from_str(location) {
        Ok(v) => {
            response.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "Invalid redirect",
                "The redirect address is malformed.",
            );
        }
    }
    harden(&mut response);
    match jar {
        Some(jar) => (jar, response).into_response(),
        None => response,
    }
}

fn harden(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // No form-action: browsers apply it to the redirect after the consent
    // form, which goes to the client (Alexa) by design.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"),
    );
}
