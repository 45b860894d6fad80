//! AdmissionReview bodies: arbitrary bytes, arbitrary JSON, and real
//! reviews mutated field by field and byte by byte.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};
use test_support::admission::pod_create_review;

use crate::check;
use crate::inputs::{self, budget, engine};

fn review(pod: Value) -> Value {
    pod_create_review(
        &pod,
        check::NAMESPACE,
        "705ab4f5-6393-11e8-b7cc-42010a800002",
    )
}

fn plain_pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"generateName": "web-", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "web:1", "ports": [{"containerPort": 8080}]}]}
    })
}

/// Every JSON pointer in `v`, the root included.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let key = k.replace('~', "~0").replace('/', "~1");
                pointers(child, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// Replaces (or, with `None`, removes) the value at a pointer.
fn replace(doc: &mut Value, pointer: &str, with: Option<Value>) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        *doc = with.unwrap_or(Value::Null);
        return;
    };
    let key = last.replace("~1", "/").replace("~0", "~");
    match (doc.pointer_mut(parent), with) {
        (Some(Value::Object(map)), Some(v)) => {
            map.insert(key, v);
        }
        (Some(Value::Object(map)), None) => {
            map.remove(&key);
        }
        (Some(Value::Array(items)), with) => {
            let i: usize = key.parse().unwrap();
            match with {
                Some(v) => items[i] = v,
                None => {
                    items.remove(i);
                }
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(budget(192))]

    #[test]
    fn arbitrary_bytes_are_refused_cleanly(body in prop::collection::vec(any::<u8>(), 0..512)) {
        check::admit(engine(), &body);
    }

    #[test]
    fn arbitrary_json_is_refused_cleanly(body in inputs::json()) {
        check::admit(engine(), &serde_json::to_vec(&body).unwrap());
    }

    #[test]
    fn reviews_with_a_field_replaced_or_removed(
        edits in prop::collection::vec((any::<Index>(), prop::option::of(inputs::json())), 1..4),
        version in prop::sample::select(injector_engine::admission::API_VERSIONS.to_vec()),
    ) {
        let mut doc = review(plain_pod());
        doc["apiVersion"] = json!(version);
        for (at, with) in edits {
            let mut all = Vec::new();
            pointers(&doc, String::new(), &mut all);
            replace(&mut doc, &all[at.index(all.len())], with);
        }
        check::admit(engine(), &serde_json::to_vec(&doc).unwrap());
    }

    #[test]
    fn reviews_with_bytes_changed(
        edits in prop::collection::vec((any::<Index>(), any::<u8>(), 0..3u8), 1..6),
    ) {
        let mut body = serde_json::to_vec(&review(plain_pod())).unwrap();
        for (at, byte, how) in edits {
            let i = at.index(body.len());
            match how {
                0 => body[i] = byte,
                1 => body.insert(i, byte),
                _ => body.truncate(i),
            }
            if body.is_empty() {
                break;
            }
        }
        check::admit(engine(), &body);
    }
}

proptest! {
    #![proptest_config(budget(64))]

    #[test]
    fn reviews_of_arbitrary_pods(pod in inputs::pod()) {
        check::admit(engine(), &serde_json::to_vec(&review(pod)).unwrap());
    }
}
