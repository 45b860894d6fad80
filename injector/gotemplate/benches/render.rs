//! Renders Istio's sidecar template (from the shared ConfigMap) for a hello
//! pod: the per-admission cost of the template step.

#![allow(clippy::expect_used)] // setup failing is a bug to see at once

use criterion::{Criterion, criterion_group, criterion_main};
use gotemplate::Template;

#[path = "../tests/support/istio.rs"]
mod istio;

fn render(c: &mut Criterion) {
    let (templates, values) = istio::istio_configmap();
    let funcs = istio::funcs();
    let inputs = istio::inputs(values);
    for name in ["sidecar", "gateway"] {
        let template =
            Template::parse(name, &templates[name], &funcs).expect("Istio's template parses");
        c.bench_function(&format!("render {name}"), |b| {
            b.iter(|| {
                let data = istio::data(&inputs);
                template.execute(&data).expect("renders")
            });
        });
    }
    c.bench_function("parse sidecar", |b| {
        b.iter(|| Template::parse("sidecar", &templates["sidecar"], &funcs).expect("parses"))
    });
}

criterion_group!(benches, render);
criterion_main!(benches);
