//! The event hub over real sockets: handshake, WebSocket, subscriptions,
//! routing by expression and target, ftrack.update after commits, private
//! projects, and the bounds.

mod common;

use common::{call, call_as, demo, id_of, raw};
use ftrack_sandbox::events::EventLimits;
use ftrack_sandbox::{Limits, Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

/// A raw Socket.IO 0.9 client, as the Python one speaks it.
struct Client {
    ws: WebSocket<TcpStream>,
    next_ack: u64,
}

fn handshake(sb: &Sandbox, user: &str, key: &str) -> (u16, String) {
    let req = format!(
        "GET /socket.io/1/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nftrack-user: {user}\r\nftrack-api-key: {key}\r\n\r\n"
    );
    let (status, body) = raw(&sb.url(), req.as_bytes());
    (status, String::from_utf8_lossy(&body).to_string())
}

fn connect_ws(
    sb: &Sandbox,
    path_and_query: &str,
) -> Result<WebSocket<TcpStream>, tungstenite::Error> {
    let addr = sb.url().trim_start_matches("http://").to_string();
    let stream = TcpStream::connect(&addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let url = format!("ws://{addr}{path_and_query}");
    tungstenite::client::client(url, stream)
        .map(|(ws, _)| ws)
        .map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => e,
            tungstenite::HandshakeError::Interrupted(_) => {
                tungstenite::Error::Io(std::io::ErrorKind::WouldBlock.into())
            }
        })
}

impl Client {
    fn connect(sb: &Sandbox, user: &str) -> Client {
        let (status, body) = handshake(sb, user, &format!("demo-key-{user}"));
        assert_eq!(status, 200, "{body}");
        let sid = body.split(':').next().expect("sid").to_string();
        let ws = connect_ws(sb, &format!("/socket.io/1/websocket/{sid}")).expect("websocket");
        let mut c = Client { ws, next_ack: 0 };
        assert_eq!(c.recv_raw(), "1::");
        c
    }

    fn recv_raw(&mut self) -> String {
        loop {
            match self.ws.read().expect("read packet") {
                Message::Text(t) => return t.to_string(),
                _ => continue,
            }
        }
    }

    /// The next event, skipping heartbeats and acks; None after `wait`.
    fn event_within(&mut self, wait: Duration) -> Option<Value> {
        let until = Instant::now() + wait;
        self.ws
            .get_mut()
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let found = loop {
            if Instant::now() >= until {
                break None;
            }
            match self.ws.read() {
                Ok(Message::Text(t)) if t.starts_with("5:") => {
                    let data = t.splitn(4, ':').nth(3).expect("data");
                    let v: Value = serde_json::from_str(data).expect("json");
                    break Some(v["args"][0].clone());
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("read: {e}"),
            }
        };
        self.ws
            .get_mut()
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        found
    }

    fn event(&mut self) -> Value {
        self.event_within(Duration::from_secs(10))
            .expect("an event within 10 s")
    }

    /// Publishes with an ack request and returns the ack's argument.
    fn publish(&mut self, event: Value) -> Value {
        self.next_ack += 1;
        let n = self.next_ack;
        let packet = format!(
            "5:{n}+::{}",
            json!({"name": "ftrack.event", "args": [event]})
        );
        self.ws.send(Message::text(packet)).expect("send");
        loop {
            let t = self.recv_raw();
            if let Some(rest) = t.strip_prefix("6:::") {
                let (id, args) = rest.split_once('+').expect("ack args");
                assert_eq!(id, n.to_string());
                let v: Value = serde_json::from_str(args).expect("ack json");
                return v[0].clone();
            }
        }
    }

    fn subscribe(&mut self, id: &str, expression: &str, extra: Value) -> Value {
        let mut subscriber = json!({"id": id});
        if let Value::Object(m) = extra {
            subscriber.as_object_mut().expect("object").extend(m);
        }
        self.publish(json!({
            "topic": "ftrack.meta.subscribe",
            "data": {"subscriber": subscriber, "subscription": expression},
        }))
    }
}

#[test]
fn handshake_answers_a_session_id_and_refuses_bad_credentials() {
    let sb = demo();
    let (status, body) = handshake(&sb, "admin", "demo-key-admin");
    assert_eq!(status, 200);
    let parts: Vec<&str> = body.split(':').collect();
    assert_eq!(parts.len(), 4, "{body}");
    assert!(parts[0].len() >= 16);
    assert!(parts[3].split(',').any(|t| t == "websocket"));
    let (status, body) = handshake(&sb, "admin", "wrong");
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("wrong"));
    // The JavaScript client's query parameters.
    let req = "GET /socket.io/1/?api_user=artist&api_key=demo-key-artist HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_eq!(raw(&sb.url(), req.as_bytes()).0, 200);
    // A WebSocket with an unknown session id is refused.
    assert!(connect_ws(&sb, "/socket.io/1/websocket/nosuchsession").is_err());
    // A session id is used once.
    let (_, body) = handshake(&sb, "admin", "demo-key-admin");
    let sid = body.split(':').next().unwrap().to_string();
    let _first = connect_ws(&sb, &format!("/socket.io/1/websocket/{sid}")).expect("first");
    assert!(connect_ws(&sb, &format!("/socket.io/1/websocket/{sid}")).is_err());
    // Credentials of another user with the upgrade are refused.
    let (_, body) = handshake(&sb, "admin", "demo-key-admin");
    let sid = body.split(':').next().unwrap().to_string();
    assert!(
        connect_ws(
            &sb,
            &format!("/socket.io/1/websocket/{sid}?api_user=artist&api_key=demo-key-artist")
        )
        .is_err()
    );
}

#[test]
fn publish_routes_by_expression_and_target_and_acks() {
    let sb = demo();
    let mut a = Client::connect(&sb, "admin");
    let mut b = Client::connect(&sb, "artist");
    assert_eq!(
        a.subscribe(
            "sub-a",
            "topic=test.* and data.n>=2",
            json!({"app": "maya"})
        )["success"],
        true
    );
    assert_eq!(
        b.subscribe("sub-b", "topic=test.one", json!({}))["success"],
        true
    );
    // Duplicate subscriber ids and bad expressions are refused in the ack.
    let dup = a.subscribe("sub-a", "topic=x", json!({}));
    assert_eq!(dup["success"], false, "{dup}");
    let bad = a.subscribe("sub-c", "topic=(", json!({}));
    assert_eq!(bad["success"], false);
    assert!(
        bad["message"].as_str().unwrap().contains("expression"),
        "{bad}"
    );

    assert_eq!(
        b.publish(json!({"topic": "test.one", "data": {"n": 3}}))["success"],
        true
    );
    let got = a.event();
    assert_eq!(got["topic"], "test.one");
    // The source names the authenticated publisher, whatever it claims.
    assert_eq!(got["source"]["user"]["username"], "artist");
    assert_eq!(b.event()["topic"], "test.one");

    // data.n=1 does not match a's expression; b gets it.
    b.publish(json!({"topic": "test.one", "data": {"n": 1}}));
    assert_eq!(b.event()["data"]["n"], 1);
    assert!(a.event_within(Duration::from_millis(300)).is_none());

    // Target: only the subscriber whose metadata matches.
    b.publish(json!({"topic": "test.one", "data": {"n": 5}, "target": "app=maya"}));
    assert_eq!(a.event()["data"]["n"], 5);
    assert!(b.event_within(Duration::from_millis(300)).is_none());

    // Unsubscribe.
    a.publish(json!({"topic": "ftrack.meta.unsubscribe", "data": {"subscriber": {"id": "sub-a"}}}));
    b.publish(json!({"topic": "test.one", "data": {"n": 7}}));
    assert_eq!(b.event()["data"]["n"], 7);
    assert!(a.event_within(Duration::from_millis(300)).is_none());
}

fn role_ids(sb: &Sandbox, user: &str, role: &str) -> (String, String) {
    (
        id_of(
            sb,
            &format!("select id from User where username is \"{user}\""),
        ),
        id_of(
            sb,
            &format!("select id from SecurityRole where name is \"{role}\""),
        ),
    )
}

#[test]
fn commits_publish_ftrack_update_with_changes_and_role_actions() {
    let sb = demo();
    let mut watcher = Client::connect(&sb, "admin");
    watcher.subscribe("w", "topic=ftrack.update", json!({}));
    // An update with old and new values, and the client token.
    let alpha = id_of(&sb, "select id from Project where name is \"alpha\"");
    let (status, reply) = common::post_with(
        &sb.url(),
        "admin",
        "demo-key-admin",
        &[("ftrack-clienttoken", "token-1")],
        &json!([{"action": "update", "entity_type": "Project", "entity_key": [alpha], "entity_data": {"full_name": "Alpha 2"}}]),
    );
    assert_eq!(status, 200, "{reply}");
    let e = watcher.event();
    assert_eq!(e["topic"], "ftrack.update");
    assert_eq!(e["data"]["clientToken"], "token-1");
    assert_eq!(e["data"]["user"]["name"], "admin");
    let ent = &e["data"]["entities"][0];
    assert_eq!(ent["entityId"], alpha.as_str());
    assert_eq!(ent["entityType"], "show");
    assert_eq!(ent["entity_type"], "Project");
    assert_eq!(ent["action"], "update");
    assert_eq!(ent["keys"], json!(["fullname"]));
    assert_eq!(
        ent["changes"]["fullname"],
        json!({"old": "Project Alpha", "new": "Alpha 2"})
    );
    assert_eq!(ent["parents"][0]["entityId"], alpha.as_str());

    // A role action is a change of UserSecurityRole.
    let (artist, pm) = role_ids(&sb, "artist", "Project Manager");
    let r = call(
        &sb,
        json!([{"action": "add_user_security_role", "user_id": artist, "role_id": pm}]),
    );
    assert!(r.is_array(), "{r}");
    let e = watcher.event();
    let ent = &e["data"]["entities"][0];
    assert_eq!(ent["entity_type"], "UserSecurityRole");
    assert_eq!(ent["action"], "add");
    assert_eq!(ent["changes"]["userid"]["new"], artist.as_str());
    assert_eq!(ent["changes"]["roleid"]["new"], pm.as_str());
    let usr_id = ent["entityId"].as_str().unwrap().to_string();

    // Granting a project: a UserSecurityRoleProject added under the project.
    let gamma = id_of(&sb, "select id from Project where name is \"gamma\"");
    call(
        &sb,
        json!([{"action": "grant_user_security_role_project", "user_id": artist, "role_id": pm, "project_id": gamma}]),
    );
    let ent = watcher.event()["data"]["entities"][0].clone();
    assert_eq!(ent["entity_type"], "UserSecurityRoleProject");
    assert_eq!(ent["action"], "add");
    assert_eq!(ent["changes"]["projectid"]["new"], gamma.as_str());
    assert_eq!(ent["changes"]["user_role_id"]["new"], usr_id.as_str());
    assert_eq!(ent["parentId"], gamma.as_str());

    // Removing the role removes it and (by cascade) its project grant.
    call(
        &sb,
        json!([{"action": "remove_user_security_role", "user_id": artist, "role_id": pm}]),
    );
    let e = watcher.event();
    let mut removed: Vec<String> = e["data"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            format!(
                "{} {}",
                x["entity_type"].as_str().unwrap(),
                x["action"].as_str().unwrap()
            )
        })
        .collect();
    removed.sort();
    assert_eq!(
        removed,
        ["UserSecurityRole remove", "UserSecurityRoleProject remove"]
    );

    // A failed batch publishes nothing.
    let r = call(
        &sb,
        json!([{"action": "remove_user_security_role", "user_id": artist, "role_id": pm}]),
    );
    assert!(r.is_object());
    assert!(watcher.event_within(Duration::from_millis(500)).is_none());
}

#[test]
fn updates_of_a_private_project_reach_only_users_who_see_it() {
    let sb = demo();
    let mut artist = Client::connect(&sb, "artist"); // open projects only
    let mut pm = Client::connect(&sb, "pm"); // alpha and private gamma
    artist.subscribe("a", "topic=ftrack.update", json!({}));
    pm.subscribe("p", "topic=ftrack.update", json!({}));
    let gamma = id_of(&sb, "select id from Project where name is \"gamma\"");
    let beta = id_of(&sb, "select id from Project where name is \"beta\"");
    call(
        &sb,
        json!([{"action": "update", "entity_type": "Project", "entity_key": [gamma], "entity_data": {"full_name": "Secret"}}]),
    );
    let e = pm.event();
    assert_eq!(e["data"]["entities"][0]["entityId"], gamma.as_str());
    assert!(
        artist.event_within(Duration::from_millis(500)).is_none(),
        "artist must not see gamma"
    );
    // A batch touching both: each sees what it may see.
    call(
        &sb,
        json!([
            {"action": "update", "entity_type": "Project", "entity_key": [gamma], "entity_data": {"full_name": "Secret 2"}},
            {"action": "update", "entity_type": "Project", "entity_key": [beta], "entity_data": {"full_name": "Beta 2"}},
        ]),
    );
    let seen = artist.event();
    let ids: Vec<&str> = seen["data"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["entityId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [beta.as_str()]);
    assert!(!seen.to_string().contains("Secret"));
    // pm sees alpha and gamma, not beta.
    let seen = pm.event();
    let ids: Vec<&str> = seen["data"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["entityId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [gamma.as_str()]);
    // Granting artist gamma takes effect for the next update without reconnecting.
    let (artist_id, user_role) = role_ids(&sb, "artist", "User");
    call(
        &sb,
        json!([{"action": "grant_user_security_role_project", "user_id": artist_id, "role_id": user_role, "project_id": gamma}]),
    );
    let _grant = artist.event();
    call(
        &sb,
        json!([{"action": "update", "entity_type": "Project", "entity_key": [gamma], "entity_data": {"full_name": "Secret 3"}}]),
    );
    assert_eq!(
        artist.event()["data"]["entities"][0]["entityId"],
        gamma.as_str()
    );
    // pm got the grant (on gamma, which it sees) and the update.
    assert_eq!(
        pm.event()["data"]["entities"][0]["entity_type"],
        "UserSecurityRoleProject"
    );
    assert_eq!(pm.event()["data"]["entities"][0]["entity_type"], "Project");
    // Reads publish nothing.
    let _ = call_as(
        &sb,
        "artist",
        json!([{"action": "query", "expression": "Project"}]),
    );
    assert!(pm.event_within(Duration::from_millis(300)).is_none());
}

#[test]
fn bounds_connections_messages_subscriptions_and_slow_readers() {
    let sb = Sandbox::start(SandboxConfig {
        limits: Limits {
            events: EventLimits {
                connections: 2,
                max_message: 4096,
                subscriptions: 3,
                outbox: 4,
                ..EventLimits::default()
            },
            ..Limits::default()
        },
        ..SandboxConfig::demo()
    })
    .expect("start");
    let mut a = Client::connect(&sb, "admin");
    let mut b = Client::connect(&sb, "artist");
    // A third connection is refused (503), the others keep working.
    let (_, body) = handshake(&sb, "pm", "demo-key-pm");
    let sid = body.split(':').next().unwrap().to_string();
    match connect_ws(&sb, &format!("/socket.io/1/websocket/{sid}")) {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status().as_u16(), 503),
        other => panic!("expected 503, got {:?}", other.map(|_| ())),
    }
    for i in 0..3 {
        assert_eq!(
            a.subscribe(&format!("s{i}"), "topic=t", json!({}))["success"],
            true
        );
    }
    let over = a.subscribe("s3", "topic=t", json!({}));
    assert_eq!(over["success"], false);
    assert!(
        over["message"].as_str().unwrap().contains("limit"),
        "{over}"
    );
    // A message over the limit closes that connection only.
    let big = format!(
        "5:::{}",
        json!({"name": "ftrack.event", "args": [{"topic": "t", "data": "x".repeat(5000)}]})
    );
    let _ = b.ws.send(Message::text(big));
    let closed = (0..100).any(|_| matches!(b.ws.read(), Ok(Message::Close(_)) | Err(_)));
    assert!(closed, "the oversized message must close the connection");
    // A client that never reads is disconnected once its outbox is full.
    let mut c = Client::connect(&sb, "artist");
    c.subscribe("c", "topic=t", json!({}));
    for i in 0..200 {
        a.publish(json!({"topic": "t", "data": {"i": i}}));
    }
    let until = Instant::now() + Duration::from_secs(10);
    let mut dropped = false;
    while Instant::now() < until {
        match c.ws.read() {
            Ok(Message::Close(_)) | Err(_) => {
                dropped = true;
                break;
            }
            Ok(Message::Text(t)) if t == "0::" => {
                dropped = true;
                break;
            }
            _ => {}
        }
    }
    assert!(dropped, "a slow reader must be disconnected");
}
