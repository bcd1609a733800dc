"""Tests ftrack_events.py against the sandbox (run by ffi/tests/bindings_python_events.rs
with FTRACK_LIBRARY and FTRACK_SERVER / FTRACK_API_USER / FTRACK_API_KEY set)."""

import sys
import time

import ftrack_ctypes
from ftrack_events import Event, EventHub, EventHubError


def main():
    a = ftrack_ctypes.Session()
    b = ftrack_ctypes.Session()
    hub_a = EventHub(a.raw, ftrack_ctypes.library)
    hub_b = EventHub(b.raw, ftrack_ctypes.library)
    try:
        hub_a.subscribe("topic=(", lambda e: None)
        raise AssertionError("a bad expression must fail")
    except EventHubError as e:
        assert e.name == "FTRACK_STATUS_INVALID_ARGUMENT", e
    updates = []
    hub_a.subscribe("topic=ftrack.update", updates.append)
    hub_a.subscribe("topic=py.ping", lambda e: {"pong": e["data"]["n"] + 1}, subscriber={"id": "py-responder"})
    hub_a.subscribe("topic=py.ping", lambda e: 1 / 0, priority=1)  # fails, is logged, others still run
    hub_a.connect()
    hub_b.connect()
    assert hub_a.connected and hub_b.connected

    project = b.query_one('select id, full_name from Project where name is "alpha"')
    deadline = time.time() + 20
    n = 0
    while not updates and time.time() < deadline:
        if n % 10 == 0:
            project.set_string("full_name", "From Python %d" % n)
            b.commit()
        n += 1
        hub_a.wait(0.2)
    assert updates, "no ftrack.update"
    assert updates[0]["data"]["entities"][0]["changes"]["fullname"]["new"].startswith("From Python")

    replies = []
    deadline = time.time() + 20
    while not replies and time.time() < deadline:
        hub_b.publish(Event("py.ping", data={"n": 41}), on_reply=replies.append)
        hub_a.wait(1.0)
    assert replies, "no reply"
    assert replies[0]["data"] == {"pong": 42}, replies[0]
    assert replies[0]["topic"] == "ftrack.meta.reply"
    hub_a.disconnect()
    hub_b.disconnect()
    print("python event hub test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
