//! A small W3C WebDriver client for the console test: chromedriver driving Debian's
//! headless Chromium, spoken to as JSON over HTTP/1.1 on loopback.
//!
//! Why not a crate: WebDriver is a handful of JSON requests, and what the test needs of it
//! (navigate, find, click, type, keys, run a script, screenshot) fits here over std's TCP.
//! `fantoccini` would add its `webdriver` protocol crate, cookie/url/time stacks and a TLS
//! backend; `chromiumoxide` generates the whole Chrome DevTools protocol (minutes of
//! compiling on the 2-core CI) — to send the same dozen commands. Nothing here is new to the
//! build: serde_json is already a dependency and base64 is already compiled for sqlx.

use base64::Engine as _;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the browser and its driver are, overridable for machines that put them elsewhere.
pub fn chromium() -> PathBuf {
    std::env::var_os("CROUPIER_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

pub fn chromedriver() -> PathBuf {
    std::env::var_os("CROUPIER_CHROMEDRIVER").map_or_else(|| PathBuf::from("/usr/bin/chromedriver"), PathBuf::from)
}

/// Fails, never skips, when the browser is missing: the console's only test is in a browser.
pub fn require_browser() {
    for (what, path) in [("Chromium", chromium()), ("chromedriver", chromedriver())] {
        assert!(
            path.is_file(),
            "{what} is not installed at {} (set CROUPIER_CHROMIUM / CROUPIER_CHROMEDRIVER, or on Debian: \
             apt-get install -y chromium chromium-driver, as .ci/run does); the console is tested in a real browser",
            path.display()
        );
    }
}

/// A free loopback port (bound, then let go for chromedriver to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// One HTTP/1.1 exchange; the answer's JSON.
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<Value> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    // chromedriver says `Connection: close` but keeps the socket open: read by the length.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let (head_end, length, chunked) = loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::Error::other("closed before the answer's head"));
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            break (split + 4, length, head.contains("transfer-encoding: chunked"));
        }
    };
    loop {
        let have = raw.len() - head_end;
        let done = match length {
            Some(len) => have >= len,
            None if chunked => raw.ends_with(b"0\r\n\r\n"),
            None => false,
        };
        if done {
            break;
        }
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let mut payload = raw[head_end..].to_vec();
    if chunked {
        payload = unchunk(&payload);
    }
    serde_json::from_slice(&payload)
        .map_err(|e| std::io::Error::other(format!("{e}: {}", String::from_utf8_lossy(&payload))))
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&b[start..(start + size).min(b.len())]);
        b = &b[(start + size + 2).min(b.len())..];
    }
    out
}

/// chromedriver and one headless Chromium session; both end when this is dropped.
pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
}

/// How long the driver may take to answer its first status request.
const DRIVER_START: Duration = Duration::from_secs(30);

impl Browser {
    pub fn start(width: u32, height: u32) -> Browser {
        require_browser();
        let port = free_port();
        let driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver().display()));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut b = Browser { driver, addr, session: String::new() };
        let ready = wait_until("chromedriver to answer", DRIVER_START, || {
            http(addr, "GET", "/status", None).ok().filter(|s| s["value"]["ready"] == true)
        });
        assert!(ready["value"]["ready"] == true);
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            format!("--window-size={width},{height}"),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium(), "args": args},
        }}});
        let v = http(addr, "POST", "/session", Some(&caps)).expect("a new session");
        b.session = v["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no browser session: {v}")).to_string();
        b
    }

    /// A WebDriver command of this session; a WebDriver error panics with its message.
    pub fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let v = http(self.addr, method, &path, body.as_ref()).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        if v["value"].get("error").is_some() {
            panic!("{method} {path}: {}: {}", v["value"]["error"], v["value"]["message"]);
        }
        v["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page; its result.
    pub fn js(&self, script: &str, args: Value) -> Value {
        self.cmd("POST", "/execute/sync", Some(json!({ "script": script, "args": args })))
    }

    fn element(&self, css: &str) -> String {
        let v = self.cmd("POST", "/element", Some(json!({"using": "css selector", "value": css})));
        v.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).expect("an element reference").to_string()
    }

    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.cmd("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// Replaces an input's text, typed key by key.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.cmd("POST", &format!("/element/{id}/clear"), Some(json!({})));
        self.cmd("POST", &format!("/element/{id}/value"), Some(json!({ "text": text })));
    }

    /// Presses keys on whatever has the focus, as a keyboard would (W3C key actions).
    pub fn keys(&self, keys: &[&str]) {
        let actions: Vec<Value> = keys
            .iter()
            .flat_map(|k| [json!({"type": "keyDown", "value": k}), json!({"type": "keyUp", "value": k})])
            .collect();
        self.cmd("POST", "/actions", Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})));
    }

    /// The text of the first element matching `css`, or None if there is none.
    pub fn text(&self, css: &str) -> Option<String> {
        self.js("const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", json!([css]))
            .as_str()
            .map(str::to_string)
    }

    pub fn screenshot(&self, path: &Path) -> std::io::Result<()> {
        let b64 = self.cmd("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .map_err(std::io::Error::other)?;
        std::fs::write(path, png)
    }

    pub fn set_window(&self, width: u32, height: u32) {
        self.cmd("POST", "/window/rect", Some(json!({"width": width, "height": height})));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(self.addr, "DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Polls `probe` until it gives a value, for at most `within`: the test waits for what it
/// expects, never for a fixed time. Panics naming `what` when it does not come.
pub fn wait_until<T>(what: &str, within: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(start.elapsed() < within, "waited {within:?} for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
