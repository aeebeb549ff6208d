//! The one rule for "is this refresh token usable?", decided once.
//!
//! The refresh grant acts on the answer (exchange, replay the successor,
//! revoke on reuse) and introspection reports it (`active` only when it may
//! be exchanged), so the two can never disagree about a token.

use crate::store::{RefreshLookup, RefreshState, UnixTime};

/// What a presented refresh token is, at a moment, for a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshValidity {
    /// Unknown, expired, another client's, or its grant has ended.
    Invalid,
    /// Active: it may be exchanged.
    Usable,
    /// Already exchanged, and presented again within the grace window: the
    /// client lost the response; it gets the same successor back.
    RotatedWithinGrace,
    /// Already exchanged, and presented after the grace window: reuse
    /// (RFC 9700 4.14.2); the grant must be revoked.
    RotatedAfterGrace,
}

impl RefreshValidity {
    /// Whether introspection reports the token as active.
    pub fn is_active(self) -> bool {
        self == RefreshValidity::Usable
    }
}

/// Judges `lookup` (what the store holds for the presented token) for the
/// client `client_id`, whose grace window is `grace_period_seconds`.
///
/// The window is inclusive: a retry exactly `grace_period_seconds` after the
/// rotation still gets its successor, so a grace of 0 still covers a retry
/// within the same second.
pub fn assess(
    lookup: Option<&RefreshLookup>,
    client_id: &str,
    grace_period_seconds: u64,
    now: UnixTime,
) -> RefreshValidity {
    let Some(lookup) = lookup else {
        return RefreshValidity::Invalid;
    };
    if lookup.token.client_id != client_id
        || !lookup.grant.as_ref().is_some_and(|g| g.is_active(now))
    {
        return RefreshValidity::Invalid;
    }
    match &lookup.token.state {
        RefreshState::Active if lookup.token.expires_at.is_none_or(|e| now < e) => {
            RefreshValidity::Usable
        }
        RefreshState::Active => RefreshValidity::Invalid,
        RefreshState::Rotated { at, .. } => {
            if now - at <= grace_period_seconds as i64 {
                RefreshValidity::RotatedWithinGrace
            } else {
                RefreshValidity::RotatedAfterGrace
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RefreshValidity::{Invalid, RotatedAfterGrace, RotatedWithinGrace, Usable};
    use super::*;
    use crate::store::{GrantId, GrantRecord, RefreshTokenRecord};

    const CLIENT: &str = "alexa";
    const GRACE: u64 = 60;
    /// When the token was rotated (for the rotated rows).
    const ROTATED_AT: UnixTime = 1_000;

    /// The stored token and its grant, shaped by one row of the table.
    #[derive(Clone, Copy)]
    struct Stored {
        rotated: bool,
        /// The token's idle expiry.
        expires_at: Option<UnixTime>,
        grant_revoked: bool,
        grant_expires_at: Option<UnixTime>,
        grant_deleted: bool,
    }

    const ACTIVE: Stored = Stored {
        rotated: false,
        expires_at: None,
        grant_revoked: false,
        grant_expires_at: None,
        grant_deleted: false,
    };
    const ROTATED: Stored = Stored {
        rotated: true,
        ..ACTIVE
    };

    fn lookup(s: Stored) -> RefreshLookup {
        RefreshLookup {
            token: RefreshTokenRecord {
                grant_id: GrantId([7; 16]),
                client_id: CLIENT.into(),
                user_id: "u1".into(),
                scope: "profile".into(),
                issued_at: 0,
                expires_at: s.expires_at,
                state: if s.rotated {
                    RefreshState::Rotated {
                        at: ROTATED_AT,
                        sealed_successor: vec![1, 2, 3],
                    }
                } else {
                    RefreshState::Active
                },
            },
            grant: (!s.grant_deleted).then_some(GrantRecord {
                client_id: CLIENT.into(),
                user_id: Some("u1".into()),
                scope: "profile".into(),
                created_at: 0,
                expires_at: s.grant_expires_at,
                revoked_at: s.grant_revoked.then_some(500),
            }),
        }
    }

    #[test]
    fn the_table() {
        let g = GRACE as i64;
        // (what, stored, presenting client, now, expected)
        let rows: &[(&str, Stored, &str, UnixTime, RefreshValidity)] = &[
            ("active", ACTIVE, CLIENT, 2_000, Usable),
            ("active, other client", ACTIVE, "other", 2_000, Invalid),
            (
                "active, idle expiry not reached",
                Stored {
                    expires_at: Some(2_001),
                    ..ACTIVE
                },
                CLIENT,
                2_000,
                Usable,
            ),
            (
                "active, at its idle expiry",
                Stored {
                    expires_at: Some(2_000),
                    ..ACTIVE
                },
                CLIENT,
                2_000,
                Invalid,
            ),
            (
                "active, after its idle expiry",
                Stored {
                    expires_at: Some(1_999),
                    ..ACTIVE
                },
                CLIENT,
                2_000,
                Invalid,
            ),
            (
                "active, grant revoked",
                Stored {
                    grant_revoked: true,
                    ..ACTIVE
                },
                CLIENT,
                2_000,
                Invalid,
            ),
            (
                "active, grant at its absolute expiry",
                Stored {
                    grant_expires_at: Some(2_000),
                    ..ACTIVE
                },
                CLIENT,
                2_000,
                Invalid,
            ),
            (
                "active, grant deleted",
                Stored {
                    grant_deleted: true,
                    ..ACTIVE
                },
                CLIENT,
                2_000,
                Invalid,
            ),
            (
                "rotated, same second",
                ROTATED,
                CLIENT,
                ROTATED_AT,
                RotatedWithinGrace,
            ),
            (
                "rotated, before the window ends",
                ROTATED,
                CLIENT,
                ROTATED_AT + g - 1,
                RotatedWithinGrace,
            ),
            (
                "rotated, at the window's end",
                ROTATED,
                CLIENT,
                ROTATED_AT + g,
                RotatedWithinGrace,
            ),
            (
                "rotated, after the window",
                ROTATED,
                CLIENT,
                ROTATED_AT + g + 1,
                RotatedAfterGrace,
            ),
            (
                "rotated, other client, within",
                ROTATED,
                "other",
                ROTATED_AT + 1,
                Invalid,
            ),
            (
                "rotated, other client, after",
                ROTATED,
                "other",
                ROTATED_AT + g + 1,
                Invalid,
            ),
            (
                "rotated, grant revoked, within",
                Stored {
                    grant_revoked: true,
                    ..ROTATED
                },
                CLIENT,
                ROTATED_AT + 1,
                Invalid,
            ),
            (
                "rotated, grant revoked, after",
                Stored {
                    grant_revoked: true,
                    ..ROTATED
                },
                CLIENT,
                ROTATED_AT + g + 1,
                Invalid,
            ),
            (
                "rotated, grant expired, within",
                Stored {
                    grant_expires_at: Some(ROTATED_AT),
                    ..ROTATED
                },
                CLIENT,
                ROTATED_AT + 1,
                Invalid,
            ),
        ];
        for (what, stored, client, now, expected) in rows {
            let got = assess(Some(&lookup(*stored)), client, GRACE, *now);
            assert_eq!(got, *expected, "{what}");
            assert_eq!(
                got.is_active(),
                *expected == Usable,
                "{what}: introspection"
            );
        }
        assert_eq!(assess(None, CLIENT, GRACE, 2_000), Invalid, "unknown token");
    }

    #[test]
    fn a_zero_grace_window_covers_only_the_second_of_the_rotation() {
        let l = lookup(ROTATED);
        assert_eq!(assess(Some(&l), CLIENT, 0, ROTATED_AT), RotatedWithinGrace);
        assert_eq!(
            assess(Some(&l), CLIENT, 0, ROTATED_AT + 1),
            RotatedAfterGrace
        );
    }
}
