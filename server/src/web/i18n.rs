//! The pages' languages: Project Fluent bundles built from the `.ftl` files
//! under `server/locales/` (embedded in the binary), and the choice of one
//! for a request.
//!
//! The locales are Alexa's: every marketplace's language and region. Region
//! variants share their language's file (`fr` serves fr-FR and fr-CA) with
//! a small file of overrides where the words differ (`fr-CA`).
//! A message missing from a language falls back to English, word for word;
//! the tests below refuse a locale file that misses a key or uses different
//! placeables, so the fallback is a safety net, not a habit.
//!
//! The choice, first match wins: the `ui_locales` parameter of the
//! authorization request (OpenID Connect Core 3.1.2.1), then the language
//! it chose earlier in the same flow (a cookie, see [`super::pages`]), then
//! `Accept-Language`, then English (US).

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use fluent_langneg::{NegotiationStrategy, accepted_languages, negotiate_languages};
use unic_langid::LanguageIdentifier;

/// A supported locale: its BCP 47 tag, its language's file, and the
/// region's overrides, if any.
struct Source {
    tag: &'static str,
    base: &'static str,
    overrides: Option<&'static str>,
}

const EN: &str = include_str!("../../locales/en/main.ftl");
const DE: &str = include_str!("../../locales/de/main.ftl");
const FR: &str = include_str!("../../locales/fr/main.ftl");
const ES: &str = include_str!("../../locales/es/main.ftl");
const IT: &str = include_str!("../../locales/it/main.ftl");
const JA: &str = include_str!("../../locales/ja/main.ftl");
const PT: &str = include_str!("../../locales/pt-BR/main.ftl");
const HI: &str = include_str!("../../locales/hi/main.ftl");
const AR: &str = include_str!("../../locales/ar/main.ftl");
const FR_CA: &str = include_str!("../../locales/fr-CA/main.ftl");

/// Alexa's languages, English (US) first: it is the fallback.
const SOURCES: &[Source] = &[
    Source {
        tag: "en-US",
        base: EN,
        overrides: None,
    },
    Source {
        tag: "en-GB",
        base: EN,
        overrides: None,
    },
    Source {
        tag: "en-IN",
        base: EN,
        overrides: None,
    },
    Source {
        tag: "en-CA",
        base: EN,
        overrides: None,
    },
    Source {
        tag: "en-AU",
        base: EN,
        overrides: None,
    },
    Source {
        tag: "de-DE",
        base: DE,
        overrides: None,
    },
    Source {
        tag: "fr-FR",
        base: FR,
        overrides: None,
    },
    Source {
        tag: "fr-CA",
        base: FR,
        overrides: Some(FR_CA),
    },
    Source {
        tag: "es-ES",
        base: ES,
        overrides: None,
    },
    Source {
        tag: "es-MX",
        base: ES,
        overrides: None,
    },
    Source {
        tag: "es-US",
        base: ES,
        overrides: None,
    },
    Source {
        tag: "it-IT",
        base: IT,
        overrides: None,
    },
    Source {
        tag: "ja-JP",
        base: JA,
        overrides: None,
    },
    Source {
        tag: "pt-BR",
        base: PT,
        overrides: None,
    },
    Source {
        tag: "hi-IN",
        base: HI,
        overrides: None,
    },
    Source {
        tag: "ar-SA",
        base: AR,
        overrides: None,
    },
];

/// Languages written right to left.
const RTL_LANGUAGES: [&str; 1] = ["ar"];

/// One supported locale, by its index in the [`Localizer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lang(usize);

/// The bundles of every supported locale.
pub struct Localizer {
    locales: Vec<Locale>,
    ids: Vec<LanguageIdentifier>,
}

struct Locale {
    tag: &'static str,
    rtl: bool,
    bundle: FluentBundle<FluentResource>,
}

/// A locale file that does not parse: a build error, caught by the tests.
#[derive(Debug, thiserror::Error)]
#[error("locale {tag}: {message}")]
pub struct LocaleError {
    tag: &'static str,
    message: String,
}

impl Localizer {
    /// Builds every bundle from the embedded files.
    pub fn new() -> Result<Localizer, LocaleError> {
        let mut locales = Vec::with_capacity(SOURCES.len());
        let mut ids = Vec::with_capacity(SOURCES.len());
        for source in SOURCES {
            let id: LanguageIdentifier = source.tag.parse().map_err(|e| LocaleError {
                tag: source.tag,
                message: format!("{e}"),
            })?;
            let rtl = RTL_LANGUAGES.contains(&id.language.as_str());
            let mut bundle = FluentBundle::new_concurrent(vec![id.clone()]);
            // Isolation marks keep a Latin name readable inside Arabic text;
            // elsewhere they would only be noise in copied text.
            bundle.set_use_isolating(rtl);
            bundle
                .add_resource(parse(source.tag, source.base)?)
                .map_err(|e| LocaleError {
                    tag: source.tag,
                    message: format!("{e:?}"),
                })?;
            if let Some(overrides) = source.overrides {
                bundle.add_resource_overriding(parse(source.tag, overrides)?);
            }
            locales.push(Locale {
                tag: source.tag,
                rtl,
                bundle,
            });
            ids.push(id);
        }
        Ok(Localizer { locales, ids })
    }

    /// The best supported locale for a list of preferences, most preferred
    /// first (`ui_locales` is space separated, `Accept-Language` comma
    /// separated, both parsed by [`Localizer::parse_preferences`]); `None`
    /// when none is supported.
    pub fn negotiate(&self, requested: &[LanguageIdentifier]) -> Option<Lang> {
        let chosen = negotiate_languages(requested, &self.ids, None, NegotiationStrategy::Lookup);
        let chosen = chosen.first()?;
        self.ids.iter().position(|id| id == *chosen).map(Lang)
    }

    /// Parses `ui_locales` (space separated) or `Accept-Language` (comma
    /// separated, `q` weights in the order given).
    pub fn parse_preferences(value: &str) -> Vec<LanguageIdentifier> {
        accepted_languages::parse(&value.replace(' ', ","))
    }

    /// A locale by its exact tag (as [`Localizer::tag`] gives it).
    pub fn by_tag(&self, tag: &str) -> Option<Lang> {
        self.locales.iter().position(|l| l.tag == tag).map(Lang)
    }

    /// The BCP 47 tag, for `<html lang>`.
    pub fn tag(&self, lang: Lang) -> &'static str {
        self.locale(lang).tag
    }

    /// Whether the locale is written right to left, for `<html dir>`.
    pub fn is_rtl(&self, lang: Lang) -> bool {
        self.locale(lang).rtl
    }

    /// Every supported tag, English (US) first.
    pub fn tags(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.locales.iter().map(|l| l.tag)
    }

    /// The message `id` in `lang`, with `args`; English when `lang` lacks
    /// it, and the id itself when English lacks it too (a bug the tests
    /// catch, shown rather than hidden).
    pub fn message(&self, lang: Lang, id: &str, args: Option<&FluentArgs<'_>>) -> String {
        for locale in [self.locale(lang), &self.locales[0]] {
            if let Some(pattern) = locale.bundle.get_message(id).and_then(|m| m.value()) {
                let mut errors = vec![];
                let text = locale.bundle.format_pattern(pattern, args, &mut errors);
                if !errors.is_empty() {
                    tracing::warn!(
                        locale = locale.tag,
                        id,
                        ?errors,
                        "message formatted with errors"
                    );
                }
                return text.into_owned();
            }
            tracing::warn!(locale = locale.tag, id, "message missing, falling back");
        }
        id.to_owned()
    }

    fn locale(&self, lang: Lang) -> &Locale {
        self.locales.get(lang.0).unwrap_or(&self.locales[0])
    }
}

fn parse(tag: &'static str, text: &'static str) -> Result<FluentResource, LocaleError> {
    FluentResource::try_new(text.to_owned()).map_err(|(_, errors)| LocaleError {
        tag,
        message: format!("{errors:?}"),
    })
}

/// Fluent arguments from `(name, value)` pairs; numbers stay numbers so
/// that plural rules apply.
pub fn args<'a>(pairs: impl IntoIterator<Item = (&'a str, FluentValue<'a>)>) -> FluentArgs<'a> {
    let mut args = FluentArgs::new();
    for (name, value) in pairs {
        args.set(name, value);
    }
    args
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use fluent_bundle::FluentResource;
    use fluent_syntax::ast::{self, Entry, Expression, InlineExpression, PatternElement};

    use super::*;

    /// Every message of a file, with the variables its value and its
    /// selectors use.
    fn messages(text: &'static str) -> Vec<(String, BTreeSet<String>)> {
        let resource = FluentResource::try_new(text.to_owned()).expect("parses");
        let mut out = vec![];
        for entry in resource.entries() {
            if let Entry::Message(m) = entry {
                let mut vars = BTreeSet::new();
                if let Some(value) = &m.value {
                    pattern_vars(value, &mut vars);
                }
                out.push((m.id.name.to_owned(), vars));
            }
        }
        out
    }

    fn pattern_vars(pattern: &ast::Pattern<&str>, vars: &mut BTreeSet<String>) {
        for element in &pattern.elements {
            if let PatternElement::Placeable { expression } = element {
                expression_vars(expression, vars);
            }
        }
    }

    fn expression_vars(expression: &Expression<&str>, vars: &mut BTreeSet<String>) {
        match expression {
            Expression::Inline(inline) => inline_vars(inline, vars),
            Expression::Select { selector, variants } => {
                inline_vars(selector, vars);
                for v in variants {
                    pattern_vars(&v.value, vars);
                }
            }
        }
    }

    fn inline_vars(inline: &InlineExpression<&str>, vars: &mut BTreeSet<String>) {
        match inline {
            InlineExpression::VariableReference { id } => {
                vars.insert(id.name.to_owned());
            }
            InlineExpression::Placeable { expression } => expression_vars(expression, vars),
            _ => {}
        }
    }

    #[test]
    fn every_language_has_every_english_key_with_the_same_placeables() {
        let english = messages(EN);
        assert!(english.len() > 50, "the English file is the reference");
        for (tag, text) in [
            ("de", DE),
            ("fr", FR),
            ("es", ES),
            ("it", IT),
            ("ja", JA),
            ("pt-BR", PT),
            ("hi", HI),
            ("ar", AR),
        ] {
            let theirs: std::collections::HashMap<_, _> = messages(text).into_iter().collect();
            for (id, vars) in &english {
                let Some(their_vars) = theirs.get(id) else {
                    panic!("{tag} misses {id}");
                };
                assert_eq!(
                    their_vars, vars,
                    "{tag} {id}: placeables differ from English"
                );
            }
            for id in theirs.keys() {
                assert!(
                    english.iter().any(|(e, _)| e == id),
                    "{tag} has {id}, which English does not"
                );
            }
        }
    }

    #[test]
    fn region_overrides_only_override_english_keys() {
        let english: std::collections::HashMap<_, _> = messages(EN).into_iter().collect();
        for text in [FR_CA] {
            for (id, vars) in messages(text) {
                assert_eq!(english.get(&id), Some(&vars), "override {id}");
            }
        }
    }

    #[test]
    fn a_missing_message_falls_back_to_english() {
        let mut l = Localizer::new().expect("locales");
        let de = l.by_tag("de-DE").expect("de");
        assert_eq!(l.message(de, "login-title", None), "Anmelden");
        // Build a German bundle without the key, as a contributor's
        // half-done file would be.
        let mut bundle = FluentBundle::new_concurrent(vec!["de-DE".parse().expect("tag")]);
        bundle.set_use_isolating(false);
        bundle
            .add_resource(FluentResource::try_new("login-title = Anmelden\n".into()).expect("ftl"))
            .expect("adds");
        l.locales[de.0].bundle = bundle;
        assert_eq!(l.message(de, "consent-allow", None), "Allow");
        assert_eq!(l.message(de, "login-title", None), "Anmelden");
        assert_eq!(l.message(de, "no-such-message", None), "no-such-message");
    }

    #[test]
    fn negotiation_picks_alexas_locales() {
        let l = Localizer::new().expect("locales");
        let pick = |s: &str| {
            l.negotiate(&Localizer::parse_preferences(s))
                .map(|x| l.tag(x))
        };
        assert_eq!(pick("de-DE,de;q=0.9,en;q=0.8"), Some("de-DE"));
        assert_eq!(pick("de"), Some("de-DE"));
        assert_eq!(pick("fr-CA"), Some("fr-CA"));
        assert_eq!(pick("fr-BE,fr;q=0.8"), Some("fr-FR"));
        assert_eq!(pick("es-MX"), Some("es-MX"));
        assert_eq!(pick("pt"), Some("pt-BR"));
        assert_eq!(pick("ar-EG"), Some("ar-SA"));
        assert_eq!(pick("en-GB"), Some("en-GB"));
        assert_eq!(pick("en"), Some("en-US"));
        assert_eq!(pick("zh-CN, ja"), Some("ja-JP"));
        assert_eq!(
            pick("ja hi"),
            Some("ja-JP"),
            "ui_locales is space separated"
        );
        assert_eq!(pick("zh-CN"), None);
        assert_eq!(pick(""), None);
        assert!(l.is_rtl(l.by_tag("ar-SA").expect("ar")));
        assert!(!l.is_rtl(l.by_tag("he-IL").unwrap_or_default()));
    }

    #[test]
    fn plurals_and_arguments_follow_the_language() {
        let l = Localizer::new().expect("locales");
        let en = Lang::default();
        let one = args([("seconds", FluentValue::from(1))]);
        let many = args([("seconds", FluentValue::from(5))]);
        assert_eq!(
            l.message(en, "login-throttled-seconds", Some(&one)),
            "Too many failed sign-in attempts. Try again in a second."
        );
        assert_eq!(
            l.message(en, "login-throttled-seconds", Some(&many)),
            "Too many failed sign-in attempts. Try again in 5 seconds."
        );
        let ar = l.by_tag("ar-SA").expect("ar");
        let name = args([("client", FluentValue::from("Acme"))]);
        assert!(
            l.message(ar, "consent-heading", Some(&name))
                .contains("\u{2068}Acme\u{2069}"),
            "a Latin name is isolated in Arabic text"
        );
        for tag in l.tags() {
            let lang = l.by_tag(tag).expect("tag");
            assert!(!l.message(lang, "login-title", None).is_empty(), "{tag}");
        }
    }
}
