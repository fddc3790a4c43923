//! `/v1/sessions/{session_id}/events`: send, list and stream.

use std::time::Instant;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use reqwest::Method;

use crate::Client;
use crate::error::{Error, Result};
use crate::http::{ApiRequest, api_error};
use crate::query::Query;
use crate::sse::{FrameKind, SseDecoder, SseFrame};
use crate::types::{
    ClientEvent, ListEvents, Page, SendEvents, SentEvents, SessionEvent, StreamEvents, UserMessage,
};

pub struct Events<'c> {
    client: &'c Client,
}

impl<'c> Events<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// Sends events; the response echoes them with their ids.
    pub async fn send(&self, session_id: &str, events: Vec<ClientEvent>) -> Result<SentEvents> {
        let req =
            super::item(Method::POST, session_id, Some("events"))?.json(&SendEvents { events })?;
        self.client.call(req).await
    }

    /// Sends one `user.message` with a single text block.
    pub async fn send_text(&self, session_id: &str, text: &str) -> Result<SentEvents> {
        self.send(
            session_id,
            vec![ClientEvent::UserMessage(UserMessage::text(text))],
        )
        .await
    }

    /// Stored events, oldest first by default.
    pub async fn list(&self, session_id: &str, params: &ListEvents) -> Result<Page<SessionEvent>> {
        self.client.call(list_request(session_id, params)?).await
    }

    pub fn list_all(
        &self,
        session_id: &str,
        params: &ListEvents,
    ) -> BoxStream<'static, Result<SessionEvent>> {
        self.client.paginate(list_request(session_id, params))
    }

    /// Opens the live event stream. It carries only events emitted after it opens: open it
    /// *before* sending a `user.message` (see [`crate::turn`]).
    pub async fn stream(&self, session_id: &str, params: &StreamEvents) -> Result<EventStream> {
        let req = super::item(Method::GET, session_id, Some("events"))?;
        let req = ApiRequest {
            path: format!("{}/stream", req.path),
            ..req
        }
        .query(Query::new().array("event_deltas", &params.event_deltas));
        let resp = self.client.open_stream(req).await?;
        Ok(EventStream::new(resp.bytes_stream().boxed()))
    }
}

fn list_request(session_id: &str, p: &ListEvents) -> Result<ApiRequest> {
    let query = Query::new()
        .array("types", &p.types)
        .time("created_at[gt]", p.created_at_gt)
        .time("created_at[gte]", p.created_at_gte)
        .time("created_at[lt]", p.created_at_lt)
        .time("created_at[lte]", p.created_at_lte)
        .opt("order", p.order.map(|o| o.as_str()))
        .opt("limit", p.limit)
        .opt("page", p.page.as_deref());
    Ok(super::item(Method::GET, session_id, Some("events"))?.query(query))
}

/// A session's live events, decoded from SSE.
///
/// Frames are handled as the official SDK handles them: `ping` and frames with empty data are
/// skipped, frames without an `event:` line are dropped, an `error` frame becomes an
/// [`Error::Api`] item (status 200, as the SDK reports it), and every other frame is typed by its
/// JSON `type` field. A frame that is not valid JSON yields an [`Error::Decode`] item and the
/// stream goes on. The stream ends when the server closes it.
pub struct EventStream {
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    decoder: SseDecoder,
    ended: bool,
    bytes_received: u64,
    first_byte_since_mark: Option<Instant>,
}

impl EventStream {
    /// Wraps any byte stream (used by tests and benches to decode canned bytes).
    pub fn new(body: BoxStream<'static, reqwest::Result<Bytes>>) -> Self {
        Self {
            body,
            decoder: SseDecoder::new(),
            ended: false,
            bytes_received: 0,
            first_byte_since_mark: None,
        }
    }

    /// Forgets when the last byte arrived, so [`EventStream::first_byte_since_mark`] measures from now.
    pub fn mark(&mut self) {
        self.first_byte_since_mark = None;
    }

    /// When the first chunk after the last [`EventStream::mark`] arrived.
    pub fn first_byte_since_mark(&self) -> Option<Instant> {
        self.first_byte_since_mark
    }

    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    /// The next event, or `None` once the server has closed the stream.
    pub async fn next_event(&mut self) -> Option<Result<SessionEvent>> {
        loop {
            while let Some(frame) = self.decoder.next_frame_ref() {
                if let Some(item) = dispatch_kind(frame.kind()) {
                    return Some(item);
                }
            }
            if self.ended {
                return self.decoder.finish().and_then(|f| dispatch(&f));
            }
            match self.body.next().await {
                Some(Ok(chunk)) => {
                    if self.first_byte_since_mark.is_none() {
                        self.first_byte_since_mark = Some(Instant::now());
                    }
                    self.bytes_received += chunk.len() as u64;
                    self.decoder.feed(&chunk);
                }
                Some(Err(e)) => {
                    self.ended = true;
                    return Some(Err(Error::Stream(format!("connection lost: {e}"))));
                }
                None => self.ended = true,
            }
        }
    }

    /// As a `futures::Stream`.
    pub fn into_stream(self) -> BoxStream<'static, Result<SessionEvent>> {
        futures::stream::unfold(self, |mut s| async move {
            s.next_event().await.map(|item| (item, s))
        })
        .boxed()
    }
}

/// Applies the SDK's dispatch rules to one frame; `None` means the frame is skipped.
pub fn dispatch(frame: &SseFrame) -> Option<Result<SessionEvent>> {
    dispatch_kind(frame.kind())
}

/// [`dispatch`] for a frame already classified (as [`crate::sse::SseFrameRef::kind`] does, for a
/// frame read without allocating).
pub fn dispatch_kind(kind: FrameKind<'_>) -> Option<Result<SessionEvent>> {
    match kind {
        FrameKind::Ping | FrameKind::NoEventName | FrameKind::EmptyData => None,
        FrameKind::Error(data) => {
            let status = reqwest::StatusCode::OK;
            Some(Err(Error::Api(Box::new(api_error(
                status,
                &reqwest::header::HeaderMap::new(),
                data.as_bytes(),
            )))))
        }
        FrameKind::Event { name, data } => Some(
            serde_json::from_str::<SessionEvent>(data)
                .map_err(|e| Error::decode(format!("stream event `{name}`"), e, data.as_bytes())),
        ),
    }
}
