//! A stream of documents, separated by `---` and ended by `...` markers.

use serde_json::Value;

use crate::block::Slot;
use crate::error::{Result, limit, syntax, unsupported};
use crate::parser::{MAX_DOCUMENTS, Parser};

impl Parser<'_> {
    /// Reads every document of the stream, empty ones included; with
    /// `only_one`, a second document is an error.
    pub(crate) fn stream(&mut self, only_one: bool) -> Result<Vec<Value>> {
        let mut documents = Vec::new();
        self.skip_to_content_line()?;
        while self.pos < self.bytes.len() {
            if self.at_marker(b"...") {
                self.pos += 3;
                self.finish_line("text after a document end marker")?;
                continue;
            }
            if self.column() == 0 && self.peek() == Some(b'%') {
                return unsupported(self.pos, "a directive (%)");
            }
            if only_one && !documents.is_empty() {
                return syntax(self.pos, "a second document where one was expected");
            }
            if documents.len() == MAX_DOCUMENTS {
                return limit(self.pos, "documents in a stream", MAX_DOCUMENTS);
            }
            let document = if self.at_marker(b"---") {
                self.pos += 3;
                self.node_after_indicator(-1, Slot::Document)?
            } else {
                self.node_at_line_start(-1)?
            };
            documents.push(document);
            if self.pos < self.bytes.len() && !self.at_document_marker() {
                return syntax(self.pos, "this line is not part of the document above it");
            }
        }
        Ok(documents)
    }

    fn at_marker(&self, marker: &[u8; 3]) -> bool {
        self.at_document_marker() && self.bytes[self.pos..].starts_with(marker)
    }
}
