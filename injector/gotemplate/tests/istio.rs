//! Istio's own injection templates, read from the shared ConfigMap: all
//! parse, and the sidecar and gateway templates render a hello pod into
//! YAML that parses, with the pod's strings marked tainted.

mod support;

use gotemplate::{Template, locate};
use support::istio;

#[test]
fn all_istio_templates_parse() {
    let (templates, _) = istio::istio_configmap();
    assert_eq!(templates.len(), 8, "{:?}", templates.keys());
    let funcs = istio::funcs();
    for (name, text) in &templates {
        Template::parse(name, text, &funcs).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn sidecar_and_gateway_render_parseable_yaml() {
    let (templates, values) = istio::istio_configmap();
    let funcs = istio::funcs();
    let inputs = istio::inputs(values);
    let data = istio::data(&inputs);
    for name in ["sidecar", "gateway"] {
        let template = Template::parse(name, &templates[name], &funcs).unwrap();
        let rendered = template
            .execute(&data)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let yaml: serde_json::Value = serde_saphyr::from_str(&rendered.text)
            .unwrap_or_else(|e| panic!("{name} is not YAML: {e}\n{}", rendered.text));
        assert!(
            yaml["spec"]["containers"].is_array(),
            "{name}: {}",
            rendered.text
        );
        assert!(
            !rendered.text.contains("<no value>"),
            "{name}:\n{}",
            rendered.text
        );
        // Every tainted span is a string that came from the pod.
        for span in &rendered.taint {
            let path = locate(&inputs.pod, span.origin);
            assert!(
                path.is_some(),
                "{name}: span {span:?} ({:?}) has no origin in the pod",
                &rendered.text[span.range.clone()]
            );
        }
    }
}

#[test]
fn sidecar_output_marks_the_pods_strings() {
    let (templates, values) = istio::istio_configmap();
    let template = Template::parse("sidecar", &templates["sidecar"], &istio::funcs()).unwrap();
    let inputs = istio::inputs(values);
    let rendered = template.execute(&istio::data(&inputs)).unwrap();
    let tainted: Vec<(&str, String)> = rendered
        .taint
        .iter()
        .map(|s| {
            (
                &rendered.text[s.range.clone()],
                locate(&inputs.pod, s.origin).unwrap_or_default(),
            )
        })
        .collect();
    // The canonical name comes from the `app` label; the CPU request from an annotation.
    assert!(
        tainted.contains(&("hello", "/metadata/labels/app".to_owned())),
        "{tainted:?}"
    );
    assert!(
        tainted.contains(&(
            "200m",
            "/metadata/annotations/sidecar.istio.io~1proxyCPU".to_owned()
        )),
        "{tainted:?}"
    );
    // Values and mesh config are trusted: the proxy image is not tainted.
    let image = rendered.text.find("proxyv2").unwrap();
    assert!(rendered.taint.iter().all(|s| !s.range.contains(&image)));
}
