//! Hand-written documents, read by this reader and by serde-saphyr: the
//! same value, or both an error, or (where marked) a deferral.

use crate::oracle::{Verdict, compare};

/// Documents separated by `=====` lines; a first line `#unsupported` marks
/// one this reader must defer, and `<TAB>` stands for a tab.
const CASES: &str = include_str!("corpus.yamls");

#[test]
fn the_corpus_agrees_with_the_reference() {
    let mut failures = Vec::new();
    let mut deferred = Vec::new();
    for case in CASES.strip_suffix('\n').unwrap_or(CASES).split("\n=====\n") {
        let (expect_deferral, text) = match case.strip_prefix("#unsupported\n") {
            Some(text) => (true, text),
            None => (false, case),
        };
        let text = format!("{}\n", text.replace("<TAB>", "\t"));
        match compare(&text).map(|verdicts| verdicts.one) {
            Ok(Verdict::Deferred) if !expect_deferral => deferred.push(format!("{text:?}")),
            Ok(v) if expect_deferral && v != Verdict::Deferred => {
                failures.push(format!("{text:?}: expected a deferral, got {v:?}"))
            }
            Ok(_) => {}
            Err(e) => failures.push(e),
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        deferred.is_empty(),
        "unexpected deferrals:\n{}",
        deferred.join("\n")
    );
}

#[test]
fn the_benchmark_sidecar_agrees_with_the_reference() {
    let text = include_str!("../../benches/sidecar.yaml");
    assert_eq!(
        compare(text).map(|verdicts| verdicts.one),
        Ok(Verdict::Same)
    );
}
