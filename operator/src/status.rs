//! Status: computed purely from the outcome of a reconcile and the
//! Deployment's own status, then written only when it changed.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::ResourceExt;

use crate::alexa_compat::Compat;
use crate::conditions::{Invalid, reasons, types};
use crate::crd::{AlexaSkillLink, AlexaSkillLinkStatus, Endpoints};
use crate::smapi::{SKILL_CONFIGURED, sync};

/// What the reconcile found, as input to the status.
#[derive(Debug, Clone)]
pub enum Outcome<'a> {
    /// The spec or a reference is unusable.
    Invalid(&'a Invalid),
    /// Every child is applied; the Deployment as the API server returned it.
    Applied {
        /// The applied Deployment (with its status).
        deployment: &'a Deployment,
        /// Sentences about skipped children.
        notes: &'a [String],
        /// What Alexa will make of the service (never part of Ready).
        alexa: &'a Compat,
    },
    /// The resource is being deleted and its finalizer is at work.
    Deleting {
        /// One of the deletion reasons in [`reasons`].
        reason: &'static str,
        /// What is happening, for the Ready and Progressing conditions.
        message: String,
        /// Whether this step failed (Degraded).
        failed: bool,
    },
}

/// The endpoint URLs for `host`.
pub fn endpoints(host: &str) -> Endpoints {
    let base = format!("https://{host}");
    Endpoints {
        authorization: format!("{base}/oauth/authorize"),
        token: format!("{base}/oauth/token"),
        reciprocal: format!("{base}/api/reciprocal/authorize"),
        partner_token: format!("{base}/api/partner/token"),
        metadata: format!("{base}/.well-known/oauth-authorization-server"),
    }
}

/// The desired status. `now` stamps conditions whose status flipped;
/// unchanged conditions keep their `lastTransitionTime`.
pub fn desired(asl: &AlexaSkillLink, outcome: &Outcome<'_>, now: Time) -> AlexaSkillLinkStatus {
    let generation = asl.metadata.generation;
    let old = asl.status.clone().unwrap_or_default();
    let cond3 = |type_: &str, status: &str, reason: &str, message: String| {
        condition(&old, generation, &now, type_, status, reason, message)
    };
    let cond = |type_: &str, ok: bool, reason: &str, message: String| {
        cond3(type_, if ok { "True" } else { "False" }, reason, message)
    };
    match outcome {
        Outcome::Invalid(invalid) => AlexaSkillLinkStatus {
            observed_generation: generation,
            conditions: vec![
                cond(types::READY, false, invalid.reason, invalid.message.clone()),
                cond(
                    types::PROGRESSING,
                    false,
                    invalid.reason,
                    "Nothing is rolled out until the problem in the Ready condition is fixed."
                        .into(),
                ),
                cond(
                    types::DEGRADED,
                    true,
                    invalid.reason,
                    invalid.message.clone(),
                ),
            ],
            endpoints: old.endpoints.clone(),
            replicas: old.replicas,
            ready_replicas: old.ready_replicas,
            available_replicas: old.available_replicas,
            alexa_skill: None,
        },
        Outcome::Deleting {
            reason,
            message,
            failed,
        } => {
            let mut conditions = vec![
                cond(types::READY, false, reason, message.clone()),
                cond(types::PROGRESSING, true, reason, message.clone()),
                if *failed {
                    cond(types::DEGRADED, true, reason, message.clone())
                } else {
                    cond(
                        types::DEGRADED,
                        false,
                        reasons::HEALTHY,
                        "The resource is being deleted.".into(),
                    )
                },
            ];
            conditions.extend(
                old.conditions
                    .iter()
                    .filter(|c| c.type_ == types::ALEXA_COMPATIBLE || c.type_ == SKILL_CONFIGURED)
                    .cloned(),
            );
            AlexaSkillLinkStatus {
                observed_generation: generation,
                conditions,
                endpoints: old.endpoints.clone(),
                replicas: Some(0),
                ready_replicas: Some(0),
                available_replicas: Some(0),
                // What Alexa was last told stays on record while the link goes.
                alexa_skill: old.alexa_skill.clone(),
            }
        }
        Outcome::Applied {
            deployment,
            notes,
            alexa,
        } => {
            let name = asl.name_any();
            let ds = deployment.status.clone().unwrap_or_default();
            let want = deployment
                .spec
                .as_ref()
                .and_then(|s| s.replicas)
                .unwrap_or(1);
            let available = ds.available_replicas.unwrap_or(0);
            let updated = ds.updated_replicas.unwrap_or(0);
            let deployment_available = ds
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "Available" && c.status == "True")
                && available > 0;
            // As `kubectl rollout status` judges it: the Deployment
            // controller saw this template and every wanted replica runs
            // it and is available. The count in the message moves only
            // with pods becoming available on the current template, not
            // with the controller's bookkeeping (observedGeneration,
            // updatedReplicas of pods still pending), so a new link's
            // status is written once until its pods come up.
            let rolled_out = updated.min(available);
            let current = ds.observed_generation >= deployment.metadata.generation
                && rolled_out >= want
                && ds.replicas.unwrap_or(0) <= want;
            let note = if notes.is_empty() {
                String::new()
            } else {
                format!(" {}", notes.join(" "))
            };
            let ready = if deployment_available {
                cond(
                    types::READY,
                    true,
                    reasons::AVAILABLE,
                    format!(
                        "Deployment {name:?} has {available} of {want} replicas available.{note}"
                    ),
                )
            } else {
                cond(
                    types::READY,
                    false,
                    reasons::DEPLOYMENT_NOT_AVAILABLE,
                    format!(
                        "Deployment {name:?} has no available replica yet ({available} of {want}).{note}"
                    ),
                )
            };
            let progressing = if current {
                cond(
                    types::PROGRESSING,
                    false,
                    reasons::ROLLED_OUT,
                    format!("Deployment {name:?} runs the current pod template."),
                )
            } else {
                cond(
                    types::PROGRESSING,
                    true,
                    reasons::ROLLING_OUT,
                    format!(
                        "Deployment {name:?} has {rolled_out} of {want} replicas available on the current pod template."
                    ),
                )
            };
            let degraded = cond(
                types::DEGRADED,
                false,
                reasons::HEALTHY,
                "The spec is valid and every child is applied.".into(),
            );
            AlexaSkillLinkStatus {
                observed_generation: generation,
                conditions: vec![
                    ready,
                    progressing,
                    degraded,
                    cond3(
                        types::ALEXA_COMPATIBLE,
                        alexa.status,
                        alexa.reason,
                        alexa.message.clone(),
                    ),
                ],
                endpoints: Some(endpoints(&asl.spec.host)),
                replicas: Some(want),
                ready_replicas: Some(ds.ready_replicas.unwrap_or(0)),
                available_replicas: Some(available),
                alexa_skill: None,
            }
        }
    }
}

/// A condition of `type_`, with the `lastTransitionTime` of the same
/// condition in `old` when its status did not change, else `now`.
pub fn condition(
    old: &AlexaSkillLinkStatus,
    generation: Option<i64>,
    now: &Time,
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
) -> Condition {
    let previous = old.conditions.iter().find(|c| c.type_ == type_);
    let last_transition_time = match previous {
        Some(p) if p.status == status => p.last_transition_time.clone(),
        _ => now.clone(),
    };
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message,
        observed_generation: generation,
        last_transition_time,
    }
}

/// Adds the SMAPI step's part to a status: `status.alexaSkill` and the
/// `SkillConfigured` condition. `skill` is `None` when the step did not run:
/// what the last status said is kept while the spec still asks for a skill
/// (an invalid spec stops the step, not the skill), and dropped otherwise.
pub fn with_skill(
    desired: &mut AlexaSkillLinkStatus,
    asl: &AlexaSkillLink,
    skill: Option<&sync::Outcome>,
    now: &Time,
) {
    let old = asl.status.clone().unwrap_or_default();
    let generation = asl.metadata.generation;
    let kept = old
        .conditions
        .iter()
        .find(|c| c.type_ == SKILL_CONFIGURED)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()));
    let (alexa_skill, verdict) = match skill {
        Some(o) => (
            Some(o.status.clone()),
            o.verdict
                .as_ref()
                .map(|v| (v.status.to_owned(), v.reason.clone(), v.message.clone()))
                .or(kept),
        ),
        None if asl.spec.alexa_skill.is_some() => (old.alexa_skill.clone(), kept),
        None => (None, None),
    };
    desired.alexa_skill = alexa_skill;
    desired.conditions.retain(|c| c.type_ != SKILL_CONFIGURED);
    if let Some((status, reason, message)) = verdict {
        desired.conditions.push(condition(
            &old,
            generation,
            now,
            SKILL_CONFIGURED,
            &status,
            &reason,
            message,
        ));
    }
}

/// The SkillConfigured condition's (status, reason), for transition events.
pub fn skill_configured_of(status: Option<&AlexaSkillLinkStatus>) -> Option<(String, String)> {
    status?
        .conditions
        .iter()
        .find(|c| c.type_ == SKILL_CONFIGURED)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

/// The Ready condition's (status, reason), for transition events.
pub fn ready_of(status: Option<&AlexaSkillLinkStatus>) -> Option<(String, String)> {
    status?
        .conditions
        .iter()
        .find(|c| c.type_ == types::READY)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentSpec, DeploymentStatus};
    use k8s_openapi::jiff::Timestamp;

    use super::*;
    use crate::build::testing::fixture;

    fn t(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).expect("time"))
    }

    fn deployment(available: i32) -> Deployment {
        Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(1),
                ..DeploymentSpec::default()
            }),
            status: Some(DeploymentStatus {
                available_replicas: Some(available),
                ready_replicas: Some(available),
                updated_replicas: Some(1),
                replicas: Some(1),
                conditions: Some(vec![DeploymentCondition {
                    type_: "Available".into(),
                    status: if available > 0 { "True" } else { "False" }.into(),
                    ..DeploymentCondition::default()
                }]),
                ..DeploymentStatus::default()
            }),
            ..Deployment::default()
        }
    }

    fn ready(s: &AlexaSkillLinkStatus) -> &Condition {
        s.conditions
            .iter()
            .find(|c| c.type_ == types::READY)
            .expect("Ready")
    }

    fn compat() -> Compat {
        Compat {
            status: "Unknown",
            reason: reasons::CERTIFICATE_NOT_VISIBLE,
            message: "The certificate is issued outside this resource.".into(),
        }
    }

    #[test]
    fn alexa_compatibility_is_a_condition_of_its_own_and_never_ready() {
        let asl = fixture("minimal.yaml");
        let d = deployment(1);
        let untrusted = Compat {
            status: "False",
            reason: reasons::CERTIFICATE_UNTRUSTED,
            message: "not a public root".into(),
        };
        let s = desired(
            &asl,
            &Outcome::Applied {
                deployment: &d,
                notes: &[],
                alexa: &untrusted,
            },
            t(100),
        );
        assert_eq!(
            ready(&s).status,
            "True",
            "Ready ignores Alexa compatibility"
        );
        let alexa = s
            .conditions
            .iter()
            .find(|c| c.type_ == types::ALEXA_COMPATIBLE)
            .expect("AlexaCompatible");
        assert_eq!(
            (alexa.status.as_str(), alexa.reason.as_str()),
            ("False", reasons::CERTIFICATE_UNTRUSTED)
        );
    }

    #[test]
    fn ready_follows_deployment_availability() {
        let mut asl = fixture("minimal.yaml");
        let d0 = deployment(0);
        let s0 = desired(
            &asl,
            &Outcome::Applied {
                deployment: &d0,
                notes: &[],
                alexa: &compat(),
            },
            t(100),
        );
        assert_eq!(ready(&s0).status, "False");
        assert_eq!(ready(&s0).reason, reasons::DEPLOYMENT_NOT_AVAILABLE);
        assert_eq!(s0.observed_generation, Some(1));
        assert_eq!(
            s0.endpoints.as_ref().expect("endpoints").token,
            "https://link.example.com/oauth/token"
        );

        asl.status = Some(s0.clone());
        let d1 = deployment(1);
        let s1 = desired(
            &asl,
            &Outcome::Applied {
                deployment: &d1,
                notes: &[],
                alexa: &compat(),
            },
            t(200),
        );
        assert_eq!(ready(&s1).status, "True");
        assert_eq!(ready(&s1).reason, reasons::AVAILABLE);
        assert_eq!(ready(&s1).last_transition_time, t(200), "flipped: moved");
        let degraded = s1
            .conditions
            .iter()
            .find(|c| c.type_ == types::DEGRADED)
            .expect("Degraded");
        assert_eq!(degraded.last_transition_time, t(100), "unchanged: kept");
    }

    #[test]
    fn the_deployment_controllers_bookkeeping_alone_writes_no_status() {
        let mut asl = fixture("minimal.yaml");
        let status_of = |asl: &AlexaSkillLink, d: &Deployment| {
            desired(
                asl,
                &Outcome::Applied {
                    deployment: d,
                    notes: &[],
                    alexa: &compat(),
                },
                t(100),
            )
        };
        // Just applied: the Deployment controller has not looked yet.
        let mut fresh = deployment(0);
        fresh.metadata.generation = Some(1);
        fresh.status = None;
        let s0 = status_of(&asl, &fresh);
        asl.status = Some(s0.clone());
        // It has: a ReplicaSet with one pending pod on the new template.
        let mut seen = deployment(0);
        seen.metadata.generation = Some(1);
        if let Some(ds) = seen.status.as_mut() {
            ds.observed_generation = Some(1);
        }
        assert_eq!(status_of(&asl, &seen), s0, "nothing a user sees changed");
        let progressing = |s: &AlexaSkillLinkStatus| {
            s.conditions
                .iter()
                .find(|c| c.type_ == types::PROGRESSING)
                .map(|c| (c.status.clone(), c.reason.clone()))
        };
        assert_eq!(
            progressing(&s0),
            Some(("True".into(), reasons::ROLLING_OUT.into()))
        );
        // The pod is available: rolled out, and Ready.
        let mut up = deployment(1);
        up.metadata.generation = Some(1);
        if let Some(ds) = up.status.as_mut() {
            ds.observed_generation = Some(1);
        }
        let s1 = status_of(&asl, &up);
        assert_eq!(
            progressing(&s1),
            Some(("False".into(), reasons::ROLLED_OUT.into()))
        );
        assert_eq!(ready(&s1).status, "True");
    }

    #[test]
    fn unchanged_outcome_gives_an_equal_status() {
        let mut asl = fixture("minimal.yaml");
        let d = deployment(1);
        let s = desired(
            &asl,
            &Outcome::Applied {
                deployment: &d,
                notes: &[],
                alexa: &compat(),
            },
            t(100),
        );
        asl.status = Some(s.clone());
        let again = desired(
            &asl,
            &Outcome::Applied {
                deployment: &d,
                notes: &[],
                alexa: &compat(),
            },
            t(999),
        );
        assert_eq!(again, s, "no change, so no status write");
    }

    #[test]
    fn invalid_spec_is_ready_false_and_degraded() {
        let asl = fixture("minimal.yaml");
        let invalid = Invalid::new(reasons::SECRET_MISSING, "Secret \"x\" does not exist.");
        let s = desired(&asl, &Outcome::Invalid(&invalid), t(1));
        assert_eq!(ready(&s).status, "False");
        assert_eq!(ready(&s).reason, "SecretMissing");
        assert_eq!(ready(&s).message, "Secret \"x\" does not exist.");
        let degraded = s
            .conditions
            .iter()
            .find(|c| c.type_ == types::DEGRADED)
            .expect("Degraded");
        assert_eq!(degraded.status, "True");
    }

    #[test]
    fn every_reason_is_one_camel_case_word() {
        for r in [
            reasons::AVAILABLE,
            reasons::DEPLOYMENT_NOT_AVAILABLE,
            reasons::ROLLING_OUT,
            reasons::ROLLED_OUT,
            reasons::INVALID_SPEC,
            reasons::SECRET_MISSING,
            reasons::SECRET_KEY_MISSING,
            reasons::CERT_MANAGER_MISSING,
            reasons::SECRET_VALUE_INVALID,
            reasons::INVALID_CONFIG,
            reasons::UNREADABLE_RESOURCE,
            reasons::HEALTHY,
        ] {
            assert!(
                r.chars().next().is_some_and(|c| c.is_ascii_uppercase()),
                "{r}"
            );
            assert!(r.chars().all(|c| c.is_ascii_alphanumeric()), "{r}");
        }
    }
}

#[cfg(test)]
mod skill_tests {
    use k8s_openapi::jiff::Timestamp;

    use super::*;
    use crate::build::testing::fixture;
    use crate::smapi::reasons as skill_reasons;
    use crate::smapi::spec::AlexaSkillStatus;
    use crate::smapi::sync::{Outcome as SkillOutcome, Verdict};

    fn t(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).expect("time"))
    }

    fn outcome(verdict: Option<(&'static str, &str)>) -> SkillOutcome {
        SkillOutcome {
            status: AlexaSkillStatus {
                skill_id: "amzn1.ask.skill.1".into(),
                stage: "development".into(),
                last_synced_hash: Some("0123456789abcdef".into()),
                ..AlexaSkillStatus::default()
            },
            verdict: verdict.map(|(status, reason)| Verdict {
                status,
                reason: reason.into(),
                message: format!("{reason}."),
            }),
            retry_in: None,
            notice: None,
        }
    }

    fn skill_condition(s: &AlexaSkillLinkStatus) -> Option<&Condition> {
        s.conditions.iter().find(|c| c.type_ == SKILL_CONFIGURED)
    }

    #[test]
    fn the_skill_condition_is_kept_until_something_is_learned() {
        let mut asl = fixture("minimal.yaml");
        asl.spec.alexa_skill = Some(
            serde_yaml::from_str("{skillId: amzn1.ask.skill.1, credentialsSecretName: smapi}")
                .expect("alexaSkill"),
        );
        let mut s = AlexaSkillLinkStatus::default();
        with_skill(
            &mut s,
            &asl,
            Some(&outcome(Some(("True", skill_reasons::CONFIGURED)))),
            &t(100),
        );
        let first = skill_condition(&s).expect("SkillConfigured").clone();
        assert_eq!(first.reason, skill_reasons::CONFIGURED);
        assert!(s.alexa_skill.is_some());
        asl.status = Some(s.clone());

        // Nothing learned (a read-back not yet due): the same status.
        let mut again = AlexaSkillLinkStatus::default();
        with_skill(&mut again, &asl, Some(&outcome(None)), &t(200));
        assert_eq!(again, s, "no change, no status write");

        // The spec became invalid: the step did not run, the skill's state stays.
        let mut invalid = AlexaSkillLinkStatus::default();
        with_skill(&mut invalid, &asl, None, &t(300));
        assert_eq!(skill_condition(&invalid), Some(&first));
        assert_eq!(invalid.alexa_skill, s.alexa_skill);

        // Throttled: Unknown, a new transition time.
        let mut throttled = AlexaSkillLinkStatus::default();
        with_skill(
            &mut throttled,
            &asl,
            Some(&outcome(Some(("Unknown", skill_reasons::THROTTLED)))),
            &t(400),
        );
        let c = skill_condition(&throttled).expect("condition");
        assert_eq!(
            (c.status.as_str(), c.last_transition_time.clone()),
            ("Unknown", t(400))
        );
        assert!(
            ready_of(Some(&throttled)).is_none(),
            "Ready is not this step's"
        );

        // alexaSkill removed: nothing of it is left.
        asl.spec.alexa_skill = None;
        let mut removed = AlexaSkillLinkStatus::default();
        with_skill(&mut removed, &asl, None, &t(500));
        assert!(skill_condition(&removed).is_none());
        assert!(removed.alexa_skill.is_none());
    }
}
