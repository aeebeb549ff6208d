//! The store conformance suite: what every [`Store`] backend must do.
//!
//! Written once and run against each backend (`run_all`). Every check uses
//! fresh random keys, so the suite also runs against a shared, non-empty
//! store such as a DynamoDB table.

use std::sync::Arc;

use super::{
    AccessTokenRecord, AlexaUserRecord, AppLinkStateRecord, AuthCodeRecord, Counter, CounterKey,
    CounterSwap, CounterWrite, GrantId, GrantRecord, Lease, LeaseOutcome, NewGrant,
    PartnerLinkRecord, ProcessedGrantCode, RedeemError, RefreshState, RefreshTokenRecord,
    RotateError, Rotation, Store, StoreError, UnixTime,
};
use crate::tokens::{self, TokenHash, TokenKind};

/// The suite's clock. In the future on purpose: the items it writes carry
/// DynamoDB `ttl` attributes derived from it, and DynamoDB Local deletes an
/// item whose `ttl` has passed within about a second (real DynamoDB within
/// days). With a past clock (it was 1_700_000_000) a freshly redeemed
/// code's access token could be reaped before the suite read it back: the
/// "winner cannot read its own token" flake.
pub(crate) const NOW: UnixTime = 4_000_000_000;

/// What a backend promises beyond the trait's contract.
#[derive(Debug, Clone, Copy)]
pub struct Capabilities {
    /// `purge_expired` deletes expired items at once (the embedded store);
    /// otherwise the backend's TTL deletes them later (DynamoDB), and only
    /// the reads' expiry checks are verified.
    pub immediate_purge: bool,
}

/// Runs every check against `store`. Panics with a message naming the
/// broken property.
pub async fn run_all(store: Arc<dyn Store>, caps: Capabilities) {
    store.ping().await.expect("ping");
    codes_expire_and_never_overwrite(&*store).await;
    redemption_is_single_use(&*store).await;
    concurrent_redemptions_yield_one_grant(store.clone()).await;
    access_tokens_expire_and_can_be_deleted(&*store).await;
    rotation_happens_once(&*store).await;
    concurrent_rotations_yield_one_successor(store.clone()).await;
    rotation_without_retiring_keeps_the_old_token(&*store).await;
    // Issue 19: sealed and JWT access tokens are not stored.
    self_contained_access_tokens_write_only_grant_and_refresh_state(&*store).await;
    revoking_a_grant_disables_its_whole_family(&*store).await;
    expired_grants_disable_their_tokens(&*store).await;
    consents_are_replaced(&*store).await;
    purge_removes_only_what_expired(&*store, caps).await;
    user_grants_are_listed_while_active(&*store).await;
    partner_links_follow_their_grant(&*store).await;
    the_store_counts_partner_link_revisions(&*store).await;
    refresh_leases_are_exclusive(store.clone()).await;
    purge_ends_dead_grants_with_their_partner_links(&*store, caps).await;
    counters_change_only_from_what_was_seen(&*store).await;
    concurrent_counter_swaps_each_count_once(store.clone()).await;
    expired_counters_read_as_absent(&*store).await;
    // Issue 14, part B.
    consents_can_be_deleted(&*store).await;
    // App-to-App account linking (issue #15).
    app_link_states_are_single_use_and_expire(&*store, caps).await;
    concurrent_takes_of_an_app_link_state_yield_one(store.clone()).await;
    // Alexa lifecycle (issue 16).
    processed_grant_codes_are_written_once_until_they_expire(&*store, caps).await;
    alexa_users_are_replaced_and_forgotten(&*store).await;
    // Signing out (issue 14, finding 10).
    ended_sessions_stay_ended_until_the_session_expires(&*store, caps).await;
}

async fn ended_sessions_stay_ended_until_the_session_expires(
    store: &dyn Store,
    caps: Capabilities,
) {
    let session = hash();
    let other = hash();
    assert!(
        !store.session_ended(&session, NOW).await.expect("read"),
        "a session nobody ended is not ended"
    );
    store.end_session(&session, NOW + 600).await.expect("end");
    assert!(
        store.session_ended(&session, NOW).await.expect("read"),
        "an ended session reads as ended"
    );
    assert!(
        store
            .session_ended(&session, NOW + 599)
            .await
            .expect("read"),
        "it stays ended until the session's own expiry"
    );
    assert!(
        !store.session_ended(&other, NOW).await.expect("read"),
        "ending one session ends no other"
    );
    store
        .end_session(&session, NOW + 600)
        .await
        .expect("ending a session again succeeds");
    assert!(store.session_ended(&session, NOW + 1).await.expect("read"));
    assert!(
        !store
            .session_ended(&session, NOW + 600)
            .await
            .expect("read"),
        "past the session's expiry the record no longer counts"
    );

    if caps.immediate_purge {
        let live = hash();
        store.end_session(&live, NOW + 5000).await.expect("end");
        assert!(store.purge_expired(NOW + 600).await.expect("purge") >= 1);
        // Purged once expired: even a clock that went back finds nothing.
        assert!(
            !store.session_ended(&session, NOW).await.expect("read"),
            "purge removes an expired record"
        );
        assert!(
            store.session_ended(&live, NOW + 600).await.expect("read"),
            "purge keeps a record whose session has not expired"
        );
    }
}

async fn processed_grant_codes_are_written_once_until_they_expire(
    store: &dyn Store,
    caps: Capabilities,
) {
    let code = hash();
    let first = ProcessedGrantCode {
        user_id: format!("user-{}", tokens::random_nonce()),
        partner_id: "amazon".into(),
        expires_at: NOW + 600,
    };
    assert_eq!(
        store
            .get_processed_grant_code(&code, NOW)
            .await
            .expect("get"),
        None
    );
    assert!(
        store
            .put_processed_grant_code(&code, &first, NOW)
            .await
            .expect("put"),
        "a new code is recorded"
    );
    let other = ProcessedGrantCode {
        user_id: "user-other".into(),
        ..first.clone()
    };
    assert!(
        !store
            .put_processed_grant_code(&code, &other, NOW + 1)
            .await
            .expect("put again"),
        "an unexpired record is never replaced"
    );
    assert_eq!(
        store
            .get_processed_grant_code(&code, NOW + 599)
            .await
            .expect("get"),
        Some(first.clone()),
        "the first record stays"
    );
    assert_eq!(
        store
            .get_processed_grant_code(&code, NOW + 600)
            .await
            .expect("get"),
        None,
        "an expired record is absent"
    );
    let later = ProcessedGrantCode {
        expires_at: NOW + 1200,
        ..other
    };
    assert!(
        store
            .put_processed_grant_code(&code, &later, NOW + 600)
            .await
            .expect("put after expiry"),
        "an expired record may be replaced"
    );
    if caps.immediate_purge {
        // Purged once expired: even a clock that went back finds nothing.
        store.purge_expired(NOW + 1200).await.expect("purge");
        assert_eq!(
            store
                .get_processed_grant_code(&code, NOW)
                .await
                .expect("get"),
            None,
            "purge removes an expired record"
        );
    }
}

async fn alexa_users_are_replaced_and_forgotten(store: &dyn Store) {
    let alexa_user_id = format!("amzn1.ask.account.{}", tokens::random_nonce());
    let record = AlexaUserRecord {
        alexa_user_id: alexa_user_id.clone(),
        user_id: format!("user-{}", tokens::random_nonce()),
        client_id: "alexa".into(),
        grant_id: GrantId::generate(),
        updated_at: NOW,
    };
    assert_eq!(
        store.get_alexa_user(&alexa_user_id).await.expect("get"),
        None
    );
    store.put_alexa_user(&record).await.expect("put");
    let relinked = AlexaUserRecord {
        grant_id: GrantId::generate(),
        updated_at: NOW + 60,
        ..record.clone()
    };
    store.put_alexa_user(&relinked).await.expect("replace");
    assert_eq!(
        store.get_alexa_user(&alexa_user_id).await.expect("get"),
        Some(relinked),
        "the latest mapping wins"
    );
    assert!(
        store
            .delete_alexa_user(&alexa_user_id)
            .await
            .expect("delete")
    );
    assert!(
        !store
            .delete_alexa_user(&alexa_user_id)
            .await
            .expect("delete again")
    );
    assert_eq!(
        store.get_alexa_user(&alexa_user_id).await.expect("get"),
        None
    );
}

fn hash() -> TokenHash {
    tokens::generate(TokenKind::AccessToken).hash
}

pub(crate) fn code(expires_at: UnixTime) -> AuthCodeRecord {
    AuthCodeRecord {
        client_id: "alexa".into(),
        user_id: format!("user-{}", tokens::random_nonce()),
        redirect_uri: Some("https://layla.amazon.com/api/skill/link/M1".into()),
        scope: "profile".into(),
        code_challenge: Some("challenge".into()),
        auth_time: NOW,
        expires_at,
        redeemed_for: None,
    }
}

pub(crate) fn new_grant(user: &str, grant_expires_at: Option<UnixTime>) -> NewGrant {
    let grant_id = GrantId::generate();
    NewGrant {
        grant_id,
        grant: GrantRecord {
            client_id: "alexa".into(),
            user_id: Some(user.into()),
            scope: "profile".into(),
            created_at: NOW,
            expires_at: grant_expires_at,
            revoked_at: None,
        },
        access: Some((hash(), access(Some(grant_id), NOW + 3600))),
        access_expires_at: NOW + 3600,
        refresh: Some((hash(), refresh(grant_id, user))),
    }
}

pub(crate) fn access(grant_id: Option<GrantId>, expires_at: UnixTime) -> AccessTokenRecord {
    AccessTokenRecord {
        client_id: "alexa".into(),
        user_id: grant_id.map(|_| "user".into()),
        scope: "profile".into(),
        grant_id,
        issued_at: NOW,
        expires_at,
    }
}

fn refresh(grant_id: GrantId, user: &str) -> RefreshTokenRecord {
    RefreshTokenRecord {
        grant_id,
        client_id: "alexa".into(),
        user_id: user.into(),
        scope: "profile".into(),
        issued_at: NOW,
        expires_at: None,
        state: RefreshState::Active,
    }
}

/// A redeemed code's grant, ready for refresh tests.
async fn linked(store: &dyn Store) -> NewGrant {
    linked_user(store, "user", None).await
}

async fn linked_user(store: &dyn Store, user: &str, expires_at: Option<UnixTime>) -> NewGrant {
    let c = hash();
    store.put_code(&c, &code(NOW + 60)).await.expect("put code");
    let g = new_grant(user, expires_at);
    store.redeem_code(&c, NOW, &g).await.expect("redeem");
    g
}

fn unique_user() -> String {
    format!("user-{}", tokens::random_nonce())
}

fn partner_link(user: &str, grant: GrantId) -> PartnerLinkRecord {
    PartnerLinkRecord {
        user_id: user.into(),
        partner_id: "amazon".into(),
        client_id: "alexa".into(),
        grant_id: grant,
        sealed_tokens: vec![9, 9, 9],
        access_expires_at: NOW + 3600,
        scope: "alexa::health".into(),
        updated_at: NOW,
        revision: 1,
        refresh_lease: None,
    }
}

async fn user_grants_are_listed_while_active(store: &dyn Store) {
    let user = unique_user();
    let a = linked_user(store, &user, None).await;
    let b = linked_user(store, &user, None).await;
    let listed: Vec<GrantId> = store
        .list_user_grants(&user, NOW)
        .await
        .expect("list")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&a.grant_id) && listed.contains(&b.grant_id));
    store.revoke_grant(&a.grant_id, NOW).await.expect("revoke");
    let listed = store.list_user_grants(&user, NOW).await.expect("list");
    assert_eq!(
        listed.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        vec![b.grant_id],
        "revoked grants are not listed"
    );
    assert!(
        store
            .list_user_grants(&unique_user(), NOW)
            .await
            .expect("list")
            .is_empty()
    );
}

async fn the_store_counts_partner_link_revisions(store: &dyn Store) {
    let user = unique_user();
    let g = linked_user(store, &user, None).await;
    let revision = || async {
        store
            .get_partner_link(&user, "amazon", NOW)
            .await
            .expect("get")
            .expect("link")
            .revision
    };
    let mut link = partner_link(&user, g.grant_id);
    // Whatever the writer claims, the store counts.
    link.revision = 41;
    assert!(store.put_partner_link(&link, NOW).await.expect("put"));
    assert_eq!(revision().await, 1, "a new link is revision 1");
    link.revision = 0;
    assert!(store.put_partner_link(&link, NOW).await.expect("put"));
    assert_eq!(revision().await, 2, "a replacement is one more");

    // A refresh bumps it too, and a replacement ends a held lease.
    let lease = Lease {
        holder: tokens::random_id(),
        until: NOW + 60,
    };
    assert!(matches!(
        store
            .acquire_partner_lease(&user, "amazon", lease, NOW)
            .await
            .expect("acquire"),
        LeaseOutcome::Acquired(_)
    ));
    assert!(store.put_partner_link(&link, NOW).await.expect("put"));
    let stored = store
        .get_partner_link(&user, "amazon", NOW)
        .await
        .expect("get")
        .expect("link");
    assert_eq!((stored.revision, stored.refresh_lease), (3, None));
    assert!(
        !store
            .finish_partner_refresh(&user, "amazon", lease.holder, Some((vec![1], NOW)), NOW)
            .await
            .expect("finish"),
        "the replaced link's lease is gone"
    );
    store.revoke_grant(&g.grant_id, NOW).await.expect("revoke");
}

async fn partner_links_follow_their_grant(store: &dyn Store) {
    let user = unique_user();
    let g = linked_user(store, &user, None).await;
    let link = partner_link(&user, g.grant_id);
    assert!(
        store.put_partner_link(&link, NOW).await.expect("put"),
        "stored under an active grant"
    );
    assert_eq!(
        store
            .get_partner_link(&user, "amazon", NOW)
            .await
            .expect("get"),
        Some(link.clone())
    );
    assert_eq!(
        store
            .get_partner_link(&user, "other", NOW)
            .await
            .expect("get"),
        None
    );

    // Relinking replaces the link; ending the old grant then leaves the new one.
    let g2 = linked_user(store, &user, None).await;
    let mut newer = partner_link(&user, g2.grant_id);
    newer.sealed_tokens = vec![7];
    // What the store will have made of it: the second revision of the link.
    newer.revision = 2;
    assert!(store.put_partner_link(&newer, NOW).await.expect("put"));
    store.revoke_grant(&g.grant_id, NOW).await.expect("revoke");
    assert_eq!(
        store
            .get_partner_link(&user, "amazon", NOW)
            .await
            .expect("get"),
        Some(newer.clone())
    );
    assert!(
        !store.put_partner_link(&link, NOW).await.expect("put"),
        "a revoked grant cannot store tokens"
    );

    // Revoking the grant that owns it deletes it.
    store.revoke_grant(&g2.grant_id, NOW).await.expect("revoke");
    assert_eq!(
        store
            .get_partner_link(&user, "amazon", NOW)
            .await
            .expect("get"),
        None
    );

    // Explicit deletion honours the grant it is told about.
    let g3 = linked_user(store, &user, None).await;
    assert!(
        store
            .put_partner_link(&partner_link(&user, g3.grant_id), NOW)
            .await
            .expect("put")
    );
    assert!(
        !store
            .delete_partner_link(&user, "amazon", Some(g.grant_id))
            .await
            .expect("delete")
    );
    assert!(
        store
            .delete_partner_link(&user, "amazon", Some(g3.grant_id))
            .await
            .expect("delete")
    );
    assert!(
        !store
            .delete_partner_link(&user, "amazon", None)
            .await
            .expect("delete")
    );
}

async fn refresh_leases_are_exclusive(store: Arc<dyn Store>) {
    let user = unique_user();
    let g = linked_user(&*store, &user, None).await;
    assert!(
        store
            .put_partner_link(&partner_link(&user, g.grant_id), NOW)
            .await
            .expect("put")
    );

    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        let user = user.clone();
        tasks.push(tokio::spawn(async move {
            let lease = Lease {
                holder: tokens::random_id(),
                until: NOW + 30,
            };
            (
                lease,
                store
                    .acquire_partner_lease(&user, "amazon", lease, NOW)
                    .await
                    .expect("acquire"),
            )
        }));
    }
    let mut winner = None;
    for t in tasks {
        match t.await.expect("task") {
            (lease, LeaseOutcome::Acquired(_)) => {
                assert!(winner.is_none(), "two holders of one lease");
                winner = Some(lease);
            }
            (_, LeaseOutcome::Held(record)) => assert!(record.refresh_lease.is_some()),
            (_, LeaseOutcome::NotFound) => panic!("the link exists"),
        }
    }
    let winner = winner.expect("one of 20 takes the lease");
    assert!(
        !store
            .finish_partner_refresh(
                &user,
                "amazon",
                tokens::random_id(),
                Some((vec![1], NOW + 7200)),
                NOW
            )
            .await
            .expect("finish"),
        "only the holder finishes"
    );
    assert!(
        store
            .finish_partner_refresh(
                &user,
                "amazon",
                winner.holder,
                Some((vec![1], NOW + 7200)),
                NOW
            )
            .await
            .expect("finish")
    );
    let after = store
        .get_partner_link(&user, "amazon", NOW)
        .await
        .expect("get")
        .expect("link");
    assert_eq!(
        (
            after.sealed_tokens.as_slice(),
            after.access_expires_at,
            after.revision,
            after.refresh_lease
        ),
        (&[1u8][..], NOW + 7200, 2, None)
    );

    // A lease that was never released lapses.
    let stale = Lease {
        holder: tokens::random_id(),
        until: NOW + 30,
    };
    assert!(matches!(
        store
            .acquire_partner_lease(&user, "amazon", stale, NOW)
            .await
            .expect("acquire"),
        LeaseOutcome::Acquired(_)
    ));
    let next = Lease {
        holder: tokens::random_id(),
        until: NOW + 60,
    };
    assert!(matches!(
        store
            .acquire_partner_lease(&user, "amazon", next, NOW + 10)
            .await
            .expect("acquire"),
        LeaseOutcome::Held(_)
    ));
    assert!(matches!(
        store
            .acquire_partner_lease(&user, "amazon", next, NOW + 30)
            .await
            .expect("acquire"),
        LeaseOutcome::Acquired(_)
    ));
    // Releasing without tokens keeps them.
    assert!(
        store
            .finish_partner_refresh(&user, "amazon", next.holder, None, NOW + 31)
            .await
            .expect("release")
    );
    assert_eq!(
        store
            .get_partner_link(&user, "amazon", NOW)
            .await
            .expect("get")
            .expect("link")
            .revision,
        2
    );
    assert!(matches!(
        store
            .acquire_partner_lease(&unique_user(), "amazon", next, NOW)
            .await
            .expect("acquire"),
        LeaseOutcome::NotFound
    ));
}

async fn purge_ends_dead_grants_with_their_partner_links(store: &dyn Store, caps: Capabilities) {
    let user = unique_user();
    let g = linked_user(store, &user, Some(NOW + 500)).await;
    assert!(
        store
            .put_partner_link(&partner_link(&user, g.grant_id), NOW)
            .await
            .expect("put")
    );
    store.purge_expired(NOW + 100).await.expect("purge");
    assert!(
        store
            .get_partner_link(&user, "amazon", NOW + 100)
            .await
            .expect("get")
            .is_some(),
        "live grant keeps its link"
    );
    store.purge_expired(NOW + 500).await.expect("purge");
    let grant = store.get_grant(&g.grant_id).await.expect("get");
    if caps.immediate_purge {
        assert_eq!(grant, None, "expired grant purged");
    }
    assert!(grant.is_none_or(|g| !g.is_active(NOW + 500)));
    assert_eq!(
        store
            .get_partner_link(&user, "amazon", NOW + 500)
            .await
            .expect("get"),
        None,
        "with its Amazon tokens"
    );
    assert!(
        store
            .list_user_grants(&user, NOW + 500)
            .await
            .expect("list")
            .is_empty()
    );
}

fn rotation_of(old: TokenHash, g: &NewGrant, retire: bool) -> Rotation {
    Rotation {
        grant_id: g.grant_id,
        old,
        retire_old: retire.then(|| RefreshState::Rotated {
            at: NOW,
            sealed_successor: vec![1, 2, 3],
        }),
        access: Some((hash(), access(Some(g.grant_id), NOW + 3600))),
        access_expires_at: NOW + 3600,
        refresh: retire.then(|| (hash(), refresh(g.grant_id, "user"))),
    }
}

/// With a self-contained access token format, redeeming a code stores the
/// grant and refresh token only, and a rotation only refresh state; the
/// rotation is still refused once the grant is revoked.
async fn self_contained_access_tokens_write_only_grant_and_refresh_state(store: &dyn Store) {
    let c = hash();
    store.put_code(&c, &code(NOW + 60)).await.expect("put code");
    let mut g = new_grant("user", None);
    g.access = None;
    store.redeem_code(&c, NOW, &g).await.expect("redeem");
    let (first, _) = g.refresh.clone().expect("refresh");
    let lookup = store
        .get_refresh_token(&first, NOW)
        .await
        .expect("read")
        .expect("the refresh token is stored");
    assert_eq!(lookup.grant.as_ref(), Some(&g.grant), "and the grant");

    let mut r = rotation_of(first, &g, true);
    r.access = None;
    store.rotate_refresh_token(&r, NOW).await.expect("rotate");
    let (second, _) = r.refresh.clone().expect("successor");
    assert!(
        store
            .get_refresh_token(&second, NOW)
            .await
            .expect("read")
            .is_some(),
        "the successor is stored"
    );
    assert!(
        matches!(
            store.rotate_refresh_token(&r, NOW).await,
            Err(RotateError::Conflict)
        ),
        "the old token rotates once"
    );
    assert!(store.revoke_grant(&g.grant_id, NOW).await.expect("revoke"));
    let mut after = rotation_of(second, &g, true);
    after.access = None;
    assert!(
        matches!(
            store.rotate_refresh_token(&after, NOW).await,
            Err(RotateError::Conflict)
        ),
        "a revoked grant's refresh token does not rotate"
    );
}

async fn codes_expire_and_never_overwrite(store: &dyn Store) {
    let h = hash();
    let record = code(NOW + 60);
    store.put_code(&h, &record).await.expect("put code");
    assert_eq!(
        store.get_code(&h, NOW).await.expect("get"),
        Some(record.clone())
    );
    assert_eq!(
        store.get_code(&h, NOW + 60).await.expect("get"),
        None,
        "a code is gone at expires_at"
    );
    assert!(
        matches!(
            store.put_code(&h, &code(NOW + 90)).await,
            Err(StoreError::Duplicate)
        ),
        "put_code must not overwrite an existing code"
    );
    assert_eq!(store.get_code(&hash(), NOW).await.expect("get"), None);
}

async fn redemption_is_single_use(store: &dyn Store) {
    let c = hash();
    store.put_code(&c, &code(NOW + 60)).await.expect("put code");
    let g = new_grant("user", None);
    store
        .redeem_code(&c, NOW, &g)
        .await
        .expect("first redemption");
    let at = store
        .get_access_token(&g.access.as_ref().expect("stored access").0, NOW)
        .await
        .expect("get access");
    assert_eq!(
        at,
        Some(g.access.as_ref().expect("stored access").1.clone()),
        "redemption stores the access token"
    );
    let rt = store
        .get_refresh_token(&g.refresh.as_ref().expect("refresh").0, NOW)
        .await
        .expect("get refresh")
        .expect("redemption stores the refresh token");
    assert_eq!(rt.grant.as_ref(), Some(&g.grant));
    assert_eq!(
        store
            .get_code(&c, NOW)
            .await
            .expect("get")
            .and_then(|c| c.redeemed_for),
        Some(g.grant_id),
        "the code records its grant"
    );

    match store.redeem_code(&c, NOW, &new_grant("user", None)).await {
        Err(RedeemError::AlreadyRedeemed(id)) => assert_eq!(id, g.grant_id),
        other => panic!("second redemption must report the first grant, got {other:?}"),
    }

    let expired = hash();
    store
        .put_code(&expired, &code(NOW + 10))
        .await
        .expect("put");
    assert!(matches!(
        store
            .redeem_code(&expired, NOW + 10, &new_grant("user", None))
            .await,
        Err(RedeemError::NotFound)
    ));
    assert!(matches!(
        store
            .redeem_code(&hash(), NOW, &new_grant("user", None))
            .await,
        Err(RedeemError::NotFound)
    ));
}

async fn concurrent_redemptions_yield_one_grant(store: Arc<dyn Store>) {
    let c = hash();
    store.put_code(&c, &code(NOW + 60)).await.expect("put code");
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let g = new_grant("user", None);
            store.redeem_code(&c, NOW, &g).await.map(|()| g)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.expect("task") {
            Ok(g) => winners.push(g),
            Err(RedeemError::AlreadyRedeemed(_)) => {}
            Err(e) => panic!("unexpected redemption error: {e}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one of 50 concurrent redemptions wins"
    );
    let winner = &winners[0];
    assert!(
        store
            .get_access_token(&winner.access.as_ref().expect("stored access").0, NOW)
            .await
            .expect("get")
            .is_some(),
        "the winner reads back its own access token at once"
    );
}

async fn access_tokens_expire_and_can_be_deleted(store: &dyn Store) {
    let h = hash();
    let record = access(None, NOW + 100);
    store.put_access_token(&h, &record).await.expect("put");
    assert_eq!(
        store.get_access_token(&h, NOW).await.expect("get"),
        Some(record)
    );
    assert_eq!(
        store.get_access_token(&h, NOW + 100).await.expect("get"),
        None
    );
    store.delete_access_token(&h).await.expect("delete");
    assert_eq!(store.get_access_token(&h, NOW).await.expect("get"), None);
}

async fn rotation_happens_once(store: &dyn Store) {
    let g = linked(store).await;
    let old = g.refresh.as_ref().expect("refresh").0;
    let r = rotation_of(old, &g, true);
    store
        .rotate_refresh_token(&r, NOW)
        .await
        .expect("first rotation");
    let looked = store
        .get_refresh_token(&old, NOW)
        .await
        .expect("get")
        .expect("old kept");
    assert!(
        matches!(looked.token.state, RefreshState::Rotated { ref sealed_successor, .. } if sealed_successor == &[1, 2, 3]),
        "the old token is marked rotated with its sealed successor"
    );
    let new = r.refresh.as_ref().expect("new refresh").0;
    let looked = store
        .get_refresh_token(&new, NOW)
        .await
        .expect("get")
        .expect("new stored");
    assert_eq!(looked.token.state, RefreshState::Active);
    assert!(
        store
            .get_access_token(&r.access.as_ref().expect("stored access").0, NOW)
            .await
            .expect("get")
            .is_some()
    );

    // Refused, and storing nothing: the old token again (it rotates once),
    // and a token the store never had (or no longer has), with and without
    // retiring it. A refresh token that carries its claims comes here
    // without a read.
    for (refused, why) in [
        (rotation_of(old, &g, true), "the old token rotates once"),
        (
            rotation_of(hash(), &g, true),
            "an unknown token does not rotate",
        ),
        (
            rotation_of(hash(), &g, false),
            "an unknown token is not refreshed",
        ),
    ] {
        assert!(
            matches!(
                store.rotate_refresh_token(&refused, NOW).await,
                Err(RotateError::Conflict)
            ),
            "{why}"
        );
        assert_eq!(
            store
                .get_access_token(&refused.access.as_ref().expect("stored access").0, NOW)
                .await
                .expect("get"),
            None,
            "a failed rotation stores nothing ({why})"
        );
    }
}

async fn concurrent_rotations_yield_one_successor(store: Arc<dyn Store>) {
    let g = linked(&*store).await;
    let old = g.refresh.as_ref().expect("refresh").0;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        let r = rotation_of(old, &g, true);
        tasks.push(tokio::spawn(async move {
            store.rotate_refresh_token(&r, NOW).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(()) => ok += 1,
            Err(RotateError::Conflict) => {}
            Err(e) => panic!("unexpected rotation error: {e}"),
        }
    }
    assert_eq!(ok, 1, "exactly one of 20 concurrent rotations wins");
}

async fn rotation_without_retiring_keeps_the_old_token(store: &dyn Store) {
    let g = linked(store).await;
    let old = g.refresh.as_ref().expect("refresh").0;
    for _ in 0..2 {
        let r = rotation_of(old, &g, false);
        store
            .rotate_refresh_token(&r, NOW)
            .await
            .expect("refresh without rotation");
        assert!(
            store
                .get_access_token(&r.access.as_ref().expect("stored access").0, NOW)
                .await
                .expect("get")
                .is_some()
        );
    }
    let looked = store
        .get_refresh_token(&old, NOW)
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(looked.token.state, RefreshState::Active);
}

async fn revoking_a_grant_disables_its_whole_family(store: &dyn Store) {
    let g = linked(store).await;
    let old = g.refresh.as_ref().expect("refresh").0;
    let r = rotation_of(old, &g, true);
    store.rotate_refresh_token(&r, NOW).await.expect("rotate");

    assert!(
        store
            .revoke_grant(&g.grant_id, NOW + 1)
            .await
            .expect("revoke"),
        "was active"
    );
    assert!(
        !store
            .revoke_grant(&g.grant_id, NOW + 2)
            .await
            .expect("revoke"),
        "already revoked"
    );
    for access in [
        &g.access.as_ref().expect("stored access").0,
        &r.access.as_ref().expect("stored access").0,
    ] {
        assert_eq!(
            store.get_access_token(access, NOW + 1).await.expect("get"),
            None
        );
    }
    let new = r.refresh.as_ref().expect("new").0;
    let usable = store
        .get_refresh_token(&new, NOW + 1)
        .await
        .expect("get")
        .is_some_and(|l| l.grant.is_some_and(|g| g.is_active(NOW + 1)));
    assert!(!usable, "a revoked grant's refresh tokens are unusable");
    assert!(matches!(
        store
            .rotate_refresh_token(&rotation_of(new, &g, true), NOW + 1)
            .await,
        Err(RotateError::Conflict)
    ));
    assert!(
        !store
            .revoke_grant(&GrantId::generate(), NOW)
            .await
            .expect("unknown grant")
    );
}

async fn expired_grants_disable_their_tokens(store: &dyn Store) {
    let c = hash();
    store.put_code(&c, &code(NOW + 60)).await.expect("put code");
    let g = new_grant("user", Some(NOW + 1000));
    store.redeem_code(&c, NOW, &g).await.expect("redeem");
    assert!(
        store
            .get_access_token(&g.access.as_ref().expect("stored access").0, NOW)
            .await
            .expect("get")
            .is_some()
    );
    let late = NOW + 1000;
    assert_eq!(
        store
            .get_access_token(&g.access.as_ref().expect("stored access").0, late)
            .await
            .expect("get"),
        None
    );
    let old = g.refresh.as_ref().expect("refresh").0;
    assert!(matches!(
        store
            .rotate_refresh_token(&rotation_of(old, &g, true), late)
            .await,
        Err(RotateError::Conflict)
    ));
}

async fn consents_are_replaced(store: &dyn Store) {
    let user = format!("user-{}", tokens::random_nonce());
    assert_eq!(store.get_consent(&user, "alexa").await.expect("get"), None);
    store
        .put_consent(&user, "alexa", &["a".into()])
        .await
        .expect("put");
    store
        .put_consent(&user, "alexa", &["a".into(), "b".into()])
        .await
        .expect("put");
    assert_eq!(
        store.get_consent(&user, "alexa").await.expect("get"),
        Some(vec!["a".to_owned(), "b".to_owned()])
    );
    assert_eq!(store.get_consent(&user, "other").await.expect("get"), None);
}

async fn purge_removes_only_what_expired(store: &dyn Store, caps: Capabilities) {
    let dead_code = hash();
    store
        .put_code(&dead_code, &code(NOW + 10))
        .await
        .expect("put");
    let live_code = hash();
    store
        .put_code(&live_code, &code(NOW + 10_000))
        .await
        .expect("put");
    let dead_access = hash();
    store
        .put_access_token(&dead_access, &access(None, NOW + 10))
        .await
        .expect("put");
    let g = linked(store).await;

    store.purge_expired(NOW + 100).await.expect("purge");
    if caps.immediate_purge {
        // Read at the old time: only a physical deletion hides them.
        assert_eq!(
            store.get_code(&dead_code, NOW).await.expect("get"),
            None,
            "expired code purged"
        );
        assert_eq!(
            store
                .get_access_token(&dead_access, NOW)
                .await
                .expect("get"),
            None
        );
    }
    assert_eq!(
        store.get_code(&dead_code, NOW + 100).await.expect("get"),
        None
    );
    assert_eq!(
        store
            .get_access_token(&dead_access, NOW + 100)
            .await
            .expect("get"),
        None
    );
    assert!(
        store
            .get_code(&live_code, NOW)
            .await
            .expect("get")
            .is_some(),
        "live code kept"
    );
    assert!(
        store
            .get_access_token(&g.access.as_ref().expect("stored access").0, NOW)
            .await
            .expect("get")
            .is_some(),
        "a live grant's token is kept"
    );
    assert!(
        store.get_grant(&g.grant_id).await.expect("get").is_some(),
        "live grant kept"
    );
}

fn app_link_state(expires_at: UnixTime) -> AppLinkStateRecord {
    AppLinkStateRecord {
        user_id: format!("user-{}", tokens::random_nonce()),
        skill: "skill".into(),
        redirect_uri: "https://app.example.com/alexa".into(),
        expires_at,
    }
}

async fn app_link_states_are_single_use_and_expire(store: &dyn Store, caps: Capabilities) {
    let key = hash();
    let record = app_link_state(NOW + 300);
    store.put_app_link_state(&key, &record).await.expect("put");
    assert!(
        matches!(
            store
                .put_app_link_state(&key, &app_link_state(NOW + 300))
                .await,
            Err(StoreError::Duplicate)
        ),
        "a state is never overwritten"
    );
    assert_eq!(
        store.take_app_link_state(&key, NOW).await.expect("take"),
        Some(record),
        "the first take returns the state"
    );
    assert_eq!(
        store.take_app_link_state(&key, NOW).await.expect("take"),
        None,
        "a state is single-use"
    );
    assert_eq!(
        store.take_app_link_state(&hash(), NOW).await.expect("take"),
        None,
        "an unknown state is absent"
    );

    let expired = hash();
    store
        .put_app_link_state(&expired, &app_link_state(NOW + 10))
        .await
        .expect("put");
    assert_eq!(
        store
            .take_app_link_state(&expired, NOW + 10)
            .await
            .expect("take"),
        None,
        "an expired state is never returned"
    );

    if caps.immediate_purge {
        let dead = hash();
        store
            .put_app_link_state(&dead, &app_link_state(NOW + 10))
            .await
            .expect("put");
        let live = hash();
        let record = app_link_state(NOW + 1000);
        store.put_app_link_state(&live, &record).await.expect("put");
        assert!(store.purge_expired(NOW + 20).await.expect("purge") >= 1);
        assert_eq!(
            store.take_app_link_state(&live, NOW).await.expect("take"),
            Some(record),
            "purge keeps live states"
        );
    }
}

async fn concurrent_takes_of_an_app_link_state_yield_one(store: Arc<dyn Store>) {
    let key = hash();
    store
        .put_app_link_state(&key, &app_link_state(NOW + 300))
        .await
        .expect("put");
    let takes: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take_app_link_state(&key, NOW).await })
        })
        .collect();
    let mut winners = 0;
    for t in takes {
        if t.await.expect("task").expect("take").is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "exactly one concurrent take gets the state");
}

async fn consents_can_be_deleted(store: &dyn Store) {
    let user = format!("user-{}", tokens::random_nonce());
    store
        .put_consent(&user, "alexa", &["a".into()])
        .await
        .expect("put");
    store
        .put_consent(&user, "other", &["a".into()])
        .await
        .expect("put");
    store.delete_consent(&user, "alexa").await.expect("delete");
    assert_eq!(
        store.get_consent(&user, "alexa").await.expect("get"),
        None,
        "a deleted consent is gone"
    );
    assert_eq!(
        store.get_consent(&user, "other").await.expect("get"),
        Some(vec!["a".to_owned()]),
        "only that client's consent goes"
    );
    store
        .delete_consent(&user, "alexa")
        .await
        .expect("deleting an absent consent succeeds");
}

fn counter_key() -> CounterKey {
    CounterKey(hash().0)
}

fn counter(failures: u32, version: u64) -> Counter {
    Counter {
        failures,
        last_failure_millis: NOW * 1000,
        version,
        expires_at: NOW + 900,
    }
}

async fn counters_change_only_from_what_was_seen(store: &dyn Store) {
    let (user, ip) = (counter_key(), counter_key());
    assert_eq!(
        store.get_counters(&[user, ip], NOW).await.expect("get"),
        vec![None, None]
    );
    let first = vec![
        CounterWrite {
            key: user,
            expected: None,
            new: counter(1, 1),
        },
        CounterWrite {
            key: ip,
            expected: None,
            new: counter(1, 1),
        },
    ];
    assert_eq!(
        store.swap_counters(&first, NOW).await.expect("swap"),
        CounterSwap::Swapped
    );
    assert_eq!(
        store.get_counters(&[user, ip], NOW).await.expect("get"),
        vec![Some(counter(1, 1)), Some(counter(1, 1))]
    );
    // A writer that saw the user's counter absent is refused, nothing is
    // written (not even the address's counter, whose expectation held),
    // and it is told what the counters are now.
    let stale = vec![
        CounterWrite {
            key: user,
            expected: None,
            new: counter(1, 1),
        },
        CounterWrite {
            key: ip,
            expected: Some(counter(1, 1)),
            new: counter(2, 2),
        },
    ];
    assert_eq!(
        store.swap_counters(&stale, NOW).await.expect("swap"),
        CounterSwap::Changed(vec![Some(counter(1, 1)), Some(counter(1, 1))])
    );
    assert_eq!(
        store.get_counters(&[ip], NOW).await.expect("get"),
        vec![Some(counter(1, 1))],
        "a refused swap writes nothing"
    );
    // One counter alone (the client-authentication case) works the same.
    let single = |expected| {
        vec![CounterWrite {
            key: user,
            expected,
            new: counter(2, 2),
        }]
    };
    assert_eq!(
        store
            .swap_counters(&single(Some(counter(1, 0))), NOW)
            .await
            .expect("swap"),
        CounterSwap::Changed(vec![Some(counter(1, 1))]),
        "the version decides, not just the count"
    );
    assert_eq!(
        store
            .swap_counters(&single(Some(counter(1, 1))), NOW)
            .await
            .expect("swap"),
        CounterSwap::Swapped
    );
    assert_eq!(
        store.get_counters(&[user, ip], NOW).await.expect("get"),
        vec![Some(counter(2, 2)), Some(counter(1, 1))]
    );
}

/// Twenty writers that all start from the same seen state: each one's
/// count lands exactly once, however the store orders them.
async fn concurrent_counter_swaps_each_count_once(store: Arc<dyn Store>) {
    let key = counter_key();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen: Option<Counter> = None;
            for _ in 0..100 {
                let next = seen.map_or(counter(1, 1), |c| counter(c.failures + 1, c.version + 1));
                let write = [CounterWrite {
                    key,
                    expected: seen,
                    new: next,
                }];
                match store.swap_counters(&write, NOW).await.expect("swap") {
                    CounterSwap::Swapped => return,
                    CounterSwap::Changed(now) => seen = now[0],
                }
            }
            panic!("a counter swap never got through");
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let counted = store.get_counters(&[key], NOW).await.expect("get")[0];
    assert_eq!(
        counted.map(|c| (c.failures, c.version)),
        Some((20, 20)),
        "every concurrent failure counted once"
    );
}

async fn expired_counters_read_as_absent(store: &dyn Store) {
    let key = counter_key();
    let write = [CounterWrite {
        key,
        expected: None,
        new: counter(5, 1),
    }];
    assert_eq!(
        store.swap_counters(&write, NOW).await.expect("swap"),
        CounterSwap::Swapped
    );
    let later = NOW + 900;
    assert_eq!(
        store.get_counters(&[key], later).await.expect("get"),
        vec![None],
        "a counter past its expiry is absent"
    );
    // And may be started afresh by a writer that saw nothing.
    let fresh = [CounterWrite {
        key,
        expected: None,
        new: Counter {
            expires_at: later + 900,
            ..counter(1, 2)
        },
    }];
    assert_eq!(
        store.swap_counters(&fresh, later).await.expect("swap"),
        CounterSwap::Swapped
    );
}
