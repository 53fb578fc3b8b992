//! Print a web server's response headers, over HTTP or HTTPS.
//!
//! Teaches: `open_connection().ssl(config).server_hostname(..)` for TLS;
//! a `TlsClientConfig` from the system's roots or from one CA file (a local
//! server with a self-signed certificate); `readline` until the blank line
//! that ends the headers, each line bounded by `.limit(..)`, the count of
//! lines bounded, and the whole exchange under a timeout, since the server
//! controls all three.
//!
//! Mirrors "Get HTTP headers" in
//! <https://docs.python.org/3/library/asyncio-stream.html#get-http-headers>.
//!
//! ```text
//! cargo run --example get_http_headers URL [--cafile ca.pem]
//! ```
//!
//! `URL` is `http://host[:port][/path]` or `https://…`; `--cafile` (or the
//! `SSL_CERT_FILE` environment variable) names the CA to trust instead of
//! the system's. Expected output for `https://www.python.org/`:
//!
//! ```text
//! HTTP header> HTTP/1.1 200 OK
//! HTTP header> Content-Type: text/html; charset=utf-8
//! …
//! ```

use std::time::Duration;

use switchboard::{wait_for, TlsClientConfig};

/// The longest header line accepted.
const MAX_LINE: usize = 8 * 1024;
/// The most header lines accepted.
const MAX_HEADERS: usize = 100;
/// How long the whole exchange may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The parts of `scheme://host[:port][/path]` this example needs.
struct Url {
    tls: bool,
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Option<Url> {
    let (tls, rest) = match url.split_once("://")? {
        ("https", rest) => (true, rest),
        ("http", rest) => (false, rest),
        _ => return None,
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') => (h, p.parse().ok()?),
        _ => (authority, if tls { 443 } else { 80 }),
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let path = if path.is_empty() { "/" } else { path }.to_string();
    Some(Url {
        tls,
        host,
        port,
        path,
    })
}

async fn print_http_headers(
    lp: switchboard::EventLoop,
    url: Url,
    ca: Option<String>,
) -> switchboard::Result<()> {
    let connecting = lp
        .open_connection()
        .host(&url.host)
        .port(url.port)
        .limit(MAX_LINE);
    let (mut reader, mut writer) = if url.tls {
        let config = match ca {
            Some(file) => TlsClientConfig::from_root_pem_file(file)?,
            None => TlsClientConfig::system_roots()?,
        };
        connecting.ssl(config).server_hostname(&url.host).await?
    } else {
        connecting.await?
    };
    let query = format!("HEAD {} HTTP/1.0\r\nHost: {}\r\n\r\n", url.path, url.host);
    writer.write(query.as_bytes());
    for _ in 0..MAX_HEADERS {
        let line = reader.readline().await?;
        // latin-1, as the Python example decodes it.
        let line: String = line.iter().map(|&b| b as char).collect();
        let line = line.trim_end();
        if line.is_empty() {
            break; // The blank line after the headers, or EOF.
        }
        println!("HTTP header> {line}");
    }
    // Ignore the body, close the socket.
    writer.close();
    writer.wait_closed().await?;
    Ok(())
}

fn main() -> switchboard::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut ca = std::env::var("SSL_CERT_FILE").ok();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--cafile" => ca = args.next(),
            _ => url = parse_url(&arg),
        }
    }
    let Some(url) = url else {
        eprintln!("usage: get_http_headers http[s]://host[:port][/path] [--cafile ca.pem]");
        std::process::exit(2)
    };
    switchboard::run(|lp| async move { wait_for(print_http_headers(lp, url, ca), TIMEOUT).await? })
}
