//! Integer and float attributes over HTTP. The sandbox's schemas have none, so a
//! small fake ftrack server serves a schema with `integer` and `number` attributes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use ftrack::{ErrorKind, SchemaCache, Session, SessionOptions, Value};

/// Answers each action of a batch; returns the server URL and every batch received.
fn fake_server() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut w = conn.try_clone().unwrap();
                let mut r = BufReader::new(conn);
                loop {
                    let mut len = 0;
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).unwrap();
                    let batch: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    log.lock().unwrap().push(batch.clone());
                    let answers: Vec<serde_json::Value> =
                        batch.as_array().unwrap().iter().map(answer).collect();
                    let out = serde_json::to_vec(&answers).unwrap();
                    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", out.len());
                    if w.write_all(&[head.as_bytes(), &out].concat()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

fn answer(op: &serde_json::Value) -> serde_json::Value {
    use serde_json::json;
    match op["action"].as_str().unwrap() {
        "query_server_information" => json!({"version": "dev", "schema_hash": "h"}),
        "query_schemas" => json!([{
            "id": "Gadget", "primary_key": ["id"], "default_projections": ["id", "name"],
            "properties": {
                "id": {"type": "string"}, "name": {"type": "string"},
                "count": {"type": "integer"}, "ratio": {"type": "number"},
                "whole": {"type": "number"}, "big": {"type": "integer"}
            }
        }]),
        "query" if op["expression"].as_str().unwrap().contains("count") => json!({
            "action": "query",
            "data": [{"__entity_type__": "Gadget", "id": "g1", "count": 5, "ratio": 1.5,
                      "whole": 2, "big": 9_007_199_254_740_993_i64}],
            "metadata": {"next": {"offset": null}}
        }),
        "query" => json!({
            "action": "query",
            "data": [{"__entity_type__": "Gadget", "id": "g1", "name": "G"}],
            "metadata": {"next": {"offset": null}}
        }),
        "update" => json!({"action": "update", "data": op["entity_data"]}),
        other => panic!("unexpected action {other}"),
    }
}

#[test]
fn integer_and_float_attributes_from_the_server() {
    let (url, seen) = fake_server();
    let s = Session::with_options(
        SessionOptions::new()
            .server_url(&url)
            .api_key("k")
            .api_user("u")
            .schema_cache(SchemaCache::Disabled),
    )
    .unwrap();
    let g = s.query_one("Gadget").unwrap();
    // Auto-populated over HTTP, typed by the schema.
    assert_eq!(g.get_i64("count").unwrap(), 5);
    assert_eq!(g.get("count").unwrap(), Value::Int(5));
    assert_eq!(g.get_f64("count").unwrap(), 5.0);
    assert_eq!(g.get_f64("ratio").unwrap(), 1.5);
    // A number attribute sent as 2 is a float; a whole float reads as an integer.
    assert_eq!(g.get("whole").unwrap(), Value::Float(2.0));
    assert_eq!(g.get_i64("whole").unwrap(), 2);
    // Integers beyond 2^53 keep every digit.
    assert_eq!(g.get_i64("big").unwrap(), 9_007_199_254_740_993);
    assert_eq!(
        g.get_i64("ratio").unwrap_err().kind(),
        ErrorKind::TypeMismatch
    );
    assert_eq!(
        g.get_string("count").unwrap_err().kind(),
        ErrorKind::TypeMismatch
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        3,
        "start, query, one auto-populate"
    );

    // Setting: an integer into a number attribute becomes a float; a float into an
    // integer attribute is refused.
    g.set("count", Value::Int(6)).unwrap();
    g.set("ratio", Value::Int(3)).unwrap();
    assert_eq!(
        g.set("count", Value::Float(6.5)).unwrap_err().kind(),
        ErrorKind::TypeMismatch
    );
    s.commit().unwrap();
    let sent = seen.lock().unwrap().last().unwrap().clone();
    assert_eq!(sent[0]["entity_data"]["count"], serde_json::json!(6));
    assert_eq!(sent[0]["entity_data"]["ratio"], serde_json::json!(3.0));
    assert_eq!(g.get_i64("count").unwrap(), 6);
    assert_eq!(g.get_f64("ratio").unwrap(), 3.0);
}
