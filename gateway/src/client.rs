//! A small HTTP/1.1 keep-alive client over tokio TCP, typed for this API: used by the
//! loopback tests and the `croupier bench http-bets` load generator. It speaks just what the
//! gateway answers (Content-Length or chunked bodies), no TLS, no redirects.

use crate::auth::{Auth, RequestLine, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use serde_json::Value;
use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One keep-alive connection.
pub struct Conn {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
    req: Vec<u8>,
    line: String,
}

/// An answer: status and body bytes.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The error code of an error answer.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or("").to_string()
    }
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Conn {
        Conn { addr, stream: None, req: Vec::with_capacity(1024), line: String::with_capacity(128) }
    }

    /// Sends one request and reads its answer; reconnects once if the kept-alive connection
    /// was closed by the server.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Answer> {
        self.req.clear();
        let r = &mut self.req;
        r.extend_from_slice(method.as_bytes());
        r.push(b' ');
        r.extend_from_slice(path.as_bytes());
        r.extend_from_slice(b" HTTP/1.1\r\nhost: croupier\r\n");
        for (k, v) in headers {
            r.extend_from_slice(k.as_bytes());
            r.extend_from_slice(b": ");
            r.extend_from_slice(v.as_bytes());
            r.extend_from_slice(b"\r\n");
        }
        if !body.is_empty() || method == "POST" {
            r.extend_from_slice(b"content-type: application/json\r\ncontent-length: ");
            r.extend_from_slice(body.len().to_string().as_bytes());
            r.extend_from_slice(b"\r\n");
        }
        r.extend_from_slice(b"\r\n");
        r.extend_from_slice(body);
        let reused = self.stream.is_some();
        match self.round_trip().await {
            Ok(a) => Ok(a),
            Err(_) if reused => {
                self.stream = None;
                self.round_trip().await
            }
            Err(e) => Err(e),
        }
    }

    /// Queues a request for [`Conn::send_queued`] without sending it: HTTP/1.1 pipelining,
    /// several requests written at once on one connection, answered in order.
    pub fn queue(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
        let r = &mut self.req;
        r.extend_from_slice(method.as_bytes());
        r.push(b' ');
        r.extend_from_slice(path.as_bytes());
        r.extend_from_slice(b" HTTP/1.1\r\nhost: croupier\r\n");
        for (k, v) in headers {
            r.extend_from_slice(k.as_bytes());
            r.extend_from_slice(b": ");
            r.extend_from_slice(v.as_bytes());
            r.extend_from_slice(b"\r\n");
        }
        r.extend_from_slice(b"content-type: application/json\r\ncontent-length: ");
        r.extend_from_slice(body.len().to_string().as_bytes());
        r.extend_from_slice(b"\r\n\r\n");
        r.extend_from_slice(body);
    }

    /// Writes every queued request in one go; read their answers with [`Conn::read_answer`].
    pub async fn send_queued(&mut self) -> io::Result<()> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(BufReader::with_capacity(64 << 10, s));
        }
        let stream = self.stream.as_mut().expect("connected");
        let result = stream.get_mut().write_all(&self.req).await;
        self.req.clear();
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    /// Reads the next answer of the requests sent with [`Conn::send_queued`].
    pub async fn read_answer(&mut self) -> io::Result<Answer> {
        if self.stream.is_none() {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "not connected"));
        }
        let result = self.read_response().await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn round_trip(&mut self) -> io::Result<Answer> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(BufReader::with_capacity(16 << 10, s));
        }
        let result = self.exchange().await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange(&mut self) -> io::Result<Answer> {
        let stream = self.stream.as_mut().expect("connected");
        stream.get_mut().write_all(&self.req).await?;
        self.read_response().await
    }

    async fn read_response(&mut self) -> io::Result<Answer> {
        let stream = self.stream.as_mut().expect("connected");
        let eof = || io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed");
        let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
        self.line.clear();
        if stream.read_line(&mut self.line).await? == 0 {
            return Err(eof());
        }
        let status: u16 = self.line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("status line"))?;
        let (mut len, mut chunked, mut close) = (0usize, false, false);
        loop {
            self.line.clear();
            if stream.read_line(&mut self.line).await? == 0 {
                return Err(eof());
            }
            let l = self.line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let v = v.trim();
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.parse().map_err(|_| bad("content-length"))?;
                } else if k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
                    chunked = true;
                } else if k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close") {
                    close = true;
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                self.line.clear();
                stream.read_line(&mut self.line).await?;
                let n = usize::from_str_radix(self.line.trim(), 16).map_err(|_| bad("chunk size"))?;
                let mut chunk = vec![0; n + 2];
                stream.read_exact(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else {
            body.resize(len, 0);
            stream.read_exact(&mut body).await?;
        }
        if close {
            self.stream = None;
        }
        Ok(Answer { status, body })
    }
}

/// The two headers of a signed operator request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub timestamp: String,
    pub signature: String,
}

impl Signature {
    /// `X-Croupier-Timestamp` and `X-Croupier-Signature`, for [`Conn::request`].
    pub fn headers(&self) -> [(&str, &str); 2] {
        [(TIMESTAMP_HEADER, self.timestamp.as_str()), (SIGNATURE_HEADER, self.signature.as_str())]
    }
}

/// A client for one server: operator calls signed with the key, player calls with a token.
pub struct Client {
    pub conn: Conn,
    auth: Auth,
}

impl Client {
    pub fn new(addr: SocketAddr, operator_key: &[u8]) -> Client {
        Client { conn: Conn::new(addr), auth: Auth::new(operator_key.to_vec()) }
    }

    /// Signs a request as of `timestamp_ms` (Unix milliseconds).
    pub fn sign_at(&self, method: &str, path_and_query: &str, timestamp_ms: u64, body: &[u8]) -> Signature {
        let timestamp = timestamp_ms.to_string();
        let signature = self.auth.sign(RequestLine { method, path_and_query }, &timestamp, body);
        Signature { timestamp, signature }
    }

    /// Signs a request as of now.
    pub fn sign(&self, method: &str, path_and_query: &str, body: &[u8]) -> Signature {
        self.sign_at(method, path_and_query, crate::now_ms(), body)
    }

    /// A signed operator POST of raw body bytes.
    pub async fn operator_raw(&mut self, path: &str, body: &[u8]) -> io::Result<Answer> {
        let sig = self.sign("POST", path, body);
        self.conn.request("POST", path, &sig.headers(), body).await
    }

    /// A signed operator POST.
    pub async fn operator(&mut self, path: &str, body: &Value) -> io::Result<Answer> {
        self.operator_raw(path, body.to_string().as_bytes()).await
    }

    /// A player request with `token`.
    pub async fn player(&mut self, token: &str, method: &str, path: &str, body: Option<&Value>) -> io::Result<Answer> {
        let auth = format!("Bearer {token}");
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.conn.request(method, path, &[("authorization", &auth)], body.as_bytes()).await
    }

    /// Opens a session for `user` and returns its token.
    pub async fn session(&mut self, user: u64) -> io::Result<String> {
        let a = self.operator("/api/sessions", &serde_json::json!({ "user_id": user })).await?;
        a.json()["token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| io::Error::other(format!("no token: {} {}", a.status, String::from_utf8_lossy(&a.body))))
    }
}
