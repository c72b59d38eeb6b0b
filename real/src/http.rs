//! The HTTP/1.1 of `lambdasim real serve`: reading requests and writing responses on a blocking
//! stream, and OpenLambda's routes.
//!
//! Only what a function platform's clients send is read: a request line, headers, and a body of
//! `Content-Length` bytes; persistent connections (HTTP/1.1's default, or `Connection:
//! keep-alive` from an HTTP/1.0 client) carry one request after another. Everything else is
//! refused with the status that says why, so a client learns what to change:
//!
//! | request | status |
//! |---|---|
//! | a request line or header that is not HTTP/1.x's | 400 |
//! | a body sent with `Transfer-Encoding` (chunked) | 411, send `Content-Length` |
//! | a body over the server's limit | 413 |
//! | a request line and headers over [`MAX_HEAD_BYTES`] | 431 |
//! | HTTP/2 or another major version | 505 |
//!
//! The routes ([`Route`]) are OpenLambda's: `POST /run/<name>` runs a function with the body as
//! its JSON argument, `GET /status` says the server is up, and `GET /stats` gives the run's
//! summary so far.

use std::fmt;
use std::io::{self, BufRead, Read, Write};

/// Largest request line plus headers, in bytes.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most headers in one request.
pub const MAX_HEADERS: usize = 100;

/// A request, read whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target as sent (path and query).
    pub target: String,
    /// Whether the client keeps the connection open for another request.
    pub keep_alive: bool,
    pub body: Vec<u8>,
}

/// Why a request could not be read: the status to answer with and the reason, for the response
/// body. The connection is closed after answering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    pub status: u16,
    pub message: String,
}

impl HttpError {
    fn new(status: u16, message: impl Into<String>) -> Self {
        HttpError {
            status,
            message: message.into(),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status,
            reason(self.status),
            self.message
        )
    }
}

/// What reading a request gave.
#[derive(Debug)]
pub enum Incoming {
    Request(Request),
    /// The client closed the connection between requests.
    Closed,
    /// A request that must be refused; then the connection closes.
    Refused(HttpError),
    /// The stream failed (a reset, a timeout): nothing can be answered.
    Failed(io::Error),
}

/// Reads the next request from `stream`, with a body of at most `max_body` bytes.
pub fn read_request<R: BufRead>(stream: &mut R, max_body: usize) -> Incoming {
    let mut head = Vec::new();
    let mut lines: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut line = Vec::new();
        let limit = (MAX_HEAD_BYTES - head.len() + 1) as u64;
        match stream.by_ref().take(limit).read_until(b'\n', &mut line) {
            Ok(0) if lines.is_empty() && head.is_empty() => return Incoming::Closed,
            Ok(0) => {
                return Incoming::Refused(HttpError::new(400, "the request ended inside its head"));
            }
            Ok(_) => {}
            Err(e) => return Incoming::Failed(e),
        }
        head.extend_from_slice(&line);
        if head.len() > MAX_HEAD_BYTES {
            return Incoming::Refused(HttpError::new(
                431,
                format!("the request line and headers exceed {MAX_HEAD_BYTES} bytes"),
            ));
        }
        if !line.ends_with(b"\n") {
            return Incoming::Refused(HttpError::new(400, "the request ended inside its head"));
        }
        let text = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .unwrap_or(&line);
        if text.is_empty() {
            // Empty lines before a request line are allowed (RFC 9112, 2.2).
            if lines.is_empty() {
                head.clear();
                continue;
            }
            break;
        }
        if lines.len() > MAX_HEADERS {
            return Incoming::Refused(HttpError::new(
                431,
                format!("more than {MAX_HEADERS} headers"),
            ));
        }
        lines.push(text.to_vec());
    }
    match parse_head(&lines) {
        Ok((method, target, keep_alive, length)) => {
            if length > max_body {
                return Incoming::Refused(HttpError::new(
                    413,
                    format!("the body has {length} bytes; the limit is {max_body}"),
                ));
            }
            let mut body = vec![0; length];
            match stream.read_exact(&mut body) {
                Ok(()) => Incoming::Request(Request {
                    method,
                    target,
                    keep_alive,
                    body,
                }),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Incoming::Refused(
                    HttpError::new(400, format!("the body ended before its {length} bytes")),
                ),
                Err(e) => Incoming::Failed(e),
            }
        }
        Err(e) => Incoming::Refused(e),
    }
}

/// Method, target, keep-alive and body length of a request's head (request line and headers).
fn parse_head(lines: &[Vec<u8>]) -> Result<(String, String, bool, usize), HttpError> {
    let bad = |m: String| HttpError::new(400, m);
    let request_line =
        std::str::from_utf8(&lines[0]).map_err(|_| bad("the request line is not ASCII".into()))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(format!(
            "{request_line:?} is not a request line (METHOD TARGET HTTP/1.1)"
        )));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad(format!("{method:?} is not a method")));
    }
    if !target.starts_with('/') {
        return Err(bad(format!("{target:?} is not a path")));
    }
    let minor = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        v if v.starts_with("HTTP/") => {
            return Err(HttpError::new(
                505,
                format!("{v} is not served; use HTTP/1.1"),
            ));
        }
        v => return Err(bad(format!("{v:?} is not an HTTP version"))),
    };
    let mut keep_alive = minor == 1;
    let mut length: Option<usize> = None;
    for line in &lines[1..] {
        let line =
            std::str::from_utf8(line).map_err(|_| bad("a header is not valid UTF-8".into()))?;
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(format!("{line:?} is not a header (Name: value)")));
        };
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(bad(format!("{name:?} is not a header name")));
        }
        let value = value.trim_matches([' ', '\t']);
        if name.eq_ignore_ascii_case("content-length") {
            let n: usize = value
                .parse()
                .ok()
                .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| bad(format!("Content-Length {value:?} is not a length")))?;
            if length.is_some_and(|m| m != n) {
                return Err(bad("two different Content-Length headers".into()));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(HttpError::new(
                411,
                format!(
                    "Transfer-Encoding {value:?} is not read; send the body with Content-Length"
                ),
            ));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    Ok((
        method.to_string(),
        target.to_string(),
        keep_alive,
        length.unwrap_or(0),
    ))
}

/// A response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON body.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            content_type: "application/json",
            body: body.into(),
        }
    }

    /// An error: `{"error": message}`.
    pub fn error(status: u16, message: &str) -> Self {
        let body = serde_json::json!({ "error": message }).to_string();
        Response::json(status, body)
    }
}

/// Writes `response`, saying whether the connection stays open.
pub fn write_response<W: Write>(
    stream: &mut W,
    response: &Response,
    keep_alive: bool,
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&response.body)?;
    stream.flush()
}

/// The reason phrase of the statuses the server gives.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `POST /run/<name>`.
    Run(String),
    /// `GET /status`.
    Status,
    /// `GET /stats`.
    Stats,
    /// A known path with the wrong method: the methods it takes.
    WrongMethod(&'static str),
    NotFound,
}

impl Route {
    /// The route of `method` and `target` (a query string is ignored).
    pub fn of(method: &str, target: &str) -> Route {
        let path = target.split_once('?').map_or(target, |(p, _)| p);
        let (expected, route) = match path {
            "/status" => ("GET", Route::Status),
            "/stats" => ("GET", Route::Stats),
            _ => match path.strip_prefix("/run/") {
                Some(name) if !name.is_empty() && !name.contains('/') => {
                    ("POST", Route::Run(name.to_string()))
                }
                _ => return Route::NotFound,
            },
        };
        if method == expected {
            route
        } else {
            Route::WrongMethod(expected)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn read(bytes: &[u8], max_body: usize) -> Incoming {
        read_request(&mut Cursor::new(bytes.to_vec()), max_body)
    }

    fn refused(bytes: &[u8]) -> HttpError {
        match read(bytes, 1024) {
            Incoming::Refused(e) => e,
            other => panic!(
                "{:?} was not refused: {other:?}",
                String::from_utf8_lossy(bytes)
            ),
        }
    }

    #[test]
    fn reads_requests_one_after_another_on_a_connection() {
        let bytes = b"POST /run/hello HTTP/1.1\r\nHost: x\r\ncontent-length: 7\r\n\r\n{\"a\":1}\
            \r\nGET /stats HTTP/1.1\nConnection: close\n\nGET /status HTTP/1.0\r\n\r\n";
        let mut stream = Cursor::new(bytes.to_vec());
        let mut got = Vec::new();
        loop {
            match read_request(&mut stream, 1024) {
                Incoming::Request(r) => got.push(r),
                Incoming::Closed => break,
                other => panic!("{other:?}"),
            }
        }
        let summary: Vec<(&str, &str, bool, &[u8])> = got
            .iter()
            .map(|r| {
                (
                    r.method.as_str(),
                    r.target.as_str(),
                    r.keep_alive,
                    r.body.as_slice(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("POST", "/run/hello", true, &b"{\"a\":1}"[..]),
                ("GET", "/stats", false, &b""[..]),
                ("GET", "/status", false, &b""[..]),
            ]
        );
        let keep = read(b"GET /status HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0);
        assert!(matches!(keep, Incoming::Request(r) if r.keep_alive));
    }

    #[test]
    fn bad_requests_get_the_status_that_says_why() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_HEAD_BYTES));
        let many: String = std::iter::once("GET / HTTP/1.1\r\n".to_string())
            .chain((0..=MAX_HEADERS).map(|i| format!("X-{i}: y\r\n")))
            .chain(std::iter::once("\r\n".to_string()))
            .collect();
        let cases: Vec<(Vec<u8>, u16, &str)> = vec![
            (b"GET /\r\n\r\n".to_vec(), 400, "not a request line"),
            (b"get / HTTP/1.1\r\n\r\n".to_vec(), 400, "not a method"),
            (b"GET x HTTP/1.1\r\n\r\n".to_vec(), 400, "not a path"),
            (b"GET / HTTP/2.0\r\n\r\n".to_vec(), 505, "use HTTP/1.1"),
            (
                b"GET / FTP/1.0\r\n\r\n".to_vec(),
                400,
                "not an HTTP version",
            ),
            (
                b"GET / HTTP/1.1\r\nNoColon\r\n\r\n".to_vec(),
                400,
                "not a header",
            ),
            (
                b"GET / HTTP/1.1\r\nBad Name: v\r\n\r\n".to_vec(),
                400,
                "not a header name",
            ),
            (
                b"POST /run/f HTTP/1.1\r\nContent-Length: -1\r\n\r\n".to_vec(),
                400,
                "not a length",
            ),
            (
                b"POST /run/f HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n".to_vec(),
                400,
                "two different",
            ),
            (
                b"POST /run/f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
                411,
                "Content-Length",
            ),
            (
                b"POST /run/f HTTP/1.1\r\nContent-Length: 2000\r\n\r\n".to_vec(),
                413,
                "limit is 1024",
            ),
            (
                b"POST /run/f HTTP/1.1\r\nContent-Length: 5\r\n\r\nab".to_vec(),
                400,
                "body ended",
            ),
            (
                b"GET / HTTP/1.1\r\nHost: x".to_vec(),
                400,
                "ended inside its head",
            ),
            (b"GET / HTTP/1.1\r\n".to_vec(), 400, "ended inside its head"),
            (long.into_bytes(), 431, "exceed"),
            (many.into_bytes(), 431, "more than 100 headers"),
        ];
        for (bytes, status, why) in cases {
            let e = refused(&bytes);
            assert_eq!(
                e.status,
                status,
                "{:?}: {e}",
                String::from_utf8_lossy(&bytes)
            );
            assert!(e.message.contains(why), "{e}");
        }
        assert!(matches!(read(b"", 0), Incoming::Closed));
        assert!(matches!(read(b"\r\n\r\n", 0), Incoming::Closed));
    }

    #[test]
    fn responses_carry_their_length_and_connection() {
        let mut out = Vec::new();
        write_response(&mut out, &Response::error(404, "no function \"x\""), false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\
             Connection: close\r\n\r\n{\"error\":\"no function \\\"x\\\"\"}"
        );
    }

    #[test]
    fn routes_are_openlambdas() {
        assert_eq!(Route::of("POST", "/run/hello"), Route::Run("hello".into()));
        assert_eq!(
            Route::of("POST", "/run/hello?x=1"),
            Route::Run("hello".into())
        );
        assert_eq!(Route::of("GET", "/run/hello"), Route::WrongMethod("POST"));
        assert_eq!(Route::of("GET", "/status"), Route::Status);
        assert_eq!(Route::of("GET", "/stats"), Route::Stats);
        assert_eq!(Route::of("POST", "/stats"), Route::WrongMethod("GET"));
        for target in ["/run/", "/run/a/b", "/", "/runs/x", "/statusx"] {
            assert_eq!(Route::of("GET", target), Route::NotFound, "{target}");
        }
    }
}
