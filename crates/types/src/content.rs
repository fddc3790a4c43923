//! Content blocks carried by messages and tool results.

use serde::{Deserialize, Serialize};

use crate::open_union;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextBlock {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Base64Source {
    pub media_type: String,
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlSource {
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSource {
    pub file_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlainTextSource {
    pub media_type: String,
    pub data: String,
}

open_union! {
    /// Where an image or document comes from.
    pub enum MediaSource {
        "base64" => Base64(Base64Source),
        "url" => Url(UrlSource),
        "file" => File(FileSource),
        "text" => Text(PlainTextSource),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageBlock {
    pub source: MediaSource,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentBlock {
    pub source: MediaSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResultBlock {
    pub source: String,
    pub title: String,
    #[serde(default)]
    pub content: Vec<TextOnly>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citations: Option<serde_json::Value>,
}

/// Stands in for withheld content.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RedactedBlock {}

open_union! {
    /// A block of message or tool-result content.
    pub enum ContentBlock {
        "text" => Text(TextBlock),
        "image" => Image(ImageBlock),
        "document" => Document(DocumentBlock),
        "search_result" => SearchResult(SearchResultBlock),
        "redacted" => Redacted(RedactedBlock),
    }
}

open_union! {
    /// A text-only block list item (`system.message`, search-result bodies).
    pub enum TextOnly {
        "text" => Text(TextBlock),
    }
}

impl ContentBlock {
    pub fn text(text: impl Into<String>) -> Self {
        ContentBlock::Text(TextBlock { text: text.into() })
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            ContentBlock::Text(t) => Some(&t.text),
            _ => None,
        }
    }
}

/// The concatenated text of a block list.
pub fn joined_text(blocks: &[ContentBlock]) -> String {
    blocks
        .iter()
        .filter_map(ContentBlock::as_text)
        .collect::<Vec<_>>()
        .join("")
}
