//! A small, strict parser of the Prometheus / OpenMetrics text exposition,
//! so the tests read `/metrics` as a scraper would instead of grepping it:
//! any malformed line, a sample of an undeclared family or a repeated
//! series fails the parse.

use std::collections::{BTreeMap, HashMap};

/// Series name and labels.
pub type Series = (String, BTreeMap<String, String>);

/// One parsed scrape: each series' value and each family's type.
#[derive(Debug, Default)]
pub struct Scrape {
    pub samples: HashMap<Series, f64>,
    pub types: HashMap<String, String>,
}

impl Scrape {
    /// The value of series `name{labels}`, if exposed.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples.get(&(name.to_string(), labels)).copied()
    }

    /// Like [`get`](Self::get), with an absent series read as 0 (a
    /// labelled counter appears on its first increment).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or(0.0)
    }
}

/// The suffixes a sample name may add to its family's name.
const SUFFIXES: [&str; 7] = [
    "", "_total", "_bucket", "_count", "_sum", "_created", "_info",
];

/// Parses `text`; the error names the offending line.
pub fn parse(text: &str) -> Result<Scrape, String> {
    let mut scrape = Scrape::default();
    for (number, line) in text.lines().enumerate() {
        let fail = |why: &str| format!("line {}: {why}: {line:?}", number + 1);
        if line == "# EOF" {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            let (kind, name) = (
                words.next(),
                words.next().ok_or_else(|| fail("bare comment"))?,
            );
            if !is_name(name) {
                return Err(fail("bad metric name"));
            }
            match kind {
                Some("TYPE") => {
                    let ty = words.next().ok_or_else(|| fail("TYPE without a type"))?;
                    let known = [
                        "counter",
                        "gauge",
                        "histogram",
                        "summary",
                        "info",
                        "stateset",
                        "gaugehistogram",
                        "unknown",
                        "untyped",
                    ];
                    if !known.contains(&ty) {
                        return Err(fail("unknown type"));
                    }
                    if scrape
                        .types
                        .insert(name.to_string(), ty.to_string())
                        .is_some()
                    {
                        return Err(fail("family declared twice"));
                    }
                }
                Some("HELP" | "UNIT") => {}
                _ => return Err(fail("unknown comment")),
            }
            continue;
        }
        let (series, value) = sample(line).ok_or_else(|| fail("malformed sample"))?;
        let declared = SUFFIXES.iter().any(|suffix| {
            series
                .0
                .strip_suffix(suffix)
                .is_some_and(|family| scrape.types.contains_key(family))
        });
        if !declared {
            return Err(fail("sample of an undeclared family"));
        }
        if scrape.samples.insert(series, value).is_some() {
            return Err(fail("series repeated"));
        }
    }
    Ok(scrape)
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `name{k="v",...} value [timestamp]`.
fn sample(line: &str) -> Option<(Series, f64)> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    if !is_name(name) {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(body) = rest.strip_prefix('{') {
        rest = body;
        while !rest.starts_with('}') {
            let (key, after) = rest.split_once("=\"")?;
            if !is_name(key) || key.contains(':') {
                return None;
            }
            let (value, after) = label_value(after)?;
            if labels.insert(key.to_string(), value).is_some() {
                return None;
            }
            rest = after.strip_prefix(',').unwrap_or(after);
        }
        rest = &rest[1..];
    }
    let mut fields = rest.strip_prefix(' ')?.split(' ');
    let value = number(fields.next()?)?;
    if let Some(timestamp) = fields.next() {
        number(timestamp)?;
    }
    fields
        .next()
        .is_none()
        .then(|| ((name.to_string(), labels), value))
}

/// A quoted label value up to its closing quote, unescaped; and the rest.
fn label_value(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                c @ ('\\' | '"') => value.push(c),
                _ => return None,
            },
            '\n' => return None,
            c => value.push(c),
        }
    }
    None
}

fn number(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => text.parse().ok().filter(|v: &f64| v.is_finite()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_families_labels_and_escapes() {
        let text = "# HELP a_total Things.\n# TYPE a_total counter\na_total{reason=\"x\\\"y\"} 3\n\
                    # TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.5\nh_count 2\n# EOF\n";
        let scrape = parse(text).unwrap();
        assert_eq!(scrape.get("a_total", &[("reason", "x\"y")]), Some(3.0));
        assert_eq!(scrape.get("h_bucket", &[("le", "+Inf")]), Some(2.0));
        assert_eq!(scrape.value("h_count", &[]), 2.0);
        assert_eq!(scrape.value("a_total", &[("reason", "z")]), 0.0);
    }

    #[test]
    fn rejects_what_a_scraper_would() {
        for bad in [
            "x 1\n",                                  // undeclared
            "# TYPE x gauge\nx{a=\"1\" 1\n",          // unclosed labels
            "# TYPE x gauge\nx one\n",                // not a number
            "# TYPE x gauge\nx 1\nx 2\n",             // repeated
            "# TYPE x gauge\nx{a=\"1\",a=\"2\"} 1\n", // duplicate label
            "# TYPE 1x gauge\n",                      // bad name
            "# TYPE x gauge\nx 1 2 3\n",              // trailing field
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
