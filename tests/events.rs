//! The event hub client against the sandbox's hub, over 127.0.0.1: updates
//! from commits, publish and reply, priorities, targets, failing handlers,
//! the disconnected queue, local events and plugins, reconnection after a
//! server restart, and the heartbeat timeout.

mod support;

use ftrack::event::{ConnectionState, Handler, HandlerResult};
use ftrack::hooks::LogLevel;
use ftrack::{Event, EventHubOptions, Session};
use ftrack_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::events::{WAIT, dispatch_until, fast, project_id, recorder};
use support::{admin, admin_options, options_as, sandbox, session_as};

fn rename(s: &Session, project: &str, full_name: &str) {
    s.call(&json!([{"action": "update", "entity_type": "Project", "entity_key": [project], "entity_data": {"full_name": full_name}}]))
        .expect("update");
}

#[test]
fn a_commit_reaches_a_subscriber_as_ftrack_update_on_the_dispatching_thread() {
    let sb = sandbox();
    let watcher = admin(&sb);
    let hub = watcher.event_hub();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let thread = Arc::new(Mutex::new(None));
    let t = Arc::clone(&thread);
    let s2 = Arc::clone(&seen);
    hub.subscribe(
        "topic=ftrack.update and data.user.name=admin",
        Arc::new(move |e: &Event| {
            *t.lock().unwrap() = Some(std::thread::current().id());
            s2.lock().unwrap().push(e.clone());
            Ok(None)
        }),
        None,
        100,
    )
    .unwrap();
    hub.subscribe("topic=ftrack.update", recorder(&seen, None), None, 100)
        .unwrap();
    hub.connect(WAIT).expect("connects");
    assert!(hub.connected());
    let writer = admin(&sb);
    let alpha = project_id(&writer, "alpha");
    rename(&writer, &alpha, "Alpha renamed");
    // Nothing runs until the host dispatches.
    std::thread::sleep(Duration::from_millis(300));
    assert!(seen.lock().unwrap().is_empty());
    assert!(dispatch_until(&watcher, || !seen
        .lock()
        .unwrap()
        .is_empty()));
    let e = seen.lock().unwrap()[0].clone();
    assert_eq!(e.topic, "ftrack.update");
    let ent = &e.data["entities"][0];
    assert_eq!(ent["entityId"], alpha.as_str());
    assert_eq!(ent["changes"]["fullname"]["new"], "Alpha renamed");
    assert_eq!(*thread.lock().unwrap(), Some(std::thread::current().id()));
}

#[test]
fn publish_and_wait_gets_the_reply_a_handler_returns() {
    let sb = sandbox();
    let responder = admin(&sb);
    let rhub = responder.event_hub();
    rhub.set_options(EventHubOptions {
        dispatch_thread: true,
        ..fast()
    });
    let seen = Arc::new(Mutex::new(Vec::new()));
    rhub.subscribe(
        "topic=studio.ping",
        recorder(&seen, Some(json!({"pong": 1}))),
        Some(json!({"id": "responder", "app": "farm"})),
        100,
    )
    .unwrap();
    rhub.connect(WAIT).unwrap();
    let asker = session_as(&sb, "artist");
    let ahub = asker.event_hub();
    ahub.connect(WAIT).unwrap();
    // The subscription reaches the server shortly after connecting; retry
    // the question until it is answered.
    let until = Instant::now() + WAIT;
    let reply = loop {
        match ahub.publish_and_wait(
            Event::new("studio.ping", json!({"n": 1})),
            Duration::from_secs(1),
        ) {
            Ok(r) => break r,
            Err(e) if Instant::now() < until => assert_eq!(e.kind(), ftrack::ErrorKind::Timeout),
            Err(e) => panic!("no reply: {e}"),
        }
    };
    assert_eq!(reply.topic, "ftrack.meta.reply");
    assert_eq!(reply.data, json!({"pong": 1}));
    assert_eq!(reply.source["id"], "responder");
    let got = seen.lock().unwrap()[0].clone();
    assert_eq!(got.source["user"]["username"], "artist");
    // A question nobody answers times out with a message saying what to check.
    let err = ahub
        .publish_and_wait(
            Event::new("studio.nobody", json!({})),
            Duration::from_millis(300),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ftrack::ErrorKind::Timeout);
    assert!(err.to_string().contains("subscriber"), "{err}");
}

#[test]
fn publish_with_reply_runs_the_reply_handler_for_every_reply_where_the_host_dispatches() {
    let sb = sandbox();
    // Two responders on other sessions, each answering on its own dispatch thread.
    let mut responders = Vec::new();
    for name in ["first", "second"] {
        let s = admin(&sb);
        let hub = s.event_hub();
        hub.set_options(EventHubOptions {
            dispatch_thread: true,
            ..fast()
        });
        hub.subscribe(
            "topic=studio.question",
            recorder(&Arc::default(), Some(json!({"from": name}))),
            Some(json!({"id": name})),
            100,
        )
        .unwrap();
        hub.connect(WAIT).unwrap();
        responders.push(s);
    }
    let asker = admin(&sb);
    let hub = asker.event_hub();
    hub.connect(WAIT).unwrap();
    let replies = Arc::new(Mutex::new(Vec::<(Event, std::thread::ThreadId)>::new()));
    let r2 = Arc::clone(&replies);
    let on_reply: Handler = Arc::new(move |e: &Event| {
        r2.lock()
            .unwrap()
            .push((e.clone(), std::thread::current().id()));
        // A failing reply handler is logged; the hub goes on.
        Err("reply handler failure".into())
    });
    // The responders' subscriptions reach the server asynchronously: ask
    // until both answered one question.
    let until = Instant::now() + WAIT;
    let mut asked = Vec::new();
    let both = |asked: &[String]| {
        let got = replies.lock().unwrap();
        asked.iter().any(|id| {
            let mut from: Vec<_> = got
                .iter()
                .filter(|(e, _)| e.in_reply_to_event.as_deref() == Some(id.as_str()))
                .map(|(e, _)| e.data["from"].clone())
                .collect();
            from.sort_by_key(|v| v.to_string());
            from == [json!("first"), json!("second")]
        })
    };
    while !both(&asked) && Instant::now() < until {
        let id = hub
            .publish_with_reply(
                Event::new("studio.question", json!({})),
                Arc::clone(&on_reply),
            )
            .unwrap();
        asked.push(id);
        // Replies wait for the host: nothing runs without dispatch.
        let before = replies.lock().unwrap().len();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(replies.lock().unwrap().len(), before);
        hub.dispatch(Duration::from_millis(200));
    }
    assert!(both(&asked), "{:?}", replies.lock().unwrap());
    let got = replies.lock().unwrap();
    assert!(
        got.iter()
            .all(|(e, t)| e.topic == "ftrack.meta.reply" && *t == std::thread::current().id())
    );
    drop(got);
    // It fails as publish does: on a hub that was never connected, with Connection.
    let idle = admin(&sb);
    let err = idle
        .event_hub()
        .publish_with_reply(Event::new("studio.question", json!({})), on_reply)
        .unwrap_err();
    assert_eq!(err.kind(), ftrack::ErrorKind::Connection);
}

#[test]
fn priorities_targets_and_failing_handlers_locally() {
    let sb = sandbox();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let l2 = Arc::clone(&lines);
    let s = Session::with_options(admin_options(&sb).logger(
        LogLevel::Warn,
        Arc::new(move |_, line: &str| l2.lock().unwrap().push(line.to_string())),
    ))
    .unwrap();
    let hub = s.event_hub();
    let order = Arc::new(Mutex::new(Vec::new()));
    let add = |name: &'static str, priority: i32, result: HandlerResult, meta: Value| {
        let o = Arc::clone(&order);
        hub.subscribe(
            "topic=local.* and data.x>=2",
            Arc::new(move |_e: &Event| {
                o.lock().unwrap().push(name);
                if name == "panics" {
                    panic!("handler bug");
                }
                result.clone()
            }),
            Some(meta),
            priority,
        )
        .unwrap()
    };
    add("late", 200, Ok(Some(json!("late"))), json!({"app": "a"}));
    add("fails", 50, Err("no database".into()), json!({"app": "b"}));
    add("panics", 60, Ok(None), json!({"app": "b"}));
    add("early", 10, Ok(Some(json!("early"))), json!({"app": "a"}));
    let results = hub.publish_local(Event::new("local.test", json!({"x": 3})));
    assert_eq!(*order.lock().unwrap(), ["early", "fails", "panics", "late"]);
    assert_eq!(results, [json!("early"), json!("late")]);
    let log = lines.lock().unwrap().join("\n");
    assert!(
        log.contains("failed") && log.contains("no database"),
        "{log}"
    );
    assert!(
        log.contains("panicked") && log.contains("handler bug"),
        "{log}"
    );
    // Not matching the expression: nobody runs.
    order.lock().unwrap().clear();
    hub.publish_local(Event::new("local.test", json!({"x": 1})));
    hub.publish_local(Event::new("other", json!({"x": 5})));
    assert!(order.lock().unwrap().is_empty());
    // A target picks subscribers by their metadata.
    hub.publish_local(Event::new("local.test", json!({"x": 2})).with_target("app=a"));
    assert_eq!(*order.lock().unwrap(), ["early", "late"]);
    // Unsubscribe.
    let subs = hub.subscriptions();
    assert_eq!(subs.len(), 4);
    for (id, _) in subs {
        assert!(hub.unsubscribe(&id));
    }
    order.lock().unwrap().clear();
    hub.publish_local(Event::new("local.test", json!({"x": 2})));
    assert!(order.lock().unwrap().is_empty());
    // Bad expressions are refused with a message saying where.
    let err = hub
        .subscribe("topic=(", recorder(&Arc::default(), None), None, 1)
        .unwrap_err();
    assert_eq!(err.kind(), ftrack::ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("byte"), "{err}");
}

#[test]
fn remote_target_reaches_only_the_matching_subscriber() {
    let sb = sandbox();
    let a = admin(&sb);
    let b = admin(&sb);
    let (seen_a, seen_b) = (
        Arc::new(Mutex::new(Vec::new())),
        Arc::new(Mutex::new(Vec::new())),
    );
    a.event_hub()
        .subscribe(
            "topic=studio.job",
            recorder(&seen_a, None),
            Some(json!({"id": "a", "app": "maya"})),
            100,
        )
        .unwrap();
    b.event_hub()
        .subscribe(
            "topic=studio.job",
            recorder(&seen_b, None),
            Some(json!({"id": "b", "app": "nuke"})),
            100,
        )
        .unwrap();
    a.event_hub().connect(WAIT).unwrap();
    b.event_hub().connect(WAIT).unwrap();
    let publisher = admin(&sb);
    let p = publisher.event_hub();
    p.connect(WAIT).unwrap();
    // Publish until a receives one (subscriptions reach the server asynchronously).
    let until = Instant::now() + WAIT;
    while seen_a.lock().unwrap().is_empty() && Instant::now() < until {
        p.publish(Event::new("studio.job", json!({})).with_target("app=maya"))
            .unwrap();
        a.event_hub().dispatch(Duration::from_millis(200));
    }
    assert!(!seen_a.lock().unwrap().is_empty());
    b.event_hub().dispatch(Duration::from_millis(300));
    assert!(seen_b.lock().unwrap().is_empty(), "b is not the target");
}

#[test]
fn events_published_while_disconnected_are_queued_up_to_the_bound() {
    // A port with nothing listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sb = sandbox();
    let s = admin(&sb);
    let hub = ftrack::event::EventHub::detached(
        &format!("http://127.0.0.1:{port}"),
        "admin",
        "demo-key-admin",
        EventHubOptions {
            max_queued: 3,
            ..fast()
        },
    );
    drop(s);
    let err = hub.publish(Event::new("x", json!({}))).unwrap_err();
    assert_eq!(
        err.kind(),
        ftrack::ErrorKind::Connection,
        "not connected yet: {err}"
    );
    assert!(hub.connect(Duration::from_secs(5)).is_err());
    assert_eq!(hub.connection_state(), ConnectionState::Connecting);
    for i in 0..3 {
        hub.publish(Event::new("x", json!({"i": i})))
            .expect("queued");
    }
    let err = hub.publish(Event::new("x", json!({"i": 3}))).unwrap_err();
    assert_eq!(err.kind(), ftrack::ErrorKind::Connection);
    assert!(err.to_string().contains("3 events"), "{err}");
    hub.disconnect();
}

#[test]
fn a_plugin_receives_session_ready_without_any_server_connection() {
    let sb = sandbox();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = Arc::clone(&seen);
    let options = options_as(&sb, "artist")
        .plugin(
            "ready-watcher",
            Arc::new(move |session: &Session| {
                session
                    .event_hub()
                    .subscribe(
                        "topic=ftrack.api.session.ready",
                        recorder(&s2, None),
                        None,
                        100,
                    )
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }),
        )
        .plugin(
            "broken",
            Arc::new(|_s: &Session| Err("missing dependency".into())),
        );
    let s = Session::with_options(options).unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(seen.lock().unwrap()[0].topic, "ftrack.api.session.ready");
    assert!(!s.event_hub().connected());
}

#[test]
fn after_a_server_restart_the_subscriber_gets_new_events_without_doing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("studio.db");
    let config = |port| SandboxConfig {
        port,
        db: Some(db.clone()),
        ..SandboxConfig::demo()
    };
    let sb = Sandbox::start(config(0)).unwrap();
    let port = sb.port();
    let watcher = Session::with_options(
        admin_options(&sb)
            .auto_connect_event_hub(true)
            .event_hub_options(fast()),
    )
    .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    watcher
        .event_hub()
        .subscribe("topic=ftrack.update", recorder(&seen, None), None, 100)
        .unwrap();
    let hub = watcher.event_hub();
    let until = Instant::now() + WAIT;
    while !hub.connected() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(hub.connected(), "auto-connect: {:?}", hub.last_error());
    let alpha = project_id(&admin(&sb), "alpha");
    rename(&admin(&sb), &alpha, "before restart");
    assert!(dispatch_until(&watcher, || seen.lock().unwrap().len() == 1));

    drop(sb);
    let sb = {
        let until = Instant::now() + WAIT;
        loop {
            match Sandbox::start(config(port)) {
                Ok(sb) => break sb,
                Err(e) if Instant::now() < until => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("restart on port {port}: {e}"),
            }
        }
    };
    // Keep committing until one arrives: the hub reconnects on its own.
    let writer = admin(&sb);
    let until = Instant::now() + WAIT;
    let mut n = 0;
    while seen.lock().unwrap().len() < 2 && Instant::now() < until {
        n += 1;
        rename(&writer, &alpha, &format!("after restart {n}"));
        watcher.event_hub().dispatch(Duration::from_millis(200));
    }
    let seen = seen.lock().unwrap();
    assert!(seen.len() >= 2, "no event after the restart");
    let name = seen[1].data["entities"][0]["changes"]["fullname"]["new"].clone();
    assert!(
        name.as_str().unwrap().starts_with("after restart"),
        "{name}"
    );
}

#[test]
fn a_silent_server_is_detected_by_the_heartbeat_timeout_and_reconnected() {
    // A hub that completes the handshake and the WebSocket, then says nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let upgrades = Arc::new(Mutex::new(0));
    let u2 = Arc::clone(&upgrades);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let u3 = Arc::clone(&u2);
            std::thread::spawn(move || {
                let mut peek = [0u8; 64];
                let n = conn.peek(&mut peek).unwrap_or(0);
                if String::from_utf8_lossy(&peek[..n]).starts_with("GET /socket.io/1/ ") {
                    let mut c = conn;
                    let mut buf = [0u8; 4096];
                    let _ = std::io::Read::read(&mut c, &mut buf);
                    let body = "sid1:60:60:websocket";
                    let _ = std::io::Write::write_all(
                        &mut c,
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).as_bytes(),
                    );
                    return;
                }
                if let Ok(mut ws) = tungstenite::accept(conn) {
                    *u3.lock().unwrap() += 1;
                    let _ = ws.send(tungstenite::Message::text("1::"));
                    std::thread::sleep(Duration::from_secs(30));
                }
            });
        }
    });
    let hub = ftrack::event::EventHub::detached(
        &url,
        "admin",
        "demo-key-admin",
        EventHubOptions {
            heartbeat_timeout: Duration::from_millis(500),
            ..fast()
        },
    );
    hub.connect(WAIT).expect("first connection");
    let until = Instant::now() + WAIT;
    while *upgrades.lock().unwrap() < 2 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        *upgrades.lock().unwrap() >= 2,
        "the hub must give up on the silent connection and reconnect"
    );
    hub.disconnect();
}

#[test]
fn dropping_the_session_disconnects_its_hub() {
    let sb = sandbox();
    let s = admin(&sb);
    let hub = s.event_hub();
    hub.connect(WAIT).unwrap();
    assert!(hub.connected());
    drop(s);
    assert_eq!(hub.connection_state(), ConnectionState::Disconnected);
    // The server sees the connection go.
    let until = Instant::now() + WAIT;
    while sb_connections(&sb) > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(sb_connections(&sb), 0);
}

fn sb_connections(sb: &Sandbox) -> usize {
    sb.event_connections()
}

#[test]
fn a_hub_that_gave_up_says_so_instead_of_promising_retries() {
    // A port nobody listens on: every attempt fails at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hub = ftrack::EventHub::detached(
        &format!("http://127.0.0.1:{port}"),
        "someone",
        "not-a-real-key",
        EventHubOptions {
            max_reconnect_attempts: Some(1),
            ..fast()
        },
    );
    let err = hub.connect(WAIT).expect_err("nothing listens");
    assert_eq!(hub.connection_state(), ConnectionState::Failed);
    let message = err.to_string();
    assert!(message.contains("gave up"), "{message}");
    assert!(!message.contains("keeps retrying"), "{message}");
}

/// Background threads of a test that run until it ends, also when it fails
/// (a thread still calling the sandbox would keep it from shutting down).
#[derive(Default)]
struct Background {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Runs `step` over and over on a new thread until the test ends.
    fn repeat(&mut self, step: impl Fn() + Send + 'static) {
        let stop = Arc::clone(&self.stop);
        self.threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                step();
            }
        }));
    }

    /// Stops and joins the threads.
    fn finish(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Publishes `race.tick` from `publisher` every millisecond.
fn ticker(background: &mut Background, publisher: &Session) {
    let hub = publisher.event_hub();
    background.repeat(move || {
        let _ = hub.publish(Event::new("race.tick", json!({})));
        std::thread::sleep(Duration::from_millis(1));
    });
}

/// Waits up to WAIT for `flag`.
fn wait_for(flag: &AtomicBool) -> bool {
    let until = Instant::now() + WAIT;
    while !flag.load(Ordering::SeqCst) && Instant::now() < until {
        std::thread::sleep(Duration::from_micros(100));
    }
    flag.load(Ordering::SeqCst)
}

/// The body of a callback that is slow on purpose: counts in `late` a start
/// or an end that finds `gone` set, marks `entered`, sleeps 2 ms in between.
fn slow_call(entered: &AtomicBool, gone: &AtomicBool, late: &AtomicUsize) {
    if gone.load(Ordering::SeqCst) {
        late.fetch_add(1, Ordering::SeqCst);
    }
    entered.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(2));
    if gone.load(Ordering::SeqCst) {
        late.fetch_add(1, Ordering::SeqCst);
    }
}

/// A handler for `race.tick` that marks `entered`, sleeps (so that its call
/// is in progress while the test removes it), and counts in `late` every call
/// that finds `gone` set. It holds `marker`, to see when it is dropped.
fn slow_handler(
    entered: &Arc<AtomicBool>,
    gone: &Arc<AtomicBool>,
    late: &Arc<AtomicUsize>,
    marker: &Arc<()>,
) -> Handler {
    let (entered, gone, late, marker) = (
        Arc::clone(entered),
        Arc::clone(gone),
        Arc::clone(late),
        Arc::clone(marker),
    );
    Arc::new(move |_: &Event| -> HandlerResult {
        let _held = &marker;
        slow_call(&entered, &gone, &late);
        Ok(None)
    })
}

/// The lifetime guarantee: once `unsubscribe` returns, the handler is not
/// running on the dispatching thread and never runs again (even for an event
/// whose dispatch began before), and what it captured has been dropped; a
/// handler may unsubscribe itself without waiting for itself; once `close`
/// returns the same holds for every handler of the hub.
#[test]
fn no_handler_runs_after_unsubscribe_or_close_returned() {
    let sb = sandbox();
    let publisher = admin(&sb);
    publisher.event_hub().connect(WAIT).unwrap();
    let watcher = admin(&sb);
    let hub = watcher.event_hub();
    hub.connect(WAIT).unwrap();
    let mut background = Background::default();
    ticker(&mut background, &publisher);
    let dispatching = hub.clone();
    background.repeat(move || {
        dispatching.dispatch(Duration::from_millis(20));
    });
    let late = Arc::new(AtomicUsize::new(0));
    for round in 0..60 {
        let (entered, gone) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let marker = Arc::new(());
        let id = hub
            .subscribe(
                "topic=race.tick",
                slow_handler(&entered, &gone, &late, &marker),
                None,
                100,
            )
            .unwrap();
        assert!(wait_for(&entered), "round {round}: the handler never ran");
        assert!(hub.unsubscribe(&id));
        gone.store(true, Ordering::SeqCst);
        assert_eq!(
            Arc::strong_count(&marker),
            1,
            "round {round}: the handler was still held after unsubscribe returned"
        );
    }

    // A handler that unsubscribes itself: no deadlock, no later call. (Its
    // id is given: the handler may run before subscribe returns.)
    let calls = Arc::new(AtomicUsize::new(0));
    let removed = Arc::new(Mutex::new(None));
    {
        let (calls, removed, h) = (Arc::clone(&calls), Arc::clone(&removed), hub.clone());
        hub.subscribe(
            "topic=race.tick",
            Arc::new(move |_: &Event| -> HandlerResult {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    *removed.lock().unwrap() = Some(h.unsubscribe("race-self"));
                }
                Ok(None)
            }),
            Some(json!({"id": "race-self"})),
            100,
        )
        .unwrap();
    }
    let until = Instant::now() + WAIT;
    while removed.lock().unwrap().is_none() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(*removed.lock().unwrap(), Some(true));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // close: every handler, while one runs on the dispatching thread.
    let (entered, gone) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let marker = Arc::new(());
    for _ in 0..3 {
        hub.subscribe(
            "topic=race.tick",
            slow_handler(&entered, &gone, &late, &marker),
            None,
            100,
        )
        .unwrap();
    }
    assert!(wait_for(&entered));
    hub.close();
    gone.store(true, Ordering::SeqCst);
    assert_eq!(Arc::strong_count(&marker), 1);
    assert!(hub.subscriptions().is_empty());
    assert_eq!(hub.connection_state(), ConnectionState::Disconnected);
    std::thread::sleep(Duration::from_millis(200));

    background.finish();
    assert_eq!(
        late.load(Ordering::SeqCst),
        0,
        "handler calls after unsubscribe or close returned"
    );
}

/// The same for the library's dispatch thread, reply handlers, and the
/// logger: after `Session::remove_callbacks` returns none of them runs, even
/// though a clone of the session lives on and logs.
#[test]
fn remove_callbacks_waits_for_the_dispatch_thread_and_the_logger() {
    let sb = sandbox();
    let publisher = admin(&sb);
    publisher.event_hub().connect(WAIT).unwrap();
    let mut background = Background::default();
    ticker(&mut background, &publisher);
    let late = Arc::new(AtomicUsize::new(0));

    let (log_entered, log_gone) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let logger: ftrack::hooks::LogFn = {
        let (entered, gone, late) = (
            Arc::clone(&log_entered),
            Arc::clone(&log_gone),
            Arc::clone(&late),
        );
        Arc::new(move |_: LogLevel, _: &str| slow_call(&entered, &gone, &late))
    };
    let session = Session::with_options(admin_options(&sb).logger(LogLevel::Info, logger)).unwrap();
    let hub = session.event_hub();
    hub.set_options(EventHubOptions {
        dispatch_thread: true,
        ..fast()
    });
    let (entered, gone) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let marker = Arc::new(());
    hub.subscribe(
        "topic=race.tick",
        slow_handler(&entered, &gone, &late, &marker),
        None,
        100,
    )
    .unwrap();
    hub.publish_with_reply(
        Event::new("race.nobody", json!({})),
        slow_handler(&entered, &gone, &late, &marker),
    )
    .ok();
    hub.connect(WAIT).unwrap();
    assert!(wait_for(&entered), "the handler never ran");
    assert!(wait_for(&log_entered), "the logger never ran");
    // Another thread keeps the session busy (and logging) meanwhile.
    let busy = session.clone();
    background.repeat(move || {
        let _ = busy.call(&json!([{"action": "query_server_information"}]));
    });
    std::thread::sleep(Duration::from_millis(50));
    session.remove_callbacks();
    gone.store(true, Ordering::SeqCst);
    log_gone.store(true, Ordering::SeqCst);
    assert_eq!(
        Arc::strong_count(&marker),
        1,
        "a handler was still held after remove_callbacks returned"
    );
    assert!(!hub.connected());
    std::thread::sleep(Duration::from_millis(300));
    background.finish();
    assert_eq!(
        late.load(Ordering::SeqCst),
        0,
        "callback calls after remove_callbacks returned"
    );
}
