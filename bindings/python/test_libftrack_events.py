"""Tests the libftrack package's event hub (``libftrack/event/``) from the
checkout, against the sandbox: run by ffi/tests/bindings_python_events.rs with
FTRACK_LIBRARY and FTRACK_SERVER / FTRACK_API_USER / FTRACK_API_KEY set. The
installed package is tested at length by
tests/conformance/test_libftrack_events.py."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import libftrack  # noqa: E402  (the checkout's package, over ftrack_ctypes)
from libftrack.event.base import Event  # noqa: E402


def main():
    a = libftrack.Session(plugin_paths=[], schema_cache_path=False)
    b = libftrack.Session(plugin_paths=[], schema_cache_path=False, auto_connect_event_hub=True)
    try:
        a.event_hub.subscribe("topic=(", lambda e: None)
        raise AssertionError("a bad expression must fail")
    except libftrack.exception.ParseError as e:
        assert e.status_name == "FTRACK_STATUS_INVALID_ARGUMENT", e
    updates = []
    a.event_hub.subscribe("topic=ftrack.update", updates.append)
    a.event_hub.subscribe("topic=py.ping", lambda e: {"pong": e["data"]["n"] + 1}, subscriber={"id": "py-responder"})
    a.event_hub.subscribe("topic=py.ping", lambda e: 1 / 0, priority=1)  # fails, is logged, others still run
    assert a.event_hub.publish(Event("py.ping", data={"n": 1}), synchronous=True) == [{"pong": 2}]
    a.event_hub.connect()
    deadline = time.time() + 20
    while not b.event_hub.connected and time.time() < deadline:
        time.sleep(0.05)
    assert a.event_hub.connected and b.event_hub.connected

    project = b.query('Project where name is "alpha"').one()
    n = 0
    while not updates and time.time() < deadline:
        if n % 10 == 0:
            project["full_name"] = "From Python %d" % n
            b.commit()
        n += 1
        a.event_hub.wait(0.2)
    assert updates, "no ftrack.update"
    assert updates[0]["data"]["entities"][0]["changes"]["fullname"]["new"].startswith("From Python")

    replies = []
    stop = threading.Event()
    responder = threading.Thread(target=lambda: [a.event_hub.wait(0.1) for _ in iter(stop.is_set, True)])
    responder.start()
    deadline = time.time() + 20
    while not replies and time.time() < deadline:
        b.event_hub.publish(
            Event("py.ping", data={"n": 41}), on_reply=lambda e: replies.append((e, threading.get_ident()))
        )
        b.event_hub.wait(1.0)
    stop.set()
    responder.join()
    assert replies, "no reply"
    reply, thread = replies[0]
    assert reply["data"] == {"pong": 42} and reply["topic"] == "ftrack.meta.reply", reply
    assert reply["source"]["id"] == "py-responder", reply
    assert thread == threading.get_ident(), "on_reply runs in the thread calling wait()"
    a.close()
    b.close()
    print("python event hub test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
