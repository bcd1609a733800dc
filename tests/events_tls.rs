//! The HTTP API and the event hub over TLS (`https://`, `wss://`): a CA and a
//! server certificate are made at run time, a TLS-terminating proxy on
//! 127.0.0.1 forwards the decrypted bytes to the sandbox, and sessions point at
//! the proxy with the CA as their CA bundle. Without the CA (the platform's
//! verifier), or with a certificate for another name, the hub refuses the
//! server with a message that says how to trust it and never shows the key.

mod support;

use ftrack::{ErrorKind, Event, EventHubOptions, Session, SessionOptions};
use ftrack_sandbox::Sandbox;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::events::{WAIT, dispatch_until, fast, project_id, recorder};
use support::{admin_options, sandbox};

/// A test CA (its PEM in a file) and a server certificate it signed.
struct Pki {
    _dir: tempfile::TempDir,
    ca_file: PathBuf,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivatePkcs8KeyDer<'static>,
}

/// A CA, and a certificate signed by it for the server names `names`.
fn pki(names: &[&str]) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "libftrack test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "libftrack test server");
    let cert = params.signed_by(&key, &ca).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    Pki {
        _dir: dir,
        ca_file,
        server_chain: vec![cert.der().clone()],
        server_key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    }
}

/// A TLS-terminating proxy on 127.0.0.1: it decrypts and forwards each
/// connection to the sandbox. It records the SNI name of every handshake that
/// completed (None when the client sent none, as for an IP address).
struct Proxy {
    port: u16,
    handshakes: Arc<Mutex<Vec<Option<String>>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn proxy(pki: &Pki, sandbox: &Sandbox) -> Proxy {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                pki.server_chain.clone(),
                PrivateKeyDer::Pkcs8(pki.server_key.clone_key()),
            )
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let backend = sandbox.port();
    let handshakes = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (h, s) = (Arc::clone(&handshakes), Arc::clone(&stop));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if s.load(Ordering::SeqCst) {
                return;
            }
            let Ok(conn) = conn else { continue };
            let (config, h, s) = (Arc::clone(&config), Arc::clone(&h), Arc::clone(&s));
            std::thread::spawn(move || forward(conn, config, backend, &h, &s));
        }
    });
    Proxy {
        port,
        handshakes,
        stop,
    }
}

/// Shuttles bytes between the TLS client and the sandbox until either side
/// closes, the TLS handshake fails, or the proxy stops.
fn forward(
    client: TcpStream,
    config: Arc<rustls::ServerConfig>,
    backend: u16,
    handshakes: &Mutex<Vec<Option<String>>>,
    stop: &AtomicBool,
) {
    let slice = Some(Duration::from_millis(5));
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let _ = client.set_read_timeout(slice);
    let _ = client.set_write_timeout(Some(WAIT));
    let _ = client.set_nodelay(true);
    let mut tls = rustls::StreamOwned::new(conn, client);
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", backend)) else {
        return;
    };
    let _ = server.set_read_timeout(slice);
    let _ = server.set_nodelay(true);
    let mut recorded = false;
    let mut buf = vec![0u8; 16 * 1024];
    let quiet = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )
    };
    while !stop.load(Ordering::SeqCst) {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if server.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if quiet(&e) => {}
            Err(_) => break,
        }
        if !recorded && !tls.conn.is_handshaking() {
            recorded = true;
            handshakes
                .lock()
                .unwrap()
                .push(tls.conn.server_name().map(str::to_string));
        }
        match server.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if tls.write_all(&buf[..n]).and_then(|_| tls.flush()).is_err() {
                    break;
                }
            }
            Err(e) if quiet(&e) => {}
            Err(_) => break,
        }
    }
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

/// Options for the sandbox's administrator at `url`, trusting `ca_file`.
fn options(sb: &Sandbox, url: &str, ca_file: Option<&PathBuf>) -> SessionOptions {
    let o = admin_options(sb).server_url(url).max_attempts(1);
    match ca_file {
        Some(f) => o.ca_bundle(f),
        None => o,
    }
}

#[test]
fn the_api_and_the_event_hub_work_over_tls_with_the_ca_bundle() {
    let sb = sandbox();
    let pki = pki(&["127.0.0.1", "localhost"]);
    let proxy = proxy(&pki, &sb);
    // By name, so the certificate's DNS name and SNI are checked too.
    let url = format!("https://localhost:{}", proxy.port);

    // The HTTP API through TLS.
    let watcher =
        Session::with_options(options(&sb, &url, Some(&pki.ca_file))).expect("session over TLS");
    let alpha = project_id(&watcher, "alpha");
    let before = proxy.handshakes.lock().unwrap().len();
    assert!(before >= 1, "the API went through the TLS proxy");

    // The hub over wss://, receiving the update of a commit.
    let hub = watcher.event_hub();
    let seen = Arc::new(Mutex::new(Vec::new()));
    hub.subscribe(
        "topic=ftrack.update and data.user.name=admin",
        recorder(&seen, None),
        None,
        100,
    )
    .unwrap();
    hub.set_options(fast());
    hub.connect(WAIT).expect("the hub connects over wss://");
    assert!(hub.connected());
    // Connected means the server sent its connect packet, which it does once
    // the connection is registered.
    assert_eq!(sb.event_connections(), 1, "the sandbox holds the WebSocket");
    {
        let names = proxy.handshakes.lock().unwrap();
        assert!(
            names.len() >= before + 2,
            "the handshake GET and the WebSocket each went through TLS: {names:?}"
        );
        assert!(
            names.iter().all(|n| n.as_deref() == Some("localhost")),
            "every client sent SNI: {names:?}"
        );
    }

    let writer = Session::with_options(options(
        &sb,
        &format!("https://127.0.0.1:{}", proxy.port),
        Some(&pki.ca_file),
    ))
    .expect("a second session over TLS, by IP address");
    writer
        .call(&json!([{"action": "update", "entity_type": "Project", "entity_key": [alpha], "entity_data": {"full_name": "Alpha over TLS"}}]))
        .expect("update");
    assert!(
        dispatch_until(&watcher, || !seen.lock().unwrap().is_empty()),
        "the ftrack.update arrives over wss://"
    );
    let e = seen.lock().unwrap()[0].clone();
    assert_eq!(e.topic, "ftrack.update");
    let entity = &e.data["entities"][0];
    assert_eq!(entity["entityId"], alpha.as_str());
    assert_eq!(entity["changes"]["fullname"]["new"], "Alpha over TLS");

    // Publishing and replies over wss:// (writes from the serve loop, and
    // reads after the short read timeouts it sets on the socket under TLS).
    let whub = writer.event_hub();
    whub.set_options(EventHubOptions {
        dispatch_thread: true,
        ..fast()
    });
    let pings = Arc::new(Mutex::new(Vec::new()));
    whub.subscribe(
        "topic=studio.ping",
        recorder(&pings, Some(json!({"pong": "tls"}))),
        None,
        100,
    )
    .unwrap();
    whub.connect(WAIT).expect("the second hub connects");
    let until = Instant::now() + WAIT;
    let reply = loop {
        match hub.publish_and_wait(Event::new("studio.ping", json!({})), Duration::from_secs(1)) {
            Ok(r) => break r,
            Err(e) if Instant::now() < until => assert_eq!(e.kind(), ErrorKind::Timeout, "{e}"),
            Err(e) => panic!("no reply over wss://: {e}"),
        }
    };
    assert_eq!(reply.data, json!({"pong": "tls"}));
    whub.disconnect();
    hub.disconnect();
}

/// The hub's connection attempt without the test CA: refused as untrusted.
/// The message of a connection refused for TLS, checked not to carry `key`.
fn refused(hub: &ftrack::EventHub, key: &str) -> String {
    let err = hub
        .connect(WAIT)
        .expect_err("the certificate is not trusted");
    hub.disconnect();
    let message = err.to_string();
    assert_eq!(err.kind(), ErrorKind::Tls, "{message}");
    assert!(!message.contains(key), "the key leaked: {message}");
    message
}

#[test]
fn without_the_ca_the_hub_refuses_the_server_and_says_how_to_trust_it() {
    let sb = sandbox();
    let pki = pki(&["127.0.0.1", "localhost"]);
    let proxy = proxy(&pki, &sb);
    let url = format!("https://127.0.0.1:{}", proxy.port);
    let key = sb.admin_key().to_string();

    // The platform's verifier does not know the test CA.
    let hub = ftrack::EventHub::detached(
        &url,
        sb.admin_user(),
        &key,
        EventHubOptions {
            max_reconnect_attempts: Some(1),
            ..fast()
        },
    );
    let message = refused(&hub, &key);
    assert!(
        message.contains("the certificate of 127.0.0.1 is not trusted"),
        "{message}"
    );
    assert!(message.contains("SessionOptions::ca_bundle"), "{message}");
    let last = hub.last_error().unwrap_or_default();
    assert!(last.contains("not trusted"), "{last}");
    assert!(!last.contains(&key), "the key leaked: {last}");
    assert_eq!(sb.event_connections(), 0);

    // The HTTP side refuses it the same way.
    let err = Session::with_options(options(&sb, &url, None)).expect_err("untrusted");
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(!err.to_string().contains(&key), "the key leaked: {err}");

    // With the CA the detached hub connects.
    let hub = ftrack::EventHub::detached_with_ca_bundle(
        &url,
        sb.admin_user(),
        &key,
        &pki.ca_file,
        fast(),
    );
    hub.connect(WAIT).expect("trusted with the CA bundle");
    hub.disconnect();
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let sb = sandbox();
    let pki = pki(&["files.example.com"]);
    let proxy = proxy(&pki, &sb);
    let key = sb.admin_key().to_string();
    let hub = ftrack::EventHub::detached_with_ca_bundle(
        &format!("https://127.0.0.1:{}", proxy.port),
        sb.admin_user(),
        &key,
        &pki.ca_file,
        EventHubOptions {
            max_reconnect_attempts: Some(1),
            ..fast()
        },
    );
    let message = refused(&hub, &key);
    assert!(
        message.contains("the certificate of 127.0.0.1 is not trusted: it is for another name"),
        "{message}"
    );
}
