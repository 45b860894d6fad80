//! The cap on the webhook's open connections: each accepted TCP connection
//! holds a permit until it closes, and one accepted while none is free is
//! closed at once, before its TLS handshake.
//!
//! Requests are already bounded (`--max-concurrent-requests`, the queue,
//! the body size), but an idle or slow connection costs a task, buffers
//! and a TLS session without making a request; this bounds them. Closing
//! rather than waiting keeps the cost of a flood at one accept each:
//! kube-apiserver keeps a few long-lived connections and retries a call
//! that fails to connect.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The default of `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// An acceptor that admits at most `max` open connections, then hands
/// them to `inner`.
#[derive(Clone, Debug)]
pub struct ConnectionLimit<A> {
    permits: Arc<Semaphore>,
    inner: A,
}

impl<A> ConnectionLimit<A> {
    pub fn new(max: usize, inner: A) -> Self {
        ConnectionLimit {
            permits: Arc::new(Semaphore::new(max)),
            inner,
        }
    }
}

impl<A, S> Accept<TcpStream, S> for ConnectionLimit<A>
where
    A: Accept<TcpStream, S, Stream = TcpStream>,
    A::Future: Send + 'static,
    A::Service: Send + 'static,
    S: Send + 'static,
{
    type Stream = Counted;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Counted, A::Service)>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
            tracing::debug!("connection limit reached: closing a new connection");
            // Dropping the stream closes it; the server moves on.
            return Box::pin(std::future::ready(Err(io::Error::other(
                "connection limit reached",
            ))));
        };
        let accepted = self.inner.accept(stream, service);
        Box::pin(async move {
            let (stream, service) = accepted.await?;
            Ok((
                Counted {
                    stream,
                    _permit: permit,
                },
                service,
            ))
        })
    }
}

/// A connection that gives its permit back when it is dropped.
#[derive(Debug)]
pub struct Counted {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
