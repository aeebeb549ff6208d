//! What the watches of the children last saw, so that apply can skip reads.
//!
//! Apply reads a child before writing it, to compare the applied-hash
//! annotation: at a thousand links those reads were most of the operator's
//! requests, and the API server was the bottleneck. The controller already
//! watches every child kind; this cache keeps, per child, only the
//! `resourceVersion` the watch saw last and, once the operator applied or
//! read the child, the hash it carries at that version. A child whose
//! watched version is the one the operator knows, with the hash it wants,
//! needs neither the read nor the write. Anything else (another version,
//! a deletion, a watch that re-lists, an operator that just started) falls
//! back to the read, so the cache can cost a read but never hide a change.
//!
//! It holds a few strings per child, never a child's content.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use kube::runtime::watcher::Event;
use kube::{Resource, ResourceExt};

/// Versions seen by the watches and hashes known at those versions.
#[derive(Debug, Default)]
pub struct ChildCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// `kind/namespace/name` -> the resourceVersion the watch saw last.
    seen: HashMap<String, String>,
    /// `kind/namespace/name` -> (applied hash, resourceVersion it is at).
    known: HashMap<String, (String, String)>,
    /// Kinds whose watch has listed everything since it (re)started.
    listed: HashSet<String>,
}

/// The cache key of a child.
pub fn key(kind: &str, namespace: &str, name: &str) -> String {
    format!("{kind}/{namespace}/{name}")
}

impl ChildCache {
    /// Records one event of the watch of `kind`.
    pub fn observe<K: Resource>(&self, kind: &str, event: &Event<K>) {
        let Ok(mut c) = self.inner.lock() else {
            return;
        };
        let id = |o: &K| key(kind, &o.namespace().unwrap_or_default(), &o.name_any());
        match event {
            Event::Apply(o) | Event::InitApply(o) => {
                let version = o.resource_version().unwrap_or_default();
                c.seen.insert(id(o), version);
            }
            Event::Delete(o) => {
                let k = id(o);
                c.seen.remove(&k);
                c.known.remove(&k);
            }
            // A re-list: what was seen before may have changed unseen.
            Event::Init => {
                let prefix = format!("{kind}/");
                c.seen.retain(|k, _| !k.starts_with(&prefix));
                c.listed.remove(kind);
            }
            Event::InitDone => {
                c.listed.insert(kind.to_owned());
            }
        }
    }

    /// Records that child `key` carries `hash` at `version` (after a read
    /// or a write of the operator).
    pub fn know(&self, key: String, hash: String, version: String) {
        if let Ok(mut c) = self.inner.lock() {
            c.known.insert(key, (hash, version));
        }
    }

    /// Whether child `key` is known to carry `hash` at the version its
    /// watch saw last: then it needs no read and no write.
    pub fn up_to_date(&self, key: &str, hash: &str) -> bool {
        let Ok(c) = self.inner.lock() else {
            return false;
        };
        match (c.known.get(key), c.seen.get(key)) {
            (Some((h, known_version)), Some(seen_version)) => {
                h == hash && known_version == seen_version
            }
            _ => false,
        }
    }

    /// Whether `version` of child `key` is one the operator itself wrote
    /// (or read): the watch echoing the operator's own apply, which gives
    /// a reconcile nothing new to see. Any other version, a deletion
    /// included, is news.
    pub fn is_own_version(&self, key: &str, version: &str) -> bool {
        self.inner
            .lock()
            .map(|c| c.known.get(key).is_some_and(|(_, v)| v == version))
            .unwrap_or(false)
    }

    /// Whether child `key` of `kind` is known not to exist: its watch has
    /// listed everything and has not seen it since.
    pub fn absent(&self, kind: &str, key: &str) -> bool {
        self.inner
            .lock()
            .map(|c| c.listed.contains(kind) && !c.seen.contains_key(key))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    use super::*;

    fn cm(version: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some("link-config".into()),
                namespace: Some("ns".into()),
                resource_version: Some(version.into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    #[test]
    fn a_read_is_skipped_only_while_the_watch_shows_the_known_version() {
        let cache = ChildCache::default();
        let k = key("ConfigMap", "ns", "link-config");
        // Just started: nothing is known, everything is read.
        assert!(!cache.up_to_date(&k, "h1"));
        assert!(!cache.absent("ConfigMap", &k), "not listed yet");
        cache.observe("ConfigMap", &Event::<ConfigMap>::Init);
        cache.observe("ConfigMap", &Event::<ConfigMap>::InitDone);
        assert!(cache.absent("ConfigMap", &k), "listed, never seen");

        // The operator applies it (version 7) before the watch shows it.
        cache.know(k.clone(), "h1".into(), "7".into());
        assert!(!cache.up_to_date(&k, "h1"), "the watch has not caught up");
        assert!(cache.is_own_version(&k, "7"), "its echo is no news");
        assert!(!cache.is_own_version(&k, "8"));
        cache.observe("ConfigMap", &Event::Apply(cm("7")));
        assert!(cache.up_to_date(&k, "h1"));
        assert!(!cache.up_to_date(&k, "h2"), "another desired state");

        // Someone else changes it: read again.
        cache.observe("ConfigMap", &Event::Apply(cm("9")));
        assert!(!cache.up_to_date(&k, "h1"));
        cache.know(k.clone(), "h1".into(), "9".into());
        assert!(cache.up_to_date(&k, "h1"));

        // Deleted: gone from both maps.
        cache.observe("ConfigMap", &Event::Delete(cm("9")));
        assert!(!cache.up_to_date(&k, "h1"));
        assert!(!cache.is_own_version(&k, "9"), "a deletion is news");
        assert!(cache.absent("ConfigMap", &k));

        // A re-list forgets what was seen until it is done.
        cache.observe("ConfigMap", &Event::Apply(cm("10")));
        cache.know(k.clone(), "h1".into(), "10".into());
        cache.observe("ConfigMap", &Event::<ConfigMap>::Init);
        assert!(!cache.up_to_date(&k, "h1"));
        assert!(!cache.absent("ConfigMap", &k));
        cache.observe("ConfigMap", &Event::InitApply(cm("10")));
        cache.observe("ConfigMap", &Event::<ConfigMap>::InitDone);
        assert!(cache.up_to_date(&k, "h1"));
    }
}
