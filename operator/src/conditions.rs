//! Condition types and reasons, as constants so that code, tests and the
//! README name the same words, and [`Invalid`], the one error that carries
//! a reason into the Ready condition.

/// Condition types.
pub mod types {
    /// The summary: the service answers requests.
    pub const READY: &str = "Ready";
    /// A rollout or a child is still being brought to the desired state.
    pub const PROGRESSING: &str = "Progressing";
    /// The spec cannot be realised, or pods that were available are not.
    pub const DEGRADED: &str = "Degraded";
    /// Alexa will accept the service: its certificate chain, name and
    /// validity, and its clients' regional redirect URLs. Never part of Ready.
    pub const ALEXA_COMPATIBLE: &str = "AlexaCompatible";
}

/// Condition reasons: one CamelCase word each.
pub mod reasons {
    /// Every child is applied and the Deployment is available.
    pub const AVAILABLE: &str = "Available";
    /// Children are applied; the Deployment has no available replica yet.
    pub const DEPLOYMENT_NOT_AVAILABLE: &str = "DeploymentNotAvailable";
    /// The Deployment is rolling out new pods.
    pub const ROLLING_OUT: &str = "RollingOut";
    /// The Deployment has finished its rollout.
    pub const ROLLED_OUT: &str = "RolledOut";
    /// The spec breaks a rule (a field is named in the message).
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// A referenced Secret (or branding ConfigMap: the message says which)
    /// does not exist.
    pub const SECRET_MISSING: &str = "SecretMissing";
    /// A referenced Secret (or branding ConfigMap) lacks the named key.
    pub const SECRET_KEY_MISSING: &str = "SecretKeyMissing";
    /// `tls.certManager` is set but cert-manager's CRDs are not installed.
    pub const CERT_MANAGER_MISSING: &str = "CertManagerMissing";
    /// A referenced Secret key holds a value the server cannot use (the
    /// OIDC client id must be non-empty UTF-8 text).
    pub const SECRET_VALUE_INVALID: &str = "SecretValueInvalid";
    /// The rendered server config fails the server's own validation, or a
    /// branding file (logo, style sheet, templates) is one the server would
    /// refuse at start.
    pub const INVALID_CONFIG: &str = "InvalidConfig";
    /// The resource cannot be read by this operator (event only: without
    /// reading it the operator cannot write its status either).
    pub const UNREADABLE_RESOURCE: &str = "UnreadableResource";
    /// Nothing is wrong.
    pub const HEALTHY: &str = "Healthy";
    /// AlexaCompatible: the certificate and redirect URLs suit Alexa.
    pub const COMPATIBLE: &str = "Compatible";
    /// AlexaCompatible (True): the certificate expires within 30 days.
    pub const CERTIFICATE_EXPIRING_SOON: &str = "CertificateExpiringSoon";
    /// AlexaCompatible: the certificate is issued elsewhere (cert-manager,
    /// the Ingress); only `doctor` sees what is served.
    pub const CERTIFICATE_NOT_VISIBLE: &str = "CertificateNotVisible";
    /// AlexaCompatible: `tls.crt` holds no usable certificate.
    pub const CERTIFICATE_UNUSABLE: &str = "CertificateUnusable";
    /// AlexaCompatible: the certificate does not name `spec.host`.
    pub const CERTIFICATE_NAME_MISMATCH: &str = "CertificateNameMismatch";
    /// AlexaCompatible: the certificate is expired (or not yet valid).
    pub const CERTIFICATE_EXPIRED: &str = "CertificateExpired";
    /// AlexaCompatible: `tls.crt` lacks an intermediate.
    pub const CERTIFICATE_CHAIN_INCOMPLETE: &str = "CertificateChainIncomplete";
    /// AlexaCompatible: the chain ends at a root Alexa does not trust.
    pub const CERTIFICATE_UNTRUSTED: &str = "CertificateUntrusted";
    /// AlexaCompatible: a client lists some of a vendor's regional
    /// redirect URLs but not all three.
    pub const REDIRECT_REGIONS_MISSING: &str = "RedirectRegionsMissing";
    /// Deleting with `deletionPolicy: Delete` and DynamoDB: waiting for the
    /// server pods to stop before the link's items are deleted.
    pub const STOPPING_SERVERS: &str = "StoppingServers";
    /// Deleting: the purge Job is deleting the link's DynamoDB items.
    pub const PURGING_ITEMS: &str = "PurgingItems";
    /// Deleting: the purge Job failed; a new one continues after a pause.
    pub const PURGE_FAILED: &str = "PurgeFailed";
    /// Deleting: none of the link's DynamoDB items is left (an event; the
    /// finalizer is removed and the resource goes).
    pub const ITEMS_PURGED: &str = "ItemsPurged";
}

/// Why a resource cannot be realised: a condition reason and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    /// One CamelCase word from [`reasons`].
    pub reason: &'static str,
    /// A sentence naming the field or the Secret.
    pub message: String,
}

impl Invalid {
    /// An invalid resource with `reason`.
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }

    /// A bad spec field: "spec.<field> <problem>."
    pub fn spec(field: &str, problem: impl Into<String>) -> Self {
        let problem = problem.into();
        Self::new(
            reasons::INVALID_SPEC,
            format!("spec.{field} {}.", problem.trim_end_matches('.')),
        )
    }
}
