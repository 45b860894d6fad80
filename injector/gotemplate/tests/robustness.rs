//! No input makes the engine panic: random token soups and mutilated
//! copies of Istio's templates either fail with an error or render output
//! whose tainted spans are in bounds, ordered, and on char boundaries.

mod support;

use gotemplate::{Funcs, Rendered, Template, Value};
use support::istio;

/// A small deterministic generator (no dependency, same cases every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(self.0 >> 33).unwrap_or(0) % n.max(1)
    }
}

/// Pieces of actions, put between `{{ }}` at random.
const TOKENS: &[&str] = &[
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
    "$x",
    "$",
    ":=",
    "=",
    ",",
    "(",
    ")",
    ".",
    ".A",
    ".Values",
    ".Values.global",
    ".ObjectMeta",
    ".ObjectMeta.Annotations",
    ".Spec.Containers",
    ".ProxyConfig",
    ".ProxyConfig.InterceptionMode.String",
    "|",
    "\"s\"",
    "\"%d %s %v %q %5.2f %x %*d %\"",
    "`r`",
    "'c'",
    "1",
    "-1",
    "0x1F",
    "1e3",
    "2.5",
    "nil",
    "true",
    "index",
    "printf",
    "print",
    "slice",
    "len",
    "eq",
    "lt",
    "and",
    "or",
    "not",
    "quote",
    "default",
    "toJson",
    "toYaml",
    "indent",
    "nindent",
    "trunc",
    "replace",
    "list",
    "dict",
    "append",
    "split",
    "join",
    "fromJson",
    "until",
    "repeat",
    "substr",
    "html",
    "js",
    "urlquery",
    "isset",
    "annotation",
    "omit",
    "toJsonMap",
    "keys",
    "first",
    "-",
    "é",
];

/// Text and actions, with some control structure closed and some not.
fn soup(rng: &mut Lcg) -> String {
    let mut source = String::new();
    for _ in 0..1 + rng.next(8) {
        match rng.next(4) {
            0 => source.push_str(["x", " ", "\n", "é", "{", "}"][rng.next(6)]),
            1 => source
                .push_str(["{{ end }}", "{{ else }}", "{{/* c */}}", "{{- ", " -}}"][rng.next(5)]),
            _ => {
                source.push_str("{{ ");
                for _ in 0..1 + rng.next(6) {
                    source.push_str(TOKENS[rng.next(TOKENS.len())]);
                    source.push_str(if rng.next(5) == 0 { "" } else { " " });
                }
                source.push_str("}}");
            }
        }
    }
    source
}

fn check_rendered(out: &Rendered) {
    let mut end = 0;
    for span in &out.taint {
        assert!(
            span.range.start >= end
                && span.range.start < span.range.end
                && span.range.end <= out.text.len(),
            "{span:?}"
        );
        assert!(
            out.text.is_char_boundary(span.range.start)
                && out.text.is_char_boundary(span.range.end),
            "{span:?}"
        );
        end = span.range.end;
    }
}

fn run(source: &str, funcs: &Funcs, data: &Value<'_>) {
    if let Ok(template) = Template::parse("fuzz", source, funcs)
        && let Ok(out) = template.execute(data)
    {
        check_rendered(&out);
    }
}

#[test]
fn random_token_soups() {
    let (_, values) = istio::istio_configmap();
    let inputs = istio::inputs(values);
    let data = istio::data(&inputs);
    let funcs = istio::funcs();
    let mut rng = Lcg(7);
    for _ in 0..30_000 {
        run(&soup(&mut rng), &funcs, &data);
    }
}

#[test]
fn mutilated_istio_templates() {
    let (templates, values) = istio::istio_configmap();
    let inputs = istio::inputs(values);
    let data = istio::data(&inputs);
    let funcs = istio::funcs();
    let mut rng = Lcg(11);
    for text in templates.values() {
        let boundaries: Vec<usize> = (0..=text.len())
            .filter(|i| text.is_char_boundary(*i))
            .collect();
        for _ in 0..150 {
            // Cut a piece out, or paste a fragment in, somewhere.
            let a = boundaries[rng.next(boundaries.len())];
            let b = boundaries[rng.next(boundaries.len())];
            let (lo, hi) = (a.min(b), a.max(b).min(a.min(b) + 40));
            let hi = boundaries.iter().copied().rfind(|i| *i <= hi).unwrap_or(lo);
            let mutated = if rng.next(2) == 0 {
                format!("{}{}", &text[..lo], &text[hi..])
            } else {
                format!(
                    "{}{}{}",
                    &text[..lo],
                    TOKENS[rng.next(TOKENS.len())],
                    &text[lo..]
                )
            };
            run(&mutated, &funcs, &data);
        }
    }
}
