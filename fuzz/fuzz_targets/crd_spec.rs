//! An `AlexaSkillLink` as a user applies it, through the operator's pure
//! steps: `validate` (the CEL rules again, names, references) and, when it
//! passes, `build` (every child object).
//!
//! Checked: neither panics on any resource the API server could hand over
//! (the API server checks the schema, but clusters before 1.25 skip CEL,
//! and a stored object may predate today's schema).
#![no_main]

use alexa_link_operator::build::deployment::ServerImage;
use alexa_link_operator::build::{Capabilities, children};
use alexa_link_operator::crd::AlexaSkillLink;
use alexa_link_operator::resolve::Resolved;
use alexa_link_operator::secret_refs::referenced_secrets;
use alexa_link_operator::validate::validate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(asl) = serde_yaml::from_slice::<AlexaSkillLink>(data) else {
        return;
    };
    // Every referenced Secret exists with every key, so that validation
    // gets past the references to the rules behind them.
    let mut resolved = Resolved {
        cert_manager_installed: true,
        ..Resolved::default()
    };
    for (name, keys) in referenced_secrets(&asl.spec) {
        let data = keys
            .into_iter()
            .map(|k| {
                (
                    k,
                    b"0123456789abcdef0123456789abcdef0123456789abcdef".to_vec(),
                )
            })
            .collect();
        resolved.secrets.insert(name, Some(data));
    }
    if let Ok(link) = validate(&asl, &resolved) {
        let _ = children(
            &link,
            Capabilities { pdb_v1: true },
            &ServerImage::default(),
            &mut || "0".repeat(64),
        );
    }
});
