"""The official ftrack-python-api event hub as a peer of libftrack.

Run by tests/conformance_events.rs with the sandbox URL, user and key as
arguments. Talks over stdout/stdin, one line each:

  READY                       subscribed to ftrack.update; commit something
  UPDATE <json event data>    the ftrack.update that arrived
  REPLY <json reply data>     the reply to the question it published
  ERROR <message>             something failed (the process exits 1)
"""

import json
import sys
import time

import ftrack_api
import ftrack_api.event.base
import ftrack_api.event.hub


def main():
    url, user, key = sys.argv[1:4]
    hub = ftrack_api.event.hub.EventHub(url, user, key)
    hub.connect()
    updates = []
    hub.subscribe("topic=ftrack.update", lambda event: updates.append(event))
    # The subscription is acknowledged asynchronously; give the server its packet.
    hub.wait(0.5)
    print("READY", flush=True)
    deadline = time.time() + 20
    while not updates and time.time() < deadline:
        hub.wait(0.2)
    if not updates:
        print("ERROR no ftrack.update within 20 s", flush=True)
        return 1
    print("UPDATE " + json.dumps(updates[0]["data"]), flush=True)

    # Wait for libftrack to say its responder is subscribed.
    line = sys.stdin.readline().strip()
    if line != "RESPONDER":
        print("ERROR expected RESPONDER, got %r" % line, flush=True)
        return 1
    replies = []
    hub.publish(
        ftrack_api.event.base.Event(topic="libftrack.question", data={"q": 2}),
        on_reply=lambda event: replies.append(event),
    )
    deadline = time.time() + 20
    while not replies and time.time() < deadline:
        hub.wait(0.2)
    if not replies:
        print("ERROR no reply within 20 s", flush=True)
        return 1
    print("REPLY " + json.dumps(replies[0]["data"]), flush=True)
    hub.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
