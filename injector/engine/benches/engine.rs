//! The engine's cost per admission: decide + render + merge + diff on the
//! pod of Istio's `hello` Deployment, on a pod with 40 containers' worth
//! of env and on one with 2,000 env vars (replicas: the render cache
//! answers), the same for a pod
//! unlike any before it (the cache misses), the webhook's whole path from
//! request body to answer for a pod the response cache has not seen, and
//! what compiling a snapshot costs; each with our handlebars default and
//! with Istio's own ConfigMap (Go templates, Istio's post-processing), on
//! the same pods.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::path::Path;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use injector_engine::admission::{ResponseCache, Review, admit};
use injector_engine::engine::{Engine, Outcome, PodRequest};
use injector_engine::{RawConfig, yaml};
use serde_json::{Value, json};

/// The injector binary's allocator (see `injector/src/main.rs`), so the
/// figures are the webhook's: the engine allocates and frees thousands of
/// small JSON nodes per pod.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The pod the API server would send for Istio's `hello` Deployment.
fn hello_pod() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/istio-testdata/inject/hello.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let deployment: Value = yaml::parse(&text).unwrap();
    let template = &deployment["spec"]["template"];
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "hello-5d4f8b7c9-",
            "namespace": "default",
            "labels": template["metadata"]["labels"],
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "hello-5d4f8b7c9", "controller": true, "uid": "1"}]
        },
        "spec": template["spec"],
    })
}

/// A pod with 40 containers, each with 25 env vars, 2 ports and probes.
fn big_pod() -> Value {
    let containers: Vec<Value> = (0..40)
        .map(|i| {
            let env: Vec<Value> = (0..25)
                .map(|j| json!({"name": format!("SETTING_{j}"), "value": format!("value-{i}-{j}-with-some-length")}))
                .collect();
            json!({
                "name": format!("worker-{i}"),
                "image": format!("registry.example/worker:{i}"),
                "env": env,
                "ports": [{"name": format!("http-{i}"), "containerPort": 8000 + i}, {"containerPort": 9000 + i}],
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8000 + i}},
                "livenessProbe": {"tcpSocket": {"port": 9000 + i}},
            })
        })
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "big", "namespace": "default", "labels": {"app": "big", "version": "v3"}},
        "spec": {"containers": containers}
    })
}

/// One container with 2,000 env vars: the shape of istio#46809, where a
/// pod like it took Istio's injector seconds.
fn env_heavy_pod() -> Value {
    let env: Vec<Value> = (0..2000)
        .map(|j| json!({"name": format!("VAR_{j}"), "value": format!("value-{j}")}))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "env-heavy", "namespace": "default", "labels": {"app": "env-heavy"}},
        "spec": {"containers": [{"name": "app", "image": "app:1", "env": env,
                                 "ports": [{"containerPort": 8080}]}]}
    })
}

fn bench(c: &mut Criterion) {
    let configs = [
        ("handlebars", RawConfig::embedded().parse().unwrap()),
        ("go", support::istio_config(true)),
    ];
    for (dialect, config) in configs {
        let engine = Engine::compile(config.clone(), 1).unwrap();
        for (name, pod) in [
            ("hello", hello_pod()),
            ("40-containers", big_pod()),
            ("2000-env", env_heavy_pod()),
        ] {
            let req = PodRequest {
                pod: &pod,
                namespace: "default",
                namespace_labels: None,
                workload: None,
            };
            assert!(matches!(engine.process(&req), Ok(Outcome::Injected(_))));
            c.bench_function(&format!("inject/{dialect}/{name}"), |b| {
                b.iter(|| black_box(engine.process(black_box(&req)).unwrap()))
            });
        }
        // A pod no earlier admission looked like: defeats the render cache,
        // as the first replica of a changed workload does. The change is in
        // the spec (an image tag), which every template sees: a label the
        // templates do not read would share a render.
        let mut pod = hello_pod();
        let mut n = 0u64;
        c.bench_function(&format!("inject/{dialect}/hello-first-of-its-kind"), |b| {
            b.iter(|| {
                n += 1;
                pod["spec"]["containers"][0]["image"] = json!(format!("docker.io/hello:{n}"));
                let req = PodRequest {
                    pod: &pod,
                    namespace: "default",
                    namespace_labels: None,
                    workload: None,
                };
                black_box(engine.process(black_box(&req)).unwrap())
            })
        });
        // The webhook's whole path for a pod the response cache has not
        // seen (a label the templates do not read differs each time):
        // envelope, pod parse, engine, patch encoding.
        let review = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/ratings-review.json"),
        )
        .unwrap();
        let review: Value = serde_json::from_slice(&review).unwrap();
        let responses = ResponseCache::new(ResponseCache::DEFAULT_BYTES);
        let mut n = 0u64;
        c.bench_function(&format!("admit/{dialect}/unique-label"), |b| {
            b.iter_batched(
                || {
                    n += 1;
                    let mut review = review.clone();
                    review["request"]["object"]["metadata"]["labels"]["bench-seq"] =
                        json!(n.to_string());
                    serde_json::to_vec(&review).unwrap()
                },
                |body| {
                    let review = Review::parse(&body).unwrap();
                    admit(&engine, &responses, &review).unwrap()
                },
                BatchSize::SmallInput,
            )
        });
        c.bench_function(&format!("compile/{dialect}"), |b| {
            b.iter(|| black_box(Engine::compile(black_box(config.clone()), 1).unwrap()))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
