//! Server-rendered pages: minijinja templates, built in (`server/templates/`,
//! embedded) or replaced file by file from `branding.templatesDir`, in the
//! request's language ([`super::i18n`]) and brand ([`super::branding`]), with
//! the headers every page gets: no caching, no framing, no scripts.
//!
//! Every template sees `lang` and `dir` (for `<html>`), `brand` (name, logo,
//! color, links, style sheet), the page's own fields, and the function
//! `t(id, name=value, ...)` that looks a message up in the page's language.
//! Values are HTML-escaped. At start every template, built in or not, is
//! rendered once with a sample of its context, so a broken override stops
//! the start, naming the file, instead of failing a user's page.

use std::path::Path;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::cookie::PrivateCookieJar;
use fluent_bundle::{FluentArgs, FluentValue};
use minijinja::value::{Kwargs, Value};
use minijinja::{AutoEscape, Environment, Error, Output, State, context, escape_formatter};
use serde::Serialize;

use super::branding::{Brand, BrandingError, Brands};
use super::i18n::{Lang, LocaleError, Localizer};
use crate::config::Config;
use crate::config::branding::TEMPLATE_NAMES;

/// The built-in templates, by the file names an override uses (the
/// config crate's [`TEMPLATE_NAMES`], which the operator checks too).
pub const TEMPLATES: [(&str, &str); TEMPLATE_NAMES.len()] = [
    (
        TEMPLATE_NAMES[0],
        include_str!("../../templates/layout.html"),
    ),
    (
        TEMPLATE_NAMES[1],
        include_str!("../../templates/login.html"),
    ),
    (
        TEMPLATE_NAMES[2],
        include_str!("../../templates/consent.html"),
    ),
    (
        TEMPLATE_NAMES[3],
        include_str!("../../templates/links.html"),
    ),
    (
        TEMPLATE_NAMES[4],
        include_str!("../../templates/signed_out.html"),
    ),
    (
        TEMPLATE_NAMES[5],
        include_str!("../../templates/error.html"),
    ),
    (
        TEMPLATE_NAMES[6],
        include_str!("../../templates/app_to_app.html"),
    ),
];

/// The cookie that keeps the language an authorization request asked for
/// (`ui_locales`) through the login and consent round trip.
const LANG_COOKIE: &str = "alexa_link_lang";
const LANG_COOKIE_SECONDS: u32 = 3600;

/// A page: its fields (the template's context) and its template.
pub trait Page: Serialize {
    /// The template's file name.
    const TEMPLATE: &'static str;
}

/// The login page.
#[derive(Serialize)]
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
    /// What went wrong, if anything (already in the page's language).
    pub error: Option<&'a str>,
}

impl Page for LoginPage<'_> {
    const TEMPLATE: &'static str = "login.html";
}

/// The consent page.
#[derive(Serialize)]
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
    /// What went wrong, if anything (already in the page's language).
    pub error: Option<&'a str>,
}

impl Page for ConsentPage<'_> {
    const TEMPLATE: &'static str = "consent.html";
}

/// One linked client on the linked-apps page.
#[derive(Serialize)]
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
#[derive(Serialize)]
pub struct LinksPage<'a> {
    /// Form target.
    pub action: &'a str,
    /// Who is logged in.
    pub user_name: &'a str,
    /// The linked clients.
    pub apps: &'a [LinkedApp],
    /// CSRF nonce.
    pub csrf: &'a str,
    /// A confirmation to show (already in the page's language).
    pub notice: Option<&'a str>,
    /// Where the sign-out form posts.
    pub logout: &'a str,
}

impl Page for LinksPage<'_> {
    const TEMPLATE: &'static str = "links.html";
}

/// After signing out.
#[derive(Serialize)]
pub struct SignedOutPage<'a> {
    /// The linked-apps page, to sign in again.
    pub links: &'a str,
}

impl Page for SignedOutPage<'_> {
    const TEMPLATE: &'static str = "signed_out.html";
}

/// An error shown instead of redirecting to an untrusted URI.
#[derive(Serialize)]
pub struct ErrorPage<'a> {
    /// Heading.
    pub title: &'a str,
    /// Explanation.
    pub message: &'a str,
    /// A technical detail for the app's developer (not translated).
    pub detail: Option<&'a str>,
}

impl Page for ErrorPage<'_> {
    const TEMPLATE: &'static str = "error.html";
}

/// Why the pages could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PagesError {
    /// A branding file is missing or unusable.
    #[error("invalid branding: {0}")]
    Branding(#[from] BrandingError),
    /// A template (override) does not parse or render.
    #[error("invalid branding.templatesDir: {0}")]
    Templates(String),
    /// A built-in locale file is broken.
    #[error(transparent)]
    Locale(#[from] LocaleError),
}

/// The templates, languages and brands, ready to render.
pub struct Pages {
    env: Environment<'static>,
    i18n: Arc<Localizer>,
    brands: Brands,
    secure_cookie: bool,
}

impl Pages {
    /// Loads the config's branding and templates, and checks them.
    pub fn new(config: &Config) -> Result<Pages, PagesError> {
        let i18n = Arc::new(Localizer::new()?);
        let brands = Brands::load(config)?;
        let dir = config
            .branding
            .as_ref()
            .and_then(|b| b.templates_dir.as_deref());
        let env = environment(&i18n, dir)?;
        Ok(Pages {
            env,
            i18n,
            brands,
            secure_cookie: config.server.public_url.scheme() == "https",
        })
    }

    /// The brands, for the style sheet route.
    pub fn brands(&self) -> &Brands {
        &self.brands
    }

    /// The languages.
    pub fn localizer(&self) -> &Localizer {
        &self.i18n
    }

    /// The language and brand for a request: the language chosen earlier in
    /// this flow, else `Accept-Language`, else English; the server's brand.
    pub fn ui(&self, headers: &HeaderMap) -> Ui<'_> {
        let remembered = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().strip_prefix(LANG_COOKIE)?.strip_prefix('='))
            .find_map(|tag| self.i18n.by_tag(tag));
        let lang = remembered
            .or_else(|| {
                let accept = headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
                self.i18n.negotiate(&Localizer::parse_preferences(accept))
            })
            .unwrap_or_default();
        Ui {
            pages: self,
            lang,
            brand: self.brands.server(),
            remember: false,
        }
    }
}

/// How one response looks: its language and brand.
#[derive(Clone, Copy)]
pub struct Ui<'a> {
    pages: &'a Pages,
    lang: Lang,
    brand: &'a Brand,
    remember: bool,
}

impl<'a> Ui<'a> {
    /// With the brand of the client the page is for.
    pub fn for_client(self, client_id: &str) -> Ui<'a> {
        Ui {
            brand: self.pages.brands.client(client_id),
            ..self
        }
    }

    /// With the language the authorization request asks for (`ui_locales`,
    /// space separated, most preferred first), when one is supported; it is
    /// then kept for the rest of the flow.
    pub fn prefer(self, ui_locales: Option<&str>) -> Ui<'a> {
        let chosen = ui_locales
            .map(Localizer::parse_preferences)
            .and_then(|p| self.pages.i18n.negotiate(&p));
        match chosen {
            Some(lang) => Ui {
                lang,
                remember: true,
                ..self
            },
            None => self,
        }
    }

    /// The page's language tag.
    pub fn lang_tag(&self) -> &'static str {
        self.pages.i18n.tag(self.lang)
    }

    /// A message in the page's language.
    pub fn t(&self, id: &str) -> String {
        self.pages.i18n.message(self.lang, id, None)
    }

    /// A message with arguments in the page's language.
    pub fn t_with<'v>(
        &self,
        id: &str,
        args: impl IntoIterator<Item = (&'v str, FluentValue<'v>)>,
    ) -> String {
        let args = super::i18n::args(args);
        self.pages.i18n.message(self.lang, id, Some(&args))
    }
}

/// Builds the template environment: the built-in templates, the overrides
/// on top, `t`, and a sample render of every page.
fn environment(
    i18n: &Arc<Localizer>,
    dir: Option<&Path>,
) -> Result<Environment<'static>, PagesError> {
    let mut env = Environment::new();
    env.set_formatter(html_formatter);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .map_err(|e| PagesError::Templates(format!("built-in {name}: {e}")))?;
    }
    if let Some(dir) = dir {
        add_overrides(&mut env, dir)?;
    }
    let localizer = Arc::clone(i18n);
    env.add_function(
        "t",
        move |state: &State, id: &str, kwargs: Kwargs| -> Result<String, minijinja::Error> {
            let lang = state
                .lookup("lang")
                .and_then(|v| v.as_str().and_then(|tag| localizer.by_tag(tag)))
                .unwrap_or_default();
            let mut args = FluentArgs::new();
            let mut any = false;
            for name in kwargs.args() {
                any = true;
                let value: Value = kwargs.get(name)?;
                let value = match value.as_i64() {
                    Some(n) => FluentValue::from(n),
                    None => FluentValue::from(value.to_string()),
                };
                args.set(name.to_owned(), value);
            }
            Ok(localizer.message(lang, id, any.then_some(&args)))
        },
    );
    for (name, sample) in samples() {
        let rendered = env.get_template(name).and_then(|t| t.render(sample));
        if let Err(e) = rendered {
            let file = e.name().unwrap_or(name).to_owned();
            let place = match dir {
                Some(d) if d.join(&file).exists() => d.join(&file).display().to_string(),
                _ => format!("built-in {file}"),
            };
            return Err(PagesError::Templates(format!("{place}: {e}")));
        }
    }
    Ok(env)
}

/// HTML-escapes the five characters that matter (`& < > " '`), as the
/// pages always did; minijinja's default also escapes `/`, which would turn
/// every URL in a page into entities.
fn html_formatter(out: &mut Output<'_>, state: &State<'_, '_>, value: &Value) -> Result<(), Error> {
    match (state.auto_escape(), value.as_str()) {
        (AutoEscape::Html, Some(text)) if !value.is_safe() => {
            let mut rest = text;
            while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
                out.write_str(&rest[..i])?;
                out.write_str(match rest.as_bytes()[i] {
                    b'&' => "&amp;",
                    b'<' => "&lt;",
                    b'>' => "&gt;",
                    b'"' => "&quot;",
                    _ => "&#39;",
                })?;
                rest = &rest[i + 1..];
            }
            out.write_str(rest)?;
            Ok(())
        }
        _ => escape_formatter(out, state, value),
    }
}

/// Adds every template file of `dir`, each replacing the built-in one of
/// its name. Hidden entries are skipped (a mounted ConfigMap's `..data`).
fn add_overrides(env: &mut Environment<'static>, dir: &Path) -> Result<(), PagesError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| PagesError::Templates(format!("failed to read {}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry
            .map_err(|e| PagesError::Templates(format!("failed to read {}: {e}", dir.display())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if !TEMPLATE_NAMES.contains(&name.as_str()) {
            return Err(PagesError::Templates(format!(
                "{}: not a template name (one of {})",
                path.display(),
                TEMPLATE_NAMES.join(", ")
            )));
        }
        let source = std::fs::read_to_string(&path).map_err(|e| {
            PagesError::Templates(format!("failed to read {}: {e}", path.display()))
        })?;
        env.add_template_owned(name, source)
            .map_err(|e| PagesError::Templates(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

/// A context for each template, with every field set, as a request would.
fn samples() -> Vec<(&'static str, Value)> {
    let base = context! {
        lang => "en-US",
        dir => "ltr",
        brand => Brand {
            name: Some("Sample".into()),
            logo: Some("data:image/png;base64,iVBORw0KGgo=".into()),
            color: super::branding::DEFAULT_COLOR.into(),
            support_url: Some("https://example.com/help".into()),
            privacy_url: Some("https://example.com/privacy".into()),
            css: Some("/branding/sample.css".into()),
        },
    };
    let scopes = ["profile".to_owned()];
    let apps = [LinkedApp {
        name: "Sample skill".into(),
        since: "2026-01-01".into(),
        scope: "profile".into(),
        grant: "00".into(),
    }];
    let page = |p: &dyn erased::Sample| context! { ..base.clone(), ..p.value() };
    vec![
        (
            LoginPage::TEMPLATE,
            page(&LoginPage {
                action: "/",
                client_name: Some("Sample skill"),
                request: "a=b",
                csrf: "c",
                username: "u",
                error: Some("e"),
            }),
        ),
        (
            ConsentPage::TEMPLATE,
            page(&ConsentPage {
                action: "/",
                client_name: "Sample skill",
                user_name: "u",
                scopes: &scopes,
                request: "a=b",
                csrf: "c",
                error: Some("e"),
            }),
        ),
        (
            LinksPage::TEMPLATE,
            page(&LinksPage {
                action: "/",
                user_name: "u",
                apps: &apps,
                csrf: "c",
                notice: Some("n"),
                logout: "/",
            }),
        ),
        (SignedOutPage::TEMPLATE, page(&SignedOutPage { links: "/" })),
        (
            ErrorPage::TEMPLATE,
            page(&ErrorPage {
                title: "t",
                message: "m",
                detail: Some("d"),
            }),
        ),
        (
            crate::app_to_app::web::LinkPage::TEMPLATE,
            page(&crate::app_to_app::web::LinkPage::sample()),
        ),
    ]
}

/// Object-safe access to a page's context for [`samples`].
mod erased {
    use minijinja::value::Value;

    pub(super) trait Sample {
        fn value(&self) -> Value;
    }

    impl<T: serde::Serialize> Sample for T {
        fn value(&self) -> Value {
            Value::from_serialize(self)
        }
    }
}

/// Renders `page` in `ui`'s language and brand with `status`, the cookies
/// in `jar`, and hardening headers.
pub fn render<P: Page>(
    ui: &Ui<'_>,
    status: StatusCode,
    page: &P,
    jar: Option<PrivateCookieJar>,
) -> Response {
    let pages = ui.pages;
    let lang = pages.i18n.tag(ui.lang);
    let dir = if pages.i18n.is_rtl(ui.lang) {
        "rtl"
    } else {
        "ltr"
    };
    let ctx = context! {
        lang => lang,
        dir => dir,
        brand => ui.brand,
        ..Value::from_serialize(page)
    };
    let mut response = match pages
        .env
        .get_template(P::TEMPLATE)
        .and_then(|t| t.render(ctx))
    {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, template = P::TEMPLATE, "failed to render page");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    };
    harden(&mut response);
    if ui.remember {
        remember_lang(&mut response, lang, pages.secure_cookie);
    }
    match jar {
        Some(jar) => (jar, response).into_response(),
        None => response,
    }
}

/// An error page: a title and a text, both message ids.
pub fn error(ui: &Ui<'_>, status: StatusCode, title: &str, text: &str) -> Response {
    error_with_detail(ui, status, title, text, None)
}

/// An error page with a technical detail for the app's developer (an OAuth
/// error description, in English: it names parameters).
pub fn error_with_detail(
    ui: &Ui<'_>,
    status: StatusCode,
    title: &str,
    text: &str,
    detail: Option<&str>,
) -> Response {
    let (title, message) = (ui.t(title), ui.t(text));
    let page = ErrorPage {
        title: &title,
        message: &message,
        detail,
    };
    render(ui, status, &page, None)
}

/// The page for a request that does not parse (a form or query string);
/// `detail` is the parser's description.
pub fn invalid_request(ui: &Ui<'_>, detail: &str) -> Response {
    error_with_detail(
        ui,
        StatusCode::BAD_REQUEST,
        "invalid-request-title",
        "invalid-request-text",
        Some(detail),
    )
}

/// A redirect (302 after GET, 303 after POST) that is never cached.
pub fn redirect(
    ui: &Ui<'_>,
    status: StatusCode,
    location: &str,
    jar: Option<PrivateCookieJar>,
) -> Response {
    let mut response = status.into_response();
    match HeaderValue::from_str(location) {
        Ok(v) => {
            response.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => {
            return error(
                ui,
                StatusCode::BAD_REQUEST,
                "bad-redirect-title",
                "bad-redirect-text",
            );
        }
    }
    harden(&mut response);
    if ui.remember {
        remember_lang(&mut response, ui.lang_tag(), ui.pages.secure_cookie);
    }
    match jar {
        Some(jar) => (jar, response).into_response(),
        None => response,
    }
}

fn remember_lang(response: &mut Response, tag: &str, secure: bool) {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!(
        "{LANG_COOKIE}={tag}; Path=/; Max-Age={LANG_COOKIE_SECONDS}; HttpOnly; SameSite=Lax{secure}"
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
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
    // form, which goes to the client (Alexa) by design. Styles: the inline
    // block and a branding style sheet from this origin; images: the logo,
    // inline as a data URL.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BrandingConfig;

    fn pages(branding: Option<BrandingConfig>) -> Result<Pages, PagesError> {
        let mut c = Config::from_yaml(super::super::branding::tests::MINIMAL).expect("parses");
        c.branding = branding;
        Pages::new(&c)
    }

    fn html(response: Response) -> String {
        let body = response.into_body();
        let bytes = futures_lite(body);
        String::from_utf8(bytes).expect("utf-8")
    }

    fn futures_lite(body: axum::body::Body) -> Vec<u8> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(axum::body::to_bytes(body, usize::MAX))
            .expect("body")
            .to_vec()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn the_shared_template_names_are_the_built_in_template_files() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("templates dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut names: Vec<String> = TEMPLATE_NAMES.iter().map(|n| n.to_string()).collect();
        names.sort();
        assert_eq!(files, names);
        // Each built-in template is the file of its name.
        for (name, source) in TEMPLATES {
            let file = std::fs::read_to_string(format!("{dir}/{name}")).expect("template");
            assert_eq!(source, file, "{name}");
        }
    }

    #[test]
    fn the_built_in_templates_render_in_every_language_with_lang_and_dir() {
        let p = pages(None).expect("pages");
        for tag in p.localizer().tags() {
            let ui = p.ui(&headers(&[("accept-language", tag)]));
            assert_eq!(ui.lang_tag(), tag);
            let page = SignedOutPage { links: "/links" };
            let body = html(render(&ui, StatusCode::OK, &page, None));
            let dir = if tag.starts_with("ar") { "rtl" } else { "ltr" };
            assert!(
                body.contains(&format!("<html lang=\"{tag}\" dir=\"{dir}\">")),
                "{tag}: {body}"
            );
            assert!(body.contains(&ui.t("signed-out-heading")), "{tag}");
        }
    }

    #[test]
    fn ui_locales_wins_and_is_remembered_for_the_flow() {
        let p = pages(None).expect("pages");
        let ui = p
            .ui(&headers(&[("accept-language", "de-DE")]))
            .prefer(Some("ja fr"));
        assert_eq!(ui.lang_tag(), "ja-JP");
        let response = render(&ui, StatusCode::OK, &SignedOutPage { links: "/" }, None);
        let cookie = response.headers()[header::SET_COOKIE]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(cookie.starts_with("alexa_link_lang=ja-JP;"), "{cookie}");
        // The next page of the flow: the cookie beats Accept-Language.
        let next = p.ui(&headers(&[
            ("accept-language", "de-DE"),
            ("cookie", "a=b; alexa_link_lang=ja-JP"),
        ]));
        assert_eq!(next.lang_tag(), "ja-JP");
        // An unsupported ui_locales changes nothing; a forged cookie is ignored.
        let ui = p
            .ui(&headers(&[
                ("accept-language", "de"),
                ("cookie", "alexa_link_lang=xx\""),
            ]))
            .prefer(Some("zh"));
        assert_eq!(ui.lang_tag(), "de-DE");
        assert_eq!(p.ui(&HeaderMap::new()).lang_tag(), "en-US");
    }

    #[test]
    fn values_are_escaped_and_the_csp_allows_data_images_only() {
        let p = pages(None).expect("pages");
        let ui = p.ui(&HeaderMap::new());
        let response = error_with_detail(
            &ui,
            StatusCode::BAD_REQUEST,
            "untrusted-title",
            "untrusted-text",
            Some("<script>x</script>"),
        );
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("csp")
            .to_owned();
        assert!(
            csp.contains("img-src data:") && !csp.contains("script-src"),
            "{csp}"
        );
        let body = html(response);
        assert!(!body.contains("<script>"), "{body}");
        assert!(body.contains("&lt;script&gt;x&lt;/script&gt;"), "{body}");
        assert!(body.contains("This link request is not valid"));
    }

    #[test]
    fn an_override_replaces_a_template_and_a_broken_one_names_its_file() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            dir.path().join("signed_out.html"),
            "{% extends \"layout.html\" %}{% block content %}<h1 class=custom>{{ t(\"signed-out-heading\") }}</h1>{% endblock %}",
        )
        .expect("write");
        std::fs::create_dir(dir.path().join("..data")).expect("hidden dir");
        let branding = BrandingConfig {
            templates_dir: Some(dir.path().to_owned()),
            ..BrandingConfig::default()
        };
        let p = pages(Some(branding.clone())).expect("pages");
        let ui = p.ui(&headers(&[("accept-language", "fr")]));
        let body = html(render(
            &ui,
            StatusCode::OK,
            &SignedOutPage { links: "/" },
            None,
        ));
        assert!(
            body.contains("<h1 class=custom>Vous êtes déconnecté</h1>"),
            "{body}"
        );

        std::fs::write(dir.path().join("login.html"), "{% if %}").expect("write");
        let e = pages(Some(branding.clone()))
            .err()
            .expect("syntax error")
            .to_string();
        assert!(e.contains("login.html"), "{e}");
        std::fs::write(dir.path().join("login.html"), "{{ nope() }}").expect("write");
        let e = pages(Some(branding.clone()))
            .err()
            .expect("render error")
            .to_string();
        assert!(e.contains("login.html"), "{e}");
        std::fs::remove_file(dir.path().join("login.html")).expect("rm");
        std::fs::write(dir.path().join("logn.html"), "x").expect("write");
        let e = pages(Some(branding))
            .err()
            .expect("unknown name")
            .to_string();
        assert!(
            e.contains("logn.html") && e.contains("not a template name"),
            "{e}"
        );
    }
}
