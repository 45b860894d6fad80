//! yaml-tree against serde-saphyr (set up as the engine sets it up) on the
//! text the engine parses: a rendered sidecar of about 6 KB, and a large
//! fragment (a flow-JSON block and 2,000 env entries). Both allocate with
//! mimalloc, as the injector binary does.

use std::fmt::Write;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::Value;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn saphyr(text: &str) -> Value {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    serde_saphyr::from_str_with_options(text, options).unwrap_or_else(|e| panic!("{e}"))
}

/// A container with 2,000 env entries in block style, and a pod-ports
/// annotation as one flow-JSON block spread over many lines.
fn large_fragment() -> String {
    let mut text = String::from("metadata:\n  annotations:\n    ports: [\n");
    for i in 0..400 {
        let _ = writeln!(
            text,
            "      {{\"containerPort\": {}, \"name\": \"http-{i}\", \"protocol\": \"TCP\", \"hostIP\": null}},",
            8000 + i
        );
    }
    text.push_str("      {\"containerPort\": 1, \"name\": \"last\"}\n    ]\nspec:\n  containers:\n  - name: istio-proxy\n    env:\n");
    for i in 0..2000 {
        let _ = writeln!(
            text,
            "    - name: SETTING_{i}\n      value: \"value-{i}-with-some-length\""
        );
    }
    text
}

fn bench(c: &mut Criterion) {
    let sidecar = include_str!("sidecar.yaml");
    let large = large_fragment();
    for (name, text) in [("sidecar", sidecar), ("large", large.as_str())] {
        assert_eq!(
            yaml_tree::parse(text)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .value,
            saphyr(text),
            "{name}"
        );
        let mut group = c.benchmark_group(name);
        group.bench_function("yaml-tree", |b| {
            b.iter(|| yaml_tree::parse(black_box(text)))
        });
        group.bench_function("serde-saphyr", |b| b.iter(|| saphyr(black_box(text))));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
