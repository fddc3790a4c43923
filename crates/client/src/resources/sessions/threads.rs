//! `/v1/sessions/{session_id}/threads`: a session's threads, and each thread's events.

use futures::stream::{BoxStream, StreamExt};
use reqwest::Method;

use super::events::EventStream;
use crate::Client;
use crate::error::Result;
use crate::http::{ApiRequest, Beta, Seg};
use crate::query::Query;
use crate::types::{
    ListThreadEvents, ListThreads, Page, SessionEvent, SessionStatus, SessionThread, StreamEvents,
};

pub struct Threads<'c> {
    client: &'c Client,
}

impl<'c> Threads<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `/v1/sessions/{id}/threads/{thread_id}/events` and `/stream`.
    pub fn events(&self) -> ThreadEvents<'c> {
        ThreadEvents {
            client: self.client,
        }
    }

    pub async fn list(
        &self,
        session_id: &str,
        params: &ListThreads,
    ) -> Result<Page<SessionThread>> {
        self.client.call(list_request(session_id, params)?).await
    }

    pub fn list_all(
        &self,
        session_id: &str,
        params: &ListThreads,
    ) -> BoxStream<'static, Result<SessionThread>> {
        self.client.paginate(list_request(session_id, params))
    }

    pub async fn retrieve(&self, session_id: &str, thread_id: &str) -> Result<SessionThread> {
        self.client
            .call(thread(Method::GET, session_id, thread_id, None)?)
            .await
    }

    /// Archiving a `running` thread is a 400.
    pub async fn archive(&self, session_id: &str, thread_id: &str) -> Result<SessionThread> {
        self.client
            .call(thread(
                Method::POST,
                session_id,
                thread_id,
                Some("archive"),
            )?)
            .await
    }
}

pub struct ThreadEvents<'c> {
    client: &'c Client,
}

impl ThreadEvents<'_> {
    /// The thread's stored events, oldest first.
    pub async fn list(
        &self,
        session_id: &str,
        thread_id: &str,
        params: &ListThreadEvents,
    ) -> Result<Page<SessionEvent>> {
        let req = events_request(session_id, thread_id, params)?;
        self.client.call(req).await
    }

    pub fn list_all(
        &self,
        session_id: &str,
        thread_id: &str,
        params: &ListThreadEvents,
    ) -> BoxStream<'static, Result<SessionEvent>> {
        self.client
            .paginate(events_request(session_id, thread_id, params))
    }

    /// The thread's live events. Like the session stream it carries only events emitted after it
    /// opens.
    pub async fn stream(
        &self,
        session_id: &str,
        thread_id: &str,
        params: &StreamEvents,
    ) -> Result<EventStream> {
        let req = thread(Method::GET, session_id, thread_id, Some("stream"))?
            .query(Query::new().array("event_deltas", &params.event_deltas));
        let resp = self.client.open_stream(req).await?;
        Ok(EventStream::new(resp.bytes_stream().boxed()))
    }
}

fn thread(
    method: Method,
    session_id: &str,
    thread_id: &str,
    action: Option<&str>,
) -> Result<ApiRequest> {
    let mut segs = vec![
        Seg::Lit("sessions"),
        Seg::Id("session_id", session_id),
        Seg::Lit("threads"),
        Seg::Id("thread_id", thread_id),
    ];
    if let Some(a) = action {
        segs.push(Seg::Lit(a));
    }
    ApiRequest::new(method, Beta::ManagedAgents, &segs)
}

fn list_request(session_id: &str, p: &ListThreads) -> Result<ApiRequest> {
    let statuses: Vec<&str> = p.statuses.iter().map(SessionStatus::as_str).collect();
    let query = Query::new()
        .array("statuses", &statuses)
        .opt("limit", p.limit)
        .opt("page", p.page.as_deref());
    let segs = [
        Seg::Lit("sessions"),
        Seg::Id("session_id", session_id),
        Seg::Lit("threads"),
    ];
    Ok(ApiRequest::new(Method::GET, Beta::ManagedAgents, &segs)?.query(query))
}

fn events_request(session_id: &str, thread_id: &str, p: &ListThreadEvents) -> Result<ApiRequest> {
    let query = Query::new()
        .opt("limit", p.limit)
        .opt("page", p.page.as_deref());
    Ok(thread(Method::GET, session_id, thread_id, Some("events"))?.query(query))
}
