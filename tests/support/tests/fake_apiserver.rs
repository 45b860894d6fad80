//! The fake API server keeps the contract clients rely on: optimistic
//! concurrency, patch types, paging, and watches with bookmarks.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use test_support::fake_apiserver::{FakeApiServer, Kind};

fn secret(name: &str) -> Secret {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "stringData": {"k": "v"},
    }))
    .unwrap()
}

fn code(error: kube::Error) -> u16 {
    match error {
        kube::Error::Api(status) => status.code,
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test]
async fn writes_are_versioned_and_conflicts_refused() {
    let fake = FakeApiServer::start().await;
    let secrets: Api<Secret> = Api::namespaced(fake.client(), "ns");
    let created = secrets
        .create(&PostParams::default(), &secret("a"))
        .await
        .unwrap();
    let rv = created.resource_version().unwrap();
    assert_eq!(
        code(
            secrets
                .create(&PostParams::default(), &secret("a"))
                .await
                .unwrap_err()
        ),
        409
    );

    // Replace with the current version succeeds; with the old one, 409.
    let mut update = created.clone();
    update.metadata.labels = Some([("v".to_string(), "2".to_string())].into());
    let replaced = secrets
        .replace("a", &PostParams::default(), &update)
        .await
        .unwrap();
    assert_ne!(replaced.resource_version().unwrap(), rv);
    assert_eq!(
        code(
            secrets
                .replace("a", &PostParams::default(), &update)
                .await
                .unwrap_err()
        ),
        409
    );

    // Paging: three objects, two per page.
    secrets
        .create(&PostParams::default(), &secret("b"))
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &secret("c"))
        .await
        .unwrap();
    let page = secrets.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let token = page.metadata.continue_.clone().expect("a continue token");
    let rest = secrets
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(
        rest.items.iter().map(|s| s.name_any()).collect::<Vec<_>>(),
        ["c"]
    );
    let selected = secrets
        .list(&ListParams::default().fields("metadata.name=b"))
        .await
        .unwrap();
    assert_eq!(selected.items.len(), 1);

    fake.remove(&Kind::SECRET, "ns", "b");
    assert_eq!(code(secrets.get("b").await.unwrap_err()), 404);
    // What the product never sends is refused, not half-served.
    let merge = Patch::Merge(json!({}));
    let patched = secrets.patch("a", &PatchParams::default(), &merge).await;
    assert_eq!(code(patched.unwrap_err()), 405);
    let labelled = secrets.list(&ListParams::default().labels("a=b")).await;
    assert_eq!(code(labelled.unwrap_err()), 400);
}

#[tokio::test]
async fn watches_resume_send_bookmarks_and_expire() {
    let fake = FakeApiServer::start_with(Duration::from_millis(100)).await;
    let secrets: Api<Secret> = Api::namespaced(fake.client(), "ns");
    let a = secrets
        .create(&PostParams::default(), &secret("a"))
        .await
        .unwrap();
    let from = a.resource_version().unwrap();
    secrets
        .create(&PostParams::default(), &secret("b"))
        .await
        .unwrap();

    // From `a`'s version: `b` is replayed, then a bookmark comes.
    let mut events = secrets
        .watch(&WatchParams::default().timeout(10), &from)
        .await
        .unwrap()
        .boxed();
    let first = tokio::time::timeout(Duration::from_secs(5), events.try_next())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(first, Some(WatchEvent::Added(s)) if s.name_any() == "b"));
    let second = tokio::time::timeout(Duration::from_secs(5), events.try_next())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(second, Some(WatchEvent::Bookmark(_))),
        "{second:?}"
    );
    drop(events);

    // After compaction, the old version is Gone: an ERROR event with 410.
    fake.outage(|_| {});
    let mut expired = secrets
        .watch(&WatchParams::default(), &from)
        .await
        .unwrap()
        .boxed();
    let event = tokio::time::timeout(Duration::from_secs(5), expired.try_next())
        .await
        .unwrap()
        .unwrap();
    match event {
        Some(WatchEvent::Error(status)) => assert_eq!(status.code, 410),
        other => panic!("expected 410 Gone, got {other:?}"),
    }
    assert!(
        tokio::time::timeout(Duration::from_secs(5), expired.next())
            .await
            .unwrap()
            .is_none()
    );
}
