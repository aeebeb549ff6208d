//! The store conformance suite: what every [`Store`] backend must do.
//!
//! Written once and run against each backend (`run_all`). Every check uses
//! fresh random keys, so the suite also runs against a shared, non-empty
//! store such as a DynamoDB table.

use std::sync::Arc;

use super::{
    AccessTokenRecord, AuthCodeRecord, GrantId, GrantRecord, NewGrant, RedeemError, RefreshState,
    RefreshTokenRecord, RotateError, Rotation, Store, StoreError, UnixTime,
};
use crate::tokens::{self, TokenHash, TokenKind};

const NOW: UnixTime = 1_700_000_000;

/// Runs every check against `store`. Panics with a message naming the
/// broken property.
pub async fn run_all(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
    codes_expire_and_never_overwrite(&*store).await;
    redemption_is_single_use(&*store).await;
    concurrent_redemptions_yield_one_grant(store.clone()).await;
    access_tokens_expire_and_can_be_deleted(&*store).await;
    rotation_happens_once(&*store).await;
    concurrent_rotations_yield_one_successor(store.clone()).await;
    rotation_without_retiring_keeps_the_old_token(&*store).await;
    revoking_a_grant_disables_its_whole_family(&*store).await;
    expired_grants_disable_their_tokens(&*store).await;
    consents_are_replaced(&*store).await;
    purge_removes_only_what_expired(&*store).await;
}

fn hash() -> TokenHash {
    tokens::generate(TokenKind::AccessToken).hash
}

fn code(expires_at: UnixTime) -> AuthCodeRecord {
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

fn new_grant(user: &str, grant_expires_at: Option<UnixTime>) -> NewGrant {
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
        access: (hash(), access(Some(grant_id), NOW + 3600)),
        refresh: Some((hash(), refresh(grant_id, user))),
    }
}

fn access(grant_id: Option<GrantId>, expires_at: UnixTime) -> AccessTokenRecord {
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
    let c = hash();
    store.put_code(&c, &code(NOW + 60)).await.expect("put code");
    let g = new_grant("user", None);
    store.redeem_code(&c, NOW, &g).await.expect("redeem");
    g
}

fn rotation_of(old: TokenHash, g: &NewGrant, retire: bool) -> Rotation {
    Rotation {
        old,
        retire_old: retire.then(|| RefreshState::Rotated {
            at: NOW,
            sealed_successor: vec![1, 2, 3],
        }),
        access: (hash(), access(Some(g.grant_id), NOW + 3600)),
        refresh: retire.then(|| (hash(), refresh(g.grant_id, "user"))),
    }
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
        .get_access_token(&g.access.0, NOW)
        .await
        .expect("get access");
    assert_eq!(
        at,
        Some(g.access.1.clone()),
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
    assert!(
        store
            .get_access_token(&winners[0].access.0, NOW)
            .await
            .expect("get")
            .is_some()
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
            .get_access_token(&r.access.0, NOW)
            .await
            .expect("get")
            .is_some()
    );

    let again = rotation_of(old, &g, true);
    assert!(matches!(
        store.rotate_refresh_token(&again, NOW).await,
        Err(RotateError::Conflict)
    ));
    assert_eq!(
        store
            .get_access_token(&again.access.0, NOW)
            .await
            .expect("get"),
        None,
        "a failed rotation stores nothing"
    );
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
                .get_access_token(&r.access.0, NOW)
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
    for access in [&g.access.0, &r.access.0] {
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
            .get_access_token(&g.access.0, NOW)
            .await
            .expect("get")
            .is_some()
    );
    let late = NOW + 1000;
    assert_eq!(
        store
            .get_access_token(&g.access.0, late)
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

async fn purge_removes_only_what_expired(store: &dyn Store) {
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
    assert_eq!(
        store.get_code(&dead_code, NOW).await.expect("get"),
        None,
        "expired code purged"
    );
    assert!(
        store
            .get_code(&live_code, NOW)
            .await
            .expect("get")
            .is_some(),
        "live code kept"
    );
    assert_eq!(
        store
            .get_access_token(&dead_access, NOW)
            .await
            .expect("get"),
        None
    );
    assert!(
        store
            .get_access_token(&g.access.0, NOW)
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
