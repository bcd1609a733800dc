"""Runs the code blocks of a seed fixture (``seeds/*.py``) with
``import ftrack_api`` resolving to libftrack, the way ``import libftrack as
ftrack_api`` does in a script: ``ftrack_api`` and its submodules are libftrack's
in ``sys.modules``, and the block text is executed as written.

    python seed_runner.py FIXTURE SUBSTITUTIONS_JSON

Blocks run in order in one namespace. After each block the runner prints
``@@ block N done`` and, after the blocks listed by ``--pause-after N,M``,
waits for a line on stdin so that a test can look at the server in between. At the end it prints
``@@ summary <json>`` describing the namespace; with ``--wait-for-event-hub``
it first waits (up to 15 s) for ``session.event_hub`` to connect and says
whether it did.
"""

import json
import sys
import time
import warnings

import libftrack

sys.modules["ftrack_api"] = libftrack
for _name in ("session", "exception", "cache", "operation", "plugin", "event", "event.base", "event.hub",
              "event.subscriber"):
    _module = libftrack
    for _part in _name.split("."):
        _module = getattr(_module, _part)
    sys.modules["ftrack_api." + _name] = _module


def main():
    fixture, substitutions = sys.argv[1], json.loads(sys.argv[2])
    pause_after = set()
    if "--pause-after" in sys.argv:
        pause_after = set(sys.argv[sys.argv.index("--pause-after") + 1].split(","))
    wait_for_event_hub = "--wait-for-event-hub" in sys.argv
    with open(fixture, encoding="utf-8") as f:
        text = f.read()
    for old, new in substitutions.items():
        if old not in text:
            raise SystemExit("substitution %r not found in %s" % (old, fixture))
        text = text.replace(old, new)
    blocks = text.split("# --- block ")[1:]
    namespace = {"__name__": "__seed__"}
    exec("from ftrack_api import Session\nfrom ftrack_api.session import SessionAuthentication", namespace)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for block in blocks:
            number, _, code = block.partition(" ---\n")
            exec(compile(code, "%s block %s" % (fixture, number), "exec"), namespace)
            print("@@ block %s done" % number, flush=True)
            if number in pause_after:
                sys.stdin.readline()
    session = namespace.get("session")
    connected = None
    if wait_for_event_hub:
        deadline = time.time() + 15
        while not session.event_hub.connected and time.time() < deadline:
            time.sleep(0.05)
        connected = session.event_hub.connected
    summary = {
        "event_hub_connected": connected,
        "session_type": type(session).__module__ + "." + type(session).__name__,
        "recorded_operations": len(session.recorded_operations),
        "record_operations": session.record_operations,
        "auto_populate": session.auto_populate,
        "warnings": [str(w.message) for w in caught],
    }
    if "auth" in namespace:
        summary["auth"] = repr(namespace["auth"])
    print("@@ summary " + json.dumps(summary), flush=True)


main()
