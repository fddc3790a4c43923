//! `/v1/files`: upload (multipart), list, metadata, download, delete.

use futures::stream::BoxStream;
use rand::Rng;
use reqwest::Method;

use crate::Client;
use crate::error::Result;
use crate::http::{ApiRequest, Beta, Seg};
use crate::query::Query;
use crate::types::{Deleted, FileMetadata, ListFiles, Page, UploadFile};

pub struct Files<'c> {
    client: &'c Client,
}

const BETA: Beta = Beta::Files;

impl<'c> Files<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `POST /v1/files` as `multipart/form-data` (fields `file` and `expires_in_seconds`).
    pub async fn upload(&self, file: &UploadFile) -> Result<FileMetadata> {
        let (content_type, body) = multipart(file);
        self.client
            .call(
                ApiRequest::new(Method::POST, BETA, &[Seg::Lit("files")])?
                    .raw_body(content_type, body),
            )
            .await
    }

    pub async fn list(&self, params: &ListFiles) -> Result<Page<FileMetadata>> {
        self.client.call(list_request(params)?).await
    }

    pub fn list_all(&self, params: &ListFiles) -> BoxStream<'static, Result<FileMetadata>> {
        self.client.paginate(list_request(params))
    }

    pub async fn retrieve_metadata(&self, file_id: &str) -> Result<FileMetadata> {
        self.client.call(item(Method::GET, file_id, None)?).await
    }

    /// The file's bytes. Uploaded files are not downloadable (`file_not_downloadable`, 400);
    /// only files a tool created are.
    pub async fn download(&self, file_id: &str) -> Result<bytes::Bytes> {
        self.client
            .call_bytes(item(Method::GET, file_id, Some("content"))?)
            .await
    }

    pub async fn delete(&self, file_id: &str) -> Result<Deleted> {
        self.client.call(item(Method::DELETE, file_id, None)?).await
    }
}

fn item(method: Method, id: &str, action: Option<&str>) -> Result<ApiRequest> {
    let mut segs = vec![Seg::Lit("files"), Seg::Id("file_id", id)];
    if let Some(a) = action {
        segs.push(Seg::Lit(a));
    }
    ApiRequest::new(method, BETA, &segs)
}

fn list_request(p: &ListFiles) -> Result<ApiRequest> {
    let query = Query::new()
        .array("ids", &p.ids)
        .opt("limit", p.limit)
        .opt("page", p.page.as_deref())
        .opt("scope_id", p.scope_id.as_deref());
    Ok(ApiRequest::new(Method::GET, BETA, &[Seg::Lit("files")])?.query(query))
}

/// A header parameter value without the characters that would end it.
fn header_safe(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '\r' | '\n'))
        .map(|c| if c == '"' { '\'' } else { c })
        .collect()
}

/// The form body and its `Content-Type`. The boundary is random, and checked not to occur in
/// the file, so any bytes can be sent.
fn multipart(file: &UploadFile) -> (String, Vec<u8>) {
    let mut rng = rand::rng();
    let boundary = loop {
        let b = format!("cma-boundary-{:032x}", rng.random::<u128>());
        if !file.content.windows(b.len()).any(|w| w == b.as_bytes()) {
            break b;
        }
    };
    let mime = file
        .mime_type
        .as_deref()
        .unwrap_or("application/octet-stream");
    let mut body = Vec::with_capacity(file.content.len() + 512);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            header_safe(&file.filename),
            header_safe(mime)
        )
        .as_bytes(),
    );
    body.extend_from_slice(&file.content);
    body.extend_from_slice(b"\r\n");
    if let Some(secs) = file.expires_in_seconds {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"expires_in_seconds\"\r\n\r\n{secs}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_body_frames_the_file_and_its_fields() {
        let (ct, body) = multipart(&UploadFile {
            filename: "dir/a\"b.txt".into(),
            mime_type: Some("text/plain".into()),
            content: b"line one\r\nline two".to_vec(),
            expires_in_seconds: Some(3600),
        });
        let boundary = ct
            .strip_prefix("multipart/form-data; boundary=")
            .expect("a multipart content type");
        let text = String::from_utf8(body).expect("a text body");
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("name=\"file\"; filename=\"dir/a'b.txt\"\r\nContent-Type: text/plain\r\n\r\nline one\r\nline two\r\n"));
        assert!(text.contains("name=\"expires_in_seconds\"\r\n\r\n3600\r\n"));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }
}
