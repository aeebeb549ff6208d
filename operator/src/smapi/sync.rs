//! One reconcile's dealings with SMAPI, decided from the spec, the last
//! status and what SMAPI answers:
//!
//! - the request's revision differs from the one SMAPI last accepted (a
//!   spec change, a rotated client secret): send it (Enforce), read it
//!   back, take Alexa's redirect URLs;
//! - a revision SMAPI rejected is not sent again until it changes: the
//!   condition carries SMAPI's reason, and nothing loops;
//! - otherwise, at most once per drift interval, read the skill back: a
//!   console edit is corrected (Enforce, with a Warning event) or reported
//!   (Observe, `SkillConfigured=False Drifted`);
//! - 429 and 5xx: retried after Retry-After or with backoff.
//!
//! Nothing here writes to the API server: the outcome feeds the status,
//! which is written only when it changed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::client::{Credentials, SmapiClient, SmapiError};
use super::drift::{drifted_fields, redirect_urls, vendor_id};
use super::reasons;
use super::request::{build, revision};
use super::skill::Skill;
use super::spec::{AlexaSkillStatus, SkillMode};
use crate::controller::backoff;
use crate::resolve::Resolved;

/// Keys of the credentials Secret.
pub const CLIENT_ID_KEY: &str = "client-id";
/// Keys of the credentials Secret.
pub const CLIENT_SECRET_KEY: &str = "client-secret";
/// Keys of the credentials Secret.
pub const REFRESH_TOKEN_KEY: &str = "refresh-token";

/// The SMAPI side of the operator: the client and what it remembers per link.
pub struct Smapi {
    /// The client.
    pub client: SmapiClient,
    /// How often an unchanged skill is read back for console edits.
    pub drift_interval: Duration,
    /// Per link: the revision last compared with a read-back, and when.
    checked: Mutex<HashMap<String, (String, Instant)>>,
    /// Per link: failed SMAPI attempts in a row (for backoff).
    failures: Mutex<HashMap<String, u32>>,
}

impl Smapi {
    /// The SMAPI side with `client`, reading skills back every `drift_interval`.
    pub fn new(client: SmapiClient, drift_interval: Duration) -> Self {
        Self {
            client,
            drift_interval,
            checked: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// How long until `key`'s skill is read back again; zero: now.
    fn next_check(&self, key: &str, rev: &str) -> Duration {
        match self.checked.lock().ok().and_then(|c| c.get(key).cloned()) {
            Some((r, at)) if r == rev => self.drift_interval.saturating_sub(at.elapsed()),
            _ => Duration::ZERO,
        }
    }

    fn mark_checked(&self, key: &str, rev: &str) {
        if let Ok(mut c) = self.checked.lock() {
            c.insert(key.to_owned(), (rev.to_owned(), Instant::now()));
        }
    }

    fn failed(&self, key: &str) -> u32 {
        self.failures
            .lock()
            .map(|mut f| {
                let n = f.entry(key.to_owned()).or_insert(0);
                *n += 1;
                *n - 1
            })
            .unwrap_or(0)
    }

    fn succeeded(&self, key: &str) {
        if let Ok(mut f) = self.failures.lock() {
            f.remove(key);
        }
    }

    /// Drops what is remembered about a deleted link.
    pub fn forget(&self, key: &str) {
        if let Ok(mut c) = self.checked.lock() {
            c.remove(key);
        }
        self.succeeded(key);
    }
}

/// The SkillConfigured condition to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `True`, `False` or `Unknown`.
    pub status: &'static str,
    /// One CamelCase word.
    pub reason: String,
    /// A sentence.
    pub message: String,
}

/// An event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The event reason.
    pub reason: &'static str,
    /// The note.
    pub note: String,
}

/// What one sync decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `status.alexaSkill`.
    pub status: AlexaSkillStatus,
    /// The condition; `None`: keep the current one (nothing was learned).
    pub verdict: Option<Verdict>,
    /// Reconcile again after this long: a retry (throttled, unavailable)
    /// or the next read-back.
    pub retry_in: Option<Duration>,
    /// A Warning event (a corrected console edit).
    pub notice: Option<Notice>,
}

/// Reason of a corrected console edit's event.
pub const DRIFT_CORRECTED: &str = "DriftCorrected";

fn text(resolved: &Resolved, key: &str) -> Option<String> {
    resolved
        .smapi_credentials
        .as_ref()
        .and_then(|d| d.get(key))
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The credentials from their Secret, or why not (never the values).
pub fn credentials(skill: &Skill, resolved: &Resolved) -> Result<Credentials, Verdict> {
    let name = &skill.credentials_secret;
    if resolved.smapi_credentials.is_none() {
        return Err(Verdict {
            status: "False",
            reason: reasons::CREDENTIALS_MISSING.into(),
            message: format!(
                "Secret {name:?} (spec.alexaSkill.credentialsSecretName) does not exist."
            ),
        });
    }
    let get = |key: &str| {
        text(resolved, key).ok_or_else(|| Verdict {
            status: "False",
            reason: reasons::CREDENTIALS_MISSING.into(),
            message: format!(
                "Secret {name:?} (spec.alexaSkill.credentialsSecretName) has no text under key {key:?}."
            ),
        })
    };
    Ok(Credentials {
        client_id: get(CLIENT_ID_KEY)?,
        client_secret: get(CLIENT_SECRET_KEY)?,
        refresh_token: get(REFRESH_TOKEN_KEY)?,
    })
}

/// The published client's secret, as the server reads it (trailing line
/// breaks are no part of it).
pub fn client_secret(skill: &Skill, resolved: &Resolved) -> Result<String, Verdict> {
    let r = &skill.client_secret;
    resolved
        .secrets
        .get(&r.name)
        .and_then(Option::as_ref)
        .and_then(|d| d.get(&r.key))
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(|v| v.trim_end_matches(['\r', '\n']).to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Verdict {
            status: "False",
            reason: reasons::CLIENT_SECRET_INVALID.into(),
            message: format!(
                "Secret {:?} key {:?} (the secret of client {:?}) must hold the client secret as UTF-8 text.",
                r.name, r.key, skill.client_id
            ),
        })
}

/// `INVALID_URL` -> `InvalidUrl`; `None` for anything that is not such a code.
pub fn camel_reason(code: &str) -> Option<String> {
    if code.is_empty()
        || code.len() > 64
        || !code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        || !code.starts_with(|c: char| c.is_ascii_uppercase())
    {
        return None;
    }
    Some(
        code.split('_')
            .filter(|w| !w.is_empty())
            .map(|w| {
                let mut cs = w.chars();
                cs.next()
                    .map(|f| f.to_string() + &cs.as_str().to_ascii_lowercase())
                    .unwrap_or_default()
            })
            .collect(),
    )
}

/// How a failed call shows: the condition, and when to try again (`None`:
/// not before the spec, a Secret or the resync changes something).
pub fn failure(e: &SmapiError, failures: u32) -> (Verdict, Option<Duration>) {
    let verdict = |status, reason: &str, message: String| Verdict {
        status,
        reason: reason.to_owned(),
        message,
    };
    match e {
        SmapiError::Lwa { .. } => (
            verdict(
                "False",
                reasons::CREDENTIALS_REJECTED,
                format!(
                    "{e}. Generate a new refresh token with the ASK CLI and update the credentials Secret."
                ),
            ),
            None,
        ),
        SmapiError::Api {
            what: "SMAPI",
            status: 400,
            message,
            code,
            violations,
            ..
        } => {
            let first = violations
                .iter()
                .find_map(|v| v.code.as_deref())
                .or(code.as_deref());
            let reason = first
                .and_then(camel_reason)
                .unwrap_or_else(|| reasons::REJECTED.to_owned());
            let details = violations
                .iter()
                .map(|v| match &v.code {
                    Some(c) => format!("{c}: {}", v.message),
                    None => v.message.clone(),
                })
                .collect::<Vec<_>>()
                .join("; ");
            let message = if details.is_empty() {
                format!("SMAPI rejected the account linking: {message}")
            } else {
                format!("SMAPI rejected the account linking: {message} ({details})")
            };
            (verdict("False", &reason, message), None)
        }
        SmapiError::Api {
            what: "SMAPI",
            status: 401 | 403,
            ..
        } => (
            verdict(
                "False",
                reasons::UNAUTHORIZED,
                format!(
                    "{e}. The refresh token needs the alexa::ask:skills:readwrite scope, from an account with access to the skill."
                ),
            ),
            None,
        ),
        SmapiError::Api {
            what: "SMAPI",
            status: 404,
            ..
        } => (
            verdict(
                "False",
                reasons::SKILL_NOT_FOUND,
                format!("{e}. Check spec.alexaSkill.skillId and stage."),
            ),
            None,
        ),
        SmapiError::Api {
            status: 429,
            retry_after,
            ..
        } => (
            verdict("Unknown", reasons::THROTTLED, format!("{e}; retrying.")),
            Some(
                retry_after
                    .map(|d| d.clamp(Duration::from_secs(1), Duration::from_secs(300)))
                    .unwrap_or_else(|| backoff(failures)),
            ),
        ),
        SmapiError::Api {
            what: "SMAPI",
            status: 409,
            ..
        } => (
            verdict("Unknown", reasons::CONFLICT, format!("{e}; retrying.")),
            Some(backoff(failures)),
        ),
        _ => (
            verdict("Unknown", reasons::UNAVAILABLE, format!("{e}; retrying.")),
            Some(backoff(failures)),
        ),
    }
}

fn in_sync(skill: &Skill, rev: &str) -> Verdict {
    let (status, reason) = match skill.mode {
        SkillMode::Enforce => ("True", reasons::CONFIGURED),
        SkillMode::Observe => ("True", reasons::IN_SYNC),
    };
    Verdict {
        status,
        reason: reason.into(),
        message: format!(
            "Skill {} ({}) has the account linking of revision {rev}.",
            skill.skill_id,
            skill.stage.as_str()
        ),
    }
}

/// One reconcile's sync of `skill` (link `key`), from the last status.
pub async fn sync(
    smapi: &Smapi,
    key: &str,
    skill: &Skill,
    resolved: &Resolved,
    previous: Option<&AlexaSkillStatus>,
    now: Time,
) -> Outcome {
    let mut st = previous
        .filter(|p| p.skill_id == skill.skill_id && p.stage == skill.stage.as_str())
        .cloned()
        .unwrap_or_else(|| AlexaSkillStatus {
            skill_id: skill.skill_id.clone(),
            stage: skill.stage.as_str().to_owned(),
            ..AlexaSkillStatus::default()
        });
    let settled = |st: AlexaSkillStatus, verdict: Verdict| Outcome {
        status: st,
        verdict: Some(verdict),
        retry_in: None,
        notice: None,
    };
    let (creds, secret) = match (credentials(skill, resolved), client_secret(skill, resolved)) {
        (Ok(c), Ok(s)) => (c, s),
        (Err(v), _) | (_, Err(v)) => return settled(st, v),
    };
    let request = build(skill, &secret);
    let rev = revision(skill, &request);
    let failed = |st: AlexaSkillStatus, e: SmapiError| {
        let (verdict, retry_in) = failure(&e, smapi.failed(key));
        tracing::warn!(link = key, skill = %skill.skill_id, error = %e, "SMAPI call failed");
        Outcome {
            status: st,
            verdict: Some(verdict),
            retry_in,
            notice: None,
        }
    };
    let changed = st.last_synced_hash.as_deref() != Some(rev.as_str());
    let enforce = skill.mode == SkillMode::Enforce;
    if enforce && changed && st.rejected_hash.as_deref() == Some(rev.as_str()) {
        // Rejected before, unchanged since: the condition already says why.
        return Outcome {
            status: st,
            verdict: None,
            retry_in: None,
            notice: None,
        };
    }
    let mut notice = None;
    if enforce && changed {
        match smapi
            .client
            .put(&creds, &skill.skill_id, skill.stage, &request)
            .await
        {
            Ok(()) => {
                tracing::info!(link = key, skill = %skill.skill_id, stage = skill.stage.as_str(), revision = %rev, "account linking sent to SMAPI");
                st.last_synced_hash = Some(rev.clone());
                st.last_sync_time = Some(now.clone());
                st.rejected_hash = None;
            }
            Err(e) => {
                if matches!(
                    e,
                    SmapiError::Api {
                        what: "SMAPI",
                        status: 400,
                        ..
                    }
                ) {
                    st.rejected_hash = Some(rev.clone());
                }
                return failed(st, e);
            }
        }
    } else {
        let wait = smapi.next_check(key, &rev);
        if !wait.is_zero() {
            // Come back when the read-back is due, so that a console edit
            // is seen within one drift interval.
            return Outcome {
                status: st,
                verdict: None,
                retry_in: Some(wait),
                notice: None,
            };
        }
    }
    // Read back: after sending (Alexa's redirect URLs), or to look for
    // console edits.
    let got = match smapi.client.get(&creds, &skill.skill_id, skill.stage).await {
        Ok(g) => g,
        Err(e) => return failed(st, e),
    };
    let mut drifted = drifted_fields(&request, &got);
    if enforce && !drifted.is_empty() && !changed {
        // A console edit: put the spec's account linking back.
        tracing::warn!(link = key, skill = %skill.skill_id, fields = ?drifted, "skill edited outside the operator; correcting");
        if let Err(e) = smapi
            .client
            .put(&creds, &skill.skill_id, skill.stage, &request)
            .await
        {
            st.drifted_fields = drifted;
            return failed(st, e);
        }
        notice = Some(Notice {
            reason: DRIFT_CORRECTED,
            note: format!(
                "Skill {} ({}) was edited outside the operator ({}); its account linking was set back to the spec.",
                skill.skill_id,
                skill.stage.as_str(),
                drifted.join(", ")
            ),
        });
        st.last_sync_time = Some(now.clone());
        drifted.clear();
    }
    smapi.succeeded(key);
    smapi.mark_checked(key, &rev);
    st.redirect_urls = redirect_urls(&got);
    st.vendor_id = vendor_id(&st.redirect_urls);
    let verdict = if drifted.is_empty() {
        in_sync(skill, &rev)
    } else {
        Verdict {
            status: "False",
            reason: reasons::DRIFTED.into(),
            message: if enforce {
                format!(
                    "SMAPI accepted revision {rev} but reads back different {}.",
                    drifted.join(", ")
                )
            } else {
                format!(
                    "Skill {} ({}) differs from the spec in {} (mode: Observe, not corrected).",
                    skill.skill_id,
                    skill.stage.as_str(),
                    drifted.join(", ")
                )
            },
        }
    };
    st.drifted_fields = drifted;
    Outcome {
        status: st,
        verdict: Some(verdict),
        retry_in: Some(smapi.drift_interval),
        notice,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smapi::client::Violation;

    fn api(status: u16, violations: Vec<Violation>, retry_after: Option<u64>) -> SmapiError {
        SmapiError::Api {
            what: "SMAPI",
            status,
            message: "Request is not valid.".into(),
            code: None,
            violations,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn every_reason_is_one_camel_case_word() {
        for r in [
            reasons::CONFIGURED,
            reasons::IN_SYNC,
            reasons::DRIFTED,
            reasons::CREDENTIALS_MISSING,
            reasons::CREDENTIALS_REJECTED,
            reasons::CLIENT_SECRET_INVALID,
            reasons::UNAUTHORIZED,
            reasons::SKILL_NOT_FOUND,
            reasons::REJECTED,
            reasons::CONFLICT,
            reasons::THROTTLED,
            reasons::UNAVAILABLE,
            DRIFT_CORRECTED,
        ] {
            assert!(r.starts_with(|c: char| c.is_ascii_uppercase()), "{r}");
            assert!(r.chars().all(|c| c.is_ascii_alphanumeric()), "{r}");
        }
    }

    #[test]
    fn violation_codes_become_reasons() {
        assert_eq!(camel_reason("INVALID_URL").as_deref(), Some("InvalidUrl"));
        assert_eq!(
            camel_reason("MAX_ITEMS_EXCEEDED").as_deref(),
            Some("MaxItemsExceeded")
        );
        assert_eq!(camel_reason("not a code"), None);
        assert_eq!(camel_reason(""), None);
        let (v, retry) = failure(
            &api(
                400,
                vec![Violation {
                    code: Some("INVALID_DOMAIN".into()),
                    message: "Domain 'x' is not a fully qualified domain name.".into(),
                }],
                None,
            ),
            0,
        );
        assert_eq!((v.status, v.reason.as_str()), ("False", "InvalidDomain"));
        assert!(
            v.message.contains("INVALID_DOMAIN: Domain 'x'"),
            "{}",
            v.message
        );
        assert_eq!(retry, None, "a rejected request is not retried");
        let (v, _) = failure(&api(400, Vec::new(), None), 0);
        assert_eq!(v.reason, reasons::REJECTED);
    }

    #[test]
    fn throttling_honours_retry_after_and_outages_back_off() {
        let (v, retry) = failure(&api(429, Vec::new(), Some(7)), 0);
        assert_eq!(
            (v.status, v.reason.as_str()),
            ("Unknown", reasons::THROTTLED)
        );
        assert_eq!(retry, Some(Duration::from_secs(7)));
        let (_, retry) = failure(&api(429, Vec::new(), Some(100_000)), 0);
        assert_eq!(retry, Some(Duration::from_secs(300)), "capped");
        let (_, retry) = failure(&api(429, Vec::new(), None), 3);
        assert_eq!(retry, Some(backoff(3)));
        let (v, retry) = failure(&api(503, Vec::new(), None), 2);
        assert_eq!(v.reason, reasons::UNAVAILABLE);
        assert_eq!(retry, Some(backoff(2)));
        let (v, retry) = failure(&api(409, Vec::new(), None), 0);
        assert_eq!(
            (v.reason.as_str(), retry.is_some()),
            (reasons::CONFLICT, true)
        );
    }

    #[test]
    fn refused_credentials_and_tokens_wait_for_a_change() {
        let (v, retry) = failure(
            &SmapiError::Lwa {
                status: 400,
                error: "invalid_grant".into(),
                description: None,
            },
            0,
        );
        assert_eq!(
            (v.reason.as_str(), retry),
            (reasons::CREDENTIALS_REJECTED, None)
        );
        assert!(v.message.contains("invalid_grant"));
        for (status, reason) in [
            (401, reasons::UNAUTHORIZED),
            (403, reasons::UNAUTHORIZED),
            (404, reasons::SKILL_NOT_FOUND),
        ] {
            let (v, retry) = failure(&api(status, Vec::new(), None), 0);
            assert_eq!((v.reason.as_str(), retry), (reason, None), "{status}");
        }
    }
}
