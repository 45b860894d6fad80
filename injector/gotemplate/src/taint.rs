//! Taint: which bytes of a string (and so of the rendered output) came from
//! data the caller does not trust (the pod's labels, annotations, names...).
//!
//! The engine checks on the rendered text that such bytes never change the
//! structure of the YAML; to do so it needs their exact byte ranges and a way
//! back to the source. A [`Str`] carries its own spans; [`StrBuf`] builds new
//! strings piece by piece and keeps every piece's spans at their new offsets.

use std::ops::Range;
use std::rc::Rc;

/// Where tainted bytes came from, as an opaque number the caller resolves.
///
/// For JSON data marked tainted it is the address of the string node (or of
/// a map key's text); [`crate::locate`] turns it back into a JSON pointer.
/// Callers tainting their own values pick any number with [`Origin::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin(usize);

impl Origin {
    /// A caller-chosen origin (an index into the caller's own table, say).
    pub const fn new(id: usize) -> Self {
        Self(id)
    }

    /// The origin of a JSON string node: its address.
    pub fn of_node(node: &serde_json::Value) -> Self {
        Self(std::ptr::from_ref(node) as usize)
    }

    /// The origin of a JSON object key: the address of its text.
    pub fn of_key(key: &str) -> Self {
        Self(key.as_ptr() as usize)
    }

    /// The number inside.
    pub const fn id(self) -> usize {
        self.0
    }
}

/// A tainted byte range of a string or of the rendered output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub range: Range<usize>,
    pub origin: Origin,
}

/// The taint of one string: none (the common case, free), all of it from one
/// origin (a string read from tainted JSON), or exact spans.
#[derive(Clone, Debug, Default)]
pub enum Taint {
    #[default]
    Clean,
    Whole(Origin),
    Spans(Rc<[Span]>),
}

#[derive(Clone, Debug)]
enum Text<'a> {
    Borrowed(&'a str),
    Owned(Rc<str>),
}

/// A string value with its taint. Borrowed from the data or the template when
/// it can be, shared (`Rc`) when a function built it.
#[derive(Clone, Debug)]
pub struct Str<'a> {
    text: Text<'a>,
    taint: Taint,
}

impl<'a> Str<'a> {
    /// An untainted borrowed string.
    pub const fn borrowed(text: &'a str) -> Self {
        Self {
            text: Text::Borrowed(text),
            taint: Taint::Clean,
        }
    }

    /// An untainted owned string.
    pub fn owned(text: impl Into<Rc<str>>) -> Self {
        Self {
            text: Text::Owned(text.into()),
            taint: Taint::Clean,
        }
    }

    /// A borrowed string, all of it tainted from `origin`.
    pub const fn tainted(text: &'a str, origin: Origin) -> Self {
        Self {
            text: Text::Borrowed(text),
            taint: Taint::Whole(origin),
        }
    }

    /// The same text with all of it tainted from `origin`.
    #[must_use]
    pub fn with_origin(self, origin: Option<Origin>) -> Self {
        match origin {
            Some(origin) => Self {
                text: self.text,
                taint: Taint::Whole(origin),
            },
            None => self,
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.text {
            Text::Borrowed(s) => s,
            Text::Owned(s) => s,
        }
    }

    pub fn taint(&self) -> &Taint {
        &self.taint
    }

    pub fn is_tainted(&self) -> bool {
        match &self.taint {
            Taint::Clean => false,
            Taint::Whole(_) => !self.as_str().is_empty(),
            Taint::Spans(spans) => !spans.is_empty(),
        }
    }

    /// The first origin of any tainted byte: what a function whose output
    /// cannot be mapped byte by byte taints its whole output with.
    pub fn first_origin(&self) -> Option<Origin> {
        match &self.taint {
            Taint::Clean => None,
            Taint::Whole(origin) => Some(*origin).filter(|_| !self.as_str().is_empty()),
            Taint::Spans(spans) => spans.first().map(|s| s.origin),
        }
    }

    /// The tainted spans, relative to this string.
    pub fn spans(&self) -> impl Iterator<Item = Span> + '_ {
        let whole = match &self.taint {
            Taint::Whole(origin) if !self.as_str().is_empty() => Some(Span {
                range: 0..self.as_str().len(),
                origin: *origin,
            }),
            _ => None,
        };
        let listed = match &self.taint {
            Taint::Spans(spans) => &spans[..],
            _ => &[],
        };
        whole.into_iter().chain(listed.iter().cloned())
    }

    /// A byte range of this string, keeping the taint of those bytes (empty
    /// if the range is not on char boundaries). Borrowed strings stay borrowed.
    #[must_use]
    pub fn slice(&self, range: Range<usize>) -> Self {
        if range.start == 0 && range.end == self.as_str().len() {
            return self.clone();
        }
        let Some(part) = self.as_str().get(range.clone()) else {
            return Str::borrowed("");
        };
        let text = match &self.text {
            Text::Borrowed(s) => Text::Borrowed(s.get(range.clone()).unwrap_or("")),
            Text::Owned(_) => Text::Owned(part.into()),
        };
        let taint = match &self.taint {
            Taint::Clean => Taint::Clean,
            Taint::Whole(origin) => Taint::Whole(*origin),
            Taint::Spans(spans) => spans_in(spans, &range),
        };
        Self { text, taint }
    }

    /// Maps the string through a per-character transformation (escaping, case
    /// change) that `f` applies to one run of equally tainted bytes at a time,
    /// so that the output keeps exact taint.
    #[must_use]
    pub fn map_runs(&self, f: impl Fn(&str, &mut String)) -> Str<'static> {
        let mut out = StrBuf::new();
        out.push_mapped(self, f);
        out.finish()
    }
}

fn spans_in(spans: &[Span], range: &Range<usize>) -> Taint {
    let inside: Vec<Span> = spans
        .iter()
        .filter(|s| s.range.end > range.start && s.range.start < range.end)
        .map(|s| Span {
            range: s.range.start.max(range.start) - range.start
                ..s.range.end.min(range.end) - range.start,
            origin: s.origin,
        })
        .collect();
    if inside.is_empty() {
        Taint::Clean
    } else {
        Taint::Spans(inside.into())
    }
}

impl PartialEq for Str<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for Str<'_> {}
impl PartialOrd for Str<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Str<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}
impl std::borrow::Borrow<str> for Str<'_> {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

/// A growing string that records which of its bytes are tainted. The
/// renderer writes its output into one; functions use one to build results.
#[derive(Debug, Default)]
pub struct StrBuf {
    text: String,
    spans: Vec<Span>,
}

impl StrBuf {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            text: String::with_capacity(capacity),
            spans: Vec::new(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Appends untainted text.
    pub fn push_str(&mut self, text: &str) {
        self.text.push_str(text);
    }

    pub fn push_char(&mut self, c: char) {
        self.text.push(c);
    }

    /// Appends text tainted from `origin` (or clean text if `None`).
    pub fn push_from(&mut self, text: &str, origin: Option<Origin>) {
        let start = self.text.len();
        self.text.push_str(text);
        if let Some(origin) = origin {
            self.mark(start..self.text.len(), origin);
        }
    }

    /// Appends a string with its taint.
    pub fn push(&mut self, s: &Str<'_>) {
        let base = self.text.len();
        self.text.push_str(s.as_str());
        for span in s.spans() {
            self.mark(base + span.range.start..base + span.range.end, span.origin);
        }
    }

    /// Appends `s` mapped run by run through `f` (see [`Str::map_runs`]).
    pub fn push_mapped(&mut self, s: &Str<'_>, f: impl Fn(&str, &mut String)) {
        if !s.is_tainted() {
            f(s.as_str(), &mut self.text);
            return;
        }
        let text = s.as_str();
        let mut at = 0;
        for span in s.spans() {
            f(text.get(at..span.range.start).unwrap_or(""), &mut self.text);
            let start = self.text.len();
            f(text.get(span.range.clone()).unwrap_or(""), &mut self.text);
            self.mark(start..self.text.len(), span.origin);
            at = span.range.end;
        }
        f(text.get(at..).unwrap_or(""), &mut self.text);
    }

    /// Marks bytes already written as tainted, merging with the previous span
    /// when it is adjacent and from the same origin.
    fn mark(&mut self, range: Range<usize>, origin: Origin) {
        if range.is_empty() {
            return;
        }
        if let Some(last) = self.spans.last_mut()
            && last.origin == origin
            && last.range.end == range.start
        {
            last.range.end = range.end;
            return;
        }
        self.spans.push(Span { range, origin });
    }

    /// The string built, as a value.
    pub fn finish(self) -> Str<'static> {
        let taint = match self.spans.as_slice() {
            [] => Taint::Clean,
            [only] if only.range == (0..self.text.len()) => Taint::Whole(only.origin),
            _ => Taint::Spans(self.spans.into()),
        };
        Str {
            text: Text::Owned(self.text.into()),
            taint,
        }
    }

    /// The text and its tainted spans, sorted by offset.
    pub fn into_parts(self) -> (String, Vec<Span>) {
        (self.text, self.spans)
    }
}

impl std::fmt::Write for StrBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.text.push_str(s);
        Ok(())
    }
}

/// Finds the JSON node (or object key) an [`Origin`] taken from `root` points
/// at, as a JSON pointer (RFC 6901); a key's pointer is its entry's pointer.
pub fn locate(root: &serde_json::Value, origin: Origin) -> Option<String> {
    fn walk(node: &serde_json::Value, origin: Origin, path: &mut String) -> bool {
        if Origin::of_node(node) == origin {
            return true;
        }
        let len = path.len();
        match node {
            serde_json::Value::Object(map) => {
                for (key, child) in map {
                    push_token(path, key);
                    if Origin::of_key(key) == origin && !key.is_empty() || walk(child, origin, path)
                    {
                        return true;
                    }
                    path.truncate(len);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    path.push('/');
                    path.push_str(&i.to_string());
                    if walk(child, origin, path) {
                        return true;
                    }
                    path.truncate(len);
                }
            }
            _ => {}
        }
        false
    }
    fn push_token(path: &mut String, key: &str) {
        path.push('/');
        path.push_str(&key.replace('~', "~0").replace('/', "~1"));
    }
    let mut path = String::new();
    walk(root, origin, &mut path).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(n: usize) -> Origin {
        Origin::new(n)
    }

    #[test]
    fn buffer_merges_adjacent_spans_of_one_origin() {
        let mut buf = StrBuf::new();
        buf.push_str("a: ");
        buf.push(&Str::tainted("xy", o(1)));
        buf.push(&Str::tainted("z", o(1)));
        buf.push(&Str::tainted("w", o(2)));
        let (text, spans) = buf.into_parts();
        assert_eq!(text, "a: xyzw");
        assert_eq!(
            spans,
            vec![
                Span {
                    range: 3..6,
                    origin: o(1)
                },
                Span {
                    range: 6..7,
                    origin: o(2)
                }
            ]
        );
    }

    #[test]
    fn slicing_keeps_the_taint_of_the_bytes_kept() {
        let mut buf = StrBuf::new();
        buf.push_str("ab");
        buf.push(&Str::tainted("cd", o(7)));
        buf.push_str("ef");
        let s = buf.finish();
        let cut = s.slice(1..4);
        assert_eq!(cut.as_str(), "bcd");
        assert_eq!(
            cut.spans().collect::<Vec<_>>(),
            vec![Span {
                range: 1..3,
                origin: o(7)
            }]
        );
        assert!(!s.slice(4..6).is_tainted());
    }

    #[test]
    fn mapping_runs_taints_exactly_the_mapped_bytes() {
        let mut buf = StrBuf::new();
        buf.push_str("a\"");
        buf.push(&Str::tainted("\"b", o(3)));
        let s = buf.finish();
        let escaped = s.map_runs(|run, out| {
            for c in run.chars() {
                if c == '"' {
                    out.push('\\');
                }
                out.push(c);
            }
        });
        assert_eq!(escaped.as_str(), "a\\\"\\\"b");
        assert_eq!(
            escaped.spans().collect::<Vec<_>>(),
            vec![Span {
                range: 3..6,
                origin: o(3)
            }]
        );
    }

    #[test]
    fn locate_finds_nodes_and_keys() {
        let root = serde_json::json!({"metadata": {"labels": {"a/b": "x"}}, "list": ["y"]});
        let label = &root["metadata"]["labels"]["a/b"];
        assert_eq!(
            locate(&root, Origin::of_node(label)).as_deref(),
            Some("/metadata/labels/a~1b")
        );
        let key = root["metadata"]["labels"]
            .as_object()
            .and_then(|m| m.keys().next())
            .unwrap();
        assert_eq!(
            locate(&root, Origin::of_key(key)).as_deref(),
            Some("/metadata/labels/a~1b")
        );
        assert_eq!(
            locate(&root, Origin::of_node(&root["list"][0])).as_deref(),
            Some("/list/0")
        );
        assert_eq!(locate(&root, Origin::new(1)), None);
    }
}
