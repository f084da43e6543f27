//! The byte stream under every caller connection, with a cap on the size
//! of one protocol message from the server.
//!
//! The PostgreSQL client library buffers a whole message (one result row is
//! one `DataRow` message) before anyone can look at it, so a single row of a
//! few hundred megabytes — `string_agg` over a big series, say — would be held
//! in the host's memory whatever the result budget says. Below the client,
//! this stream reads each message's 5-byte header as it arrives and fails the
//! connection as soon as a header announces more than the cap: the host never
//! buffers more than the cap, the server's backend ends when its socket
//! closes, and the query path reports a clear error ([`MessageTooLarge`]).
//!
//! Messages are framed in plain text only: over TLS the cap sits above the
//! TLS session ([`CappedTls`]); without TLS, on the socket itself. The one
//! byte PostgreSQL answers an SSL request with is not a message and is let
//! through as such.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

/// A server message larger than the connection allows; the connection is
/// closed when this is raised.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the server sent a {size}-byte message; the limit is {max} bytes")]
pub struct MessageTooLarge {
    pub size: u64,
    pub max: usize,
}

impl MessageTooLarge {
    /// Finds this error among the causes of a client error.
    pub fn in_chain(error: &(dyn std::error::Error + 'static)) -> Option<MessageTooLarge> {
        let mut current = Some(error);
        while let Some(e) = current {
            if let Some(found) = e.downcast_ref::<MessageTooLarge>() {
                return Some(*found);
            }
            if let Some(io) = e.downcast_ref::<io::Error>()
                && let Some(inner) = io.get_ref()
                && let Some(found) = inner.downcast_ref::<MessageTooLarge>()
            {
                return Some(*found);
            }
            current = e.source();
        }
        None
    }
}

/// The bytes of `SSLRequest`: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Reading protocol messages.
    Framing,
    /// The next byte read answers an SSL request ('S' or 'N').
    SslAnswer,
    /// TLS runs over this stream; the cap sits above it.
    Passthrough,
}

/// A stream whose incoming protocol messages may not exceed `max` bytes.
pub struct Capped<S> {
    inner: S,
    max: usize,
    mode: Mode,
    header: [u8; 5],
    header_len: usize,
    /// Bytes of the current message's body still to come.
    body_left: u64,
    /// Whether anything has been written (an SSL request is the first write).
    wrote: bool,
}

impl<S> Capped<S> {
    pub fn new(inner: S, max: usize) -> Self {
        Self {
            inner,
            max,
            mode: Mode::Framing,
            header: [0; 5],
            header_len: 0,
            body_left: 0,
            wrote: false,
        }
    }

    fn passthrough(mut self) -> S {
        self.mode = Mode::Passthrough;
        self.inner
    }

    /// Follows the message framing over newly read bytes.
    fn account(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        if self.mode == Mode::SslAnswer {
            let Some((_, rest)) = bytes.split_first() else {
                return Ok(());
            };
            self.mode = Mode::Framing;
            bytes = rest;
        }
        if self.mode != Mode::Framing {
            return Ok(());
        }
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let n = (self.body_left).min(bytes.len() as u64);
                self.body_left -= n;
                bytes = &bytes[n as usize..];
                continue;
            }
            let take = (5 - self.header_len).min(bytes.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&bytes[..take]);
            self.header_len += take;
            bytes = &bytes[take..];
            if self.header_len == 5 {
                self.header_len = 0;
                let len = u32::from_be_bytes([
                    self.header[1],
                    self.header[2],
                    self.header[3],
                    self.header[4],
                ]) as u64;
                if len < 4 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "invalid message length from the server",
                    ));
                }
                // Tag byte + length field + body.
                if len + 1 > self.max as u64 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        MessageTooLarge {
                            size: len + 1,
                            max: self.max,
                        },
                    ));
                }
                self.body_left = len - 4;
            }
        }
        Ok(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => Poll::Ready(this.account(&buf.filled()[before..])),
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if !self.wrote && self.mode == Mode::Framing && buf.starts_with(&SSL_REQUEST) {
            self.mode = Mode::SslAnswer;
        }
        self.wrote = true;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: TlsStream + Unpin> TlsStream for Capped<S> {
    fn channel_binding(&self) -> ChannelBinding {
        self.inner.channel_binding()
    }
}

/// A TCP or Unix-domain socket to the server.
pub enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Socket::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Socket::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_flush(cx),
            Socket::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Socket::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Wraps a TLS connector so that the cap moves above the TLS session.
#[derive(Clone)]
pub struct CappedTls<T> {
    inner: T,
    max: usize,
}

impl<T> CappedTls<T> {
    pub fn new(inner: T, max: usize) -> Self {
        Self { inner, max }
    }
}

/// [`CappedTls`] for one host name.
pub struct CappedTlsConnect<C> {
    inner: C,
    max: usize,
}

impl<T> MakeTlsConnect<Capped<Socket>> for CappedTls<T>
where
    T: MakeTlsConnect<Socket>,
    T::TlsConnect: Send + 'static,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    T::Stream: Send,
{
    type Stream = Capped<T::Stream>;
    type TlsConnect = CappedTlsConnect<T::TlsConnect>;
    type Error = T::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        Ok(CappedTlsConnect {
            inner: self.inner.make_tls_connect(domain)?,
            max: self.max,
        })
    }
}

impl<C> TlsConnect<Capped<Socket>> for CappedTlsConnect<C>
where
    C: TlsConnect<Socket> + Send + 'static,
    C::Future: Send,
    C::Stream: Send,
{
    type Stream = Capped<C::Stream>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = BoxFuture<'static, Result<Self::Stream, Self::Error>>;

    fn connect(self, stream: Capped<Socket>) -> Self::Future {
        let max = self.max;
        let socket = stream.passthrough();
        let handshake = self.inner.connect(socket);
        Box::pin(async move {
            let tls = handshake.await.map_err(Into::into)?;
            Ok(Capped::new(tls, max))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![tag];
        m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn messages_within_the_cap_pass_in_any_split() {
        let mut stream = Vec::new();
        stream.extend(message(b'D', &[7; 100]));
        stream.extend(message(b'C', b"SELECT 1\0"));
        stream.extend(message(b'Z', b"I"));
        for chunk in [1, 2, 3, 5, 7, 64, 4096] {
            let mut capped = Capped::new((), 105);
            for piece in stream.chunks(chunk) {
                capped.account(piece).unwrap();
            }
            assert_eq!((capped.header_len, capped.body_left), (0, 0), "{chunk}");
        }
    }

    #[test]
    fn a_header_announcing_too_much_fails_before_the_body_arrives() {
        let mut capped = Capped::new((), 1024);
        capped.account(&message(b'Z', b"I")).unwrap();
        let header = [b'D', 0x40, 0, 0, 0];
        let error = capped.account(&header).unwrap_err();
        let found = MessageTooLarge::in_chain(&error).expect("the cause is kept");
        assert_eq!(found.size, 0x4000_0001);
        assert!(capped.account(&[0, 0, 0, 3]).is_err() || capped.header_len > 0);
    }

    #[test]
    fn the_answer_to_an_ssl_request_is_one_byte_not_a_message() {
        let mut capped = Capped::new((), 64);
        capped.mode = Mode::SslAnswer;
        let mut bytes = vec![b'N'];
        bytes.extend(message(b'R', &[0, 0, 0, 0]));
        capped.account(&bytes).unwrap();
        assert_eq!(capped.mode, Mode::Framing);
        assert_eq!((capped.header_len, capped.body_left), (0, 0));
    }
}
