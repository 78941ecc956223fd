//! The listener the API is served on. hyper answers a request it cannot parse (a URI over its
//! limit, a header with a control character, too many header bytes) itself, before any handler
//! runs, with a status line and no body. Every error a client can provoke should be a JSON:API
//! document with a code, so the connection's writes are watched for exactly those answers and
//! each is sent with a body instead. hyper's limits stay as they are.

use crate::jsonapi::MEDIA_TYPE;
use axum::serve::Listener;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections answer hyper's parse errors with JSON:API bodies.
pub struct JsonApiListener(pub TcpListener);

impl Listener for JsonApiListener {
    type Io = JsonApiErrors<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = Listener::accept(&mut self.0).await;
        (JsonApiErrors::new(stream), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Listener::local_addr(&self.0)
    }
}

/// A connection whose bodiless parse-error answers from hyper are rewritten with a body.
pub struct JsonApiErrors<S> {
    inner: S,
    /// The rewritten answer being written, and how much of it is out.
    rewriting: Option<(Vec<u8>, usize)>,
}

impl<S> JsonApiErrors<S> {
    pub fn new(inner: S) -> Self {
        Self { inner, rewriting: None }
    }
}

/// The answer to send instead of `head`, when `head` is one of hyper's automatic answers to a
/// request it could not parse: 400, 414 or 431, `connection: close`, `content-length: 0`. The
/// API never answers an error without a body, so nothing of its own matches.
fn rewrite(head: &[u8]) -> Option<Vec<u8>> {
    if !head.starts_with(b"HTTP/1.1 4") || !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let status = lines.next()?;
    let headers: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    let only = |name: &str| headers.iter().any(|h| h.eq_ignore_ascii_case(name));
    if !only("connection: close") || !only("content-length: 0") || headers.len() != 3 {
        return None;
    }
    let date = headers.iter().find(|h| h.to_ascii_lowercase().starts_with("date:"))?;
    let (title, detail, code) = match status {
        "HTTP/1.1 400 Bad Request" => (
            "Bad request",
            "The request line or a header could not be parsed",
            "REQUEST_INVALID",
        ),
        "HTTP/1.1 414 URI Too Long" => ("URI too long", "The request URI is too long", "URI_TOO_LONG"),
        "HTTP/1.1 431 Request Header Fields Too Large" => (
            "Request header fields too large",
            "The request's headers are too large",
            "HEADERS_TOO_LARGE",
        ),
        _ => return None,
    };
    let body = serde_json::json!({
        "meta": { "id": null },
        "errors": [{ "title": title, "detail": detail, "code": code }],
    })
    .to_string();
    Some(
        format!(
            "{status}\r\nconnection: close\r\ncontent-type: {MEDIA_TYPE}\r\ncontent-length: {}\r\n{date}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonApiErrors<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonApiErrors<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.rewriting.is_none() {
            match rewrite(buf) {
                Some(answer) => this.rewriting = Some((answer, 0)),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        if let Some((answer, written)) = this.rewriting.as_mut() {
            while *written < answer.len() {
                match ready!(Pin::new(&mut this.inner).poll_write(cx, &answer[*written..])) {
                    Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Ok(n) => *written += n,
                    Err(err) => return Poll::Ready(Err(err)),
                }
            }
        }
        this.rewriting = None;
        // hyper's whole head was answered (by its rewrite).
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // Not vectored: hyper then hands a response head over in one buffer, which `rewrite` reads.
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "date: Sun, 29 Nov 2026 05:04:14 GMT";

    #[test]
    fn hypers_parse_error_answers_get_a_json_api_body() {
        for (status, code) in [
            ("HTTP/1.1 400 Bad Request", "REQUEST_INVALID"),
            ("HTTP/1.1 414 URI Too Long", "URI_TOO_LONG"),
            ("HTTP/1.1 431 Request Header Fields Too Large", "HEADERS_TOO_LARGE"),
        ] {
            let head = format!("{status}\r\nconnection: close\r\ncontent-length: 0\r\n{DATE}\r\n\r\n");
            let answer = String::from_utf8(rewrite(head.as_bytes()).expect(status)).unwrap();
            let (top, body) = answer.split_once("\r\n\r\n").unwrap();
            assert!(top.starts_with(status) && top.contains(MEDIA_TYPE), "{top}");
            assert!(top.contains(&format!("content-length: {}", body.len())), "{top}");
            let body: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(body["errors"][0]["code"], code);
        }
    }

    #[test]
    fn the_apis_own_answers_pass_unchanged() {
        let own =
            format!("HTTP/1.1 400 Bad Request\r\ncontent-type: {MEDIA_TYPE}\r\ncontent-length: 120\r\n{DATE}\r\n\r\n");
        assert_eq!(rewrite(own.as_bytes()), None);
        let ok = format!("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n{DATE}\r\n\r\n");
        assert_eq!(rewrite(ok.as_bytes()), None);
    }
}

/// The client's address, as the connection it came on says (`ConnectInfo<ClientAddr>`).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, JsonApiListener>> for ClientAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, JsonApiListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}
