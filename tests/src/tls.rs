//! TLS in front of the test sites and the tracking server, with a certificate made at test time,
//! so the browser sees https origins: Secure cookies, SameSite and CORS behave as in production.
//! The terminator relays bytes to the plain-HTTP process behind it.

use std::sync::{Arc, OnceLock};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The host names the test certificate covers.
pub const HOSTS: &[&str] = &["track.merchant.test", "www.merchant.test", "webinar-tool.test", "checkout.cartvendor.test", "broken.test"];

fn acceptor() -> TlsAcceptor {
    static ACCEPTOR: OnceLock<TlsAcceptor> = OnceLock::new();
    ACCEPTOR
        .get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let names: Vec<String> = HOSTS.iter().map(|h| (*h).to_owned()).collect();
            let made = rcgen::generate_simple_self_signed(names).expect("make the test certificate");
            let key = rustls::pki_types::PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
            let mut config = rustls::ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(vec![made.cert.der().clone()], key)
                .expect("TLS configuration");
            // The processes behind speak HTTP/1.1; say so, so browsers never try HTTP/2 here.
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            TlsAcceptor::from(Arc::new(config))
        })
        .clone()
}

/// A TLS port relaying to `backend_port` on loopback; lives as long as the returned task.
pub struct Front {
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Front {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Front {
    /// Starts a terminator on a free port in front of `backend_port`.
    pub async fn start(backend_port: u16) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let acceptor = acceptor();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(socket).await else { return };
                    let Ok(mut backend) = tokio::net::TcpStream::connect(("127.0.0.1", backend_port)).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut backend).await;
                });
            }
        });
        Ok(Self { port, task })
    }
}
