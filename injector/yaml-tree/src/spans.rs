//! Where scalar content lies in the source, and the question a template
//! engine asks of it: did this interpolated text stay inside one scalar?

use std::ops::Range;

/// The byte ranges of every scalar's content, in source order.
///
/// A scalar's content is, for a plain scalar, its text from first to last
/// character (line breaks and indentation between its lines included); for a
/// quoted one, everything between the quotes; for a block scalar (`|`, `>`),
/// its lines after the header, up to the end of its last non-empty line.
/// Keys are scalars too. An empty node (`key:` with nothing after it) has an
/// empty range where its content would start. Indicators, quotes, comments
/// and the whitespace between tokens are in no range.
///
/// Ranges never overlap and are sorted, so a lookup is a binary search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spans(Vec<Range<usize>>);

impl Spans {
    pub(crate) fn new(ranges: Vec<Range<usize>>) -> Self {
        Self(ranges)
    }

    /// All ranges, sorted by start.
    pub fn as_slice(&self) -> &[Range<usize>] {
        &self.0
    }

    /// The content range of the scalar that holds all of `range`, if one does.
    ///
    /// This is the structure-safety check: text a template pasted into the
    /// source at `range` could not add a key, an item or a document if its
    /// bytes all lie inside one scalar's content. An empty `range` is held by
    /// a scalar whose content starts at, ends at or surrounds its position.
    pub fn scalar_holding(&self, range: Range<usize>) -> Option<Range<usize>> {
        // The last scalar starting at or before the range is the only one
        // that can hold it: the next one starts after the range does.
        let after = self.0.partition_point(|s| s.start <= range.start);
        let candidate = self.0[..after].last()?;
        (range.end <= candidate.end && range.start <= range.end).then(|| candidate.clone())
    }

    /// Whether all of `range` lies inside one scalar's content.
    pub fn holds(&self, range: Range<usize>) -> bool {
        self.scalar_holding(range).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_one_scalar_holding_a_range() {
        let spans = Spans::new(vec![0..3, 5..5, 7..12, 12..14]);
        assert_eq!(spans.scalar_holding(0..3), Some(0..3));
        assert_eq!(spans.scalar_holding(1..2), Some(0..3));
        assert_eq!(spans.scalar_holding(8..12), Some(7..12));
        assert_eq!(spans.scalar_holding(12..13), Some(12..14));
        assert!(spans.holds(5..5));
        // Crossing from one scalar into the next, or into the gap, is not held.
        assert!(!spans.holds(2..4));
        assert!(!spans.holds(10..13));
        assert!(!spans.holds(3..4));
        assert!(!spans.holds(14..15));
        assert!(!Spans::default().holds(0..0));
    }
}
