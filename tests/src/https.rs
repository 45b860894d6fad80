//! An HTTPS client for tests that verifies the server's chain against a
//! given CA, like kube-apiserver does with a webhook's `caBundle`, and
//! exposes what a general-purpose client hides: the negotiated protocol and
//! the certificate presented on each connection.
//!
//! One [`Connection`] is one TLS session, so a test decides exactly when a
//! new handshake happens (a certificate rotation test needs that).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ClientConfig;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls_pki_types::pem::PemObject;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A boxed request body: full bytes or a stream the test controls.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// A whole body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// The HTTP protocols a client offers by ALPN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
}

/// Connects to one server, trusting one CA.
#[derive(Clone)]
pub struct Client {
    addr: SocketAddr,
    server_name: ServerName<'static>,
    connector: TlsConnector,
    protocol: Protocol,
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

enum Sender {
    Http1(http1::SendRequest<Body>),
    Http2(http2::SendRequest<Body>),
}

/// One TLS session and the HTTP connection over it.
pub struct Connection {
    sender: Sender,
    /// The leaf certificate the server presented, DER.
    pub peer_certificate: Vec<u8>,
    /// The protocol the server picked by ALPN.
    pub alpn: Option<Vec<u8>>,
}

pub type Error = Box<dyn std::error::Error + Send + Sync>;

impl Client {
    /// A client of `addr` that checks the certificate names `server_name`
    /// and chains to `ca_pem`, offering `protocol` only.
    pub fn new(addr: SocketAddr, server_name: &str, ca_pem: &str, protocol: Protocol) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.expect("CA PEM")).expect("CA certificate");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        // Every connection is a full handshake, as kube-apiserver's are: a
        // resumed session would report the certificate of the session it
        // resumes, not the one the server holds now.
        config.resumption = rustls::client::Resumption::disabled();
        config.alpn_protocols = vec![match protocol {
            Protocol::Http1 => b"http/1.1".to_vec(),
            Protocol::Http2 => b"h2".to_vec(),
        }];
        Client {
            addr,
            server_name: ServerName::try_from(server_name.to_string()).expect("server name"),
            connector: TlsConnector::from(Arc::new(config)),
            protocol,
        }
    }

    /// A new TCP connection and TLS handshake.
    pub async fn connect(&self) -> Result<Connection, Error> {
        let tcp = TcpStream::connect(self.addr).await?;
        // As kube-apiserver's (Go's) connections do. With Nagle on, an
        // HTTP/2 request's DATA frame waits for the server's delayed ACK of
        // its HEADERS: about 40 ms per request instead of a few.
        tcp.set_nodelay(true)?;
        let tls = self
            .connector
            .connect(self.server_name.clone(), tcp)
            .await?;
        let (_, session) = tls.get_ref();
        let peer_certificate = session
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|c| c.to_vec())
            .unwrap_or_default();
        let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
        let io = TokioIo::new(tls);
        let sender = match self.protocol {
            Protocol::Http1 => {
                let (sender, connection) = http1::handshake(io).await?;
                tokio::spawn(connection);
                Sender::Http1(sender)
            }
            Protocol::Http2 => {
                let (sender, connection) = http2::handshake(TokioExecutor::new(), io).await?;
                tokio::spawn(connection);
                Sender::Http2(sender)
            }
        };
        Ok(Connection {
            sender,
            peer_certificate,
            alpn,
        })
    }
}

impl Connection {
    /// Sends `request` and reads the whole answer.
    pub async fn send(&mut self, request: Request<Body>) -> Result<Reply, Error> {
        let response: Response<hyper::body::Incoming> = match &mut self.sender {
            Sender::Http1(sender) => {
                sender.ready().await?;
                sender.send_request(origin_form(request)).await?
            }
            Sender::Http2(sender) => {
                sender.ready().await?;
                sender.send_request(request).await?
            }
        };
        let (parts, body) = response.into_parts();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await?.to_bytes(),
        })
    }

    /// `POST path` with `body` and, when given, `Content-Type`.
    pub async fn post(
        &mut self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Bytes>,
    ) -> Result<Reply, Error> {
        self.send(post(path, content_type, full(body))).await
    }
}

/// HTTP/2 carries the scheme and authority as pseudo-headers taken from an
/// absolute URI; HTTP/1.1 wants the path in the request line and a `Host`.
fn origin_form(mut request: Request<Body>) -> Request<Body> {
    let uri = request.uri().clone();
    if let Some(authority) = uri.authority() {
        let host = http::HeaderValue::from_str(authority.as_str()).expect("valid authority");
        request
            .headers_mut()
            .entry(http::header::HOST)
            .or_insert(host);
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = path.parse().expect("valid path");
    request
}

/// A `POST` request for any [`Connection`].
pub fn post(path: &str, content_type: Option<&str>, body: Body) -> Request<Body> {
    let mut request = Request::post(format!("https://injector.test{path}"));
    if let Some(content_type) = content_type {
        request = request.header(http::header::CONTENT_TYPE, content_type);
    }
    request.body(body).expect("valid request")
}

/// `GET path` over plain HTTP/1.1 on a new connection (admin ports).
pub async fn plain_get(addr: SocketAddr, path: &str) -> Result<Reply, Error> {
    let tcp = TcpStream::connect(addr).await?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(connection);
    let request = Request::get(path)
        .header(http::header::HOST, addr.to_string())
        .body(full(Bytes::new()))?;
    let response = sender.send_request(request).await?;
    let (parts, body) = response.into_parts();
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await?.to_bytes(),
    })
}
