"""``session.event_hub`` and plugins of the libftrack package (installed with
pip into a fresh venv, see libftrack_venv.py) against the sandbox's event
hub: ftrack_api's surface and threading (handlers and ``on_reply`` run in the
thread calling ``wait()``), synchronous publishes, priorities, failing
handlers, ``auto_connect_event_hub``, and Python plugins discovered as
``ftrack_api.plugin.discover`` does, next to the shared-library plugins the C
library loads."""

import logging
import os
import shutil
import subprocess
import textwrap
import threading
import time

import pytest

import libftrack_venv

libftrack = libftrack_venv.import_installed()

from libftrack.event.base import Event  # noqa: E402  (the installed package's)

ROOT = libftrack_venv.ROOT
WAIT = 15


@pytest.fixture
def make(sandbox):
    """libftrack sessions against the sandbox (no plugins unless given)."""
    sessions = []

    def make(**kw):
        kw.setdefault("plugin_paths", [])
        session = libftrack.Session(
            server_url=sandbox.url, api_key=sandbox.key, api_user=sandbox.user, schema_cache_path=False, **kw
        )
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


class Waiter(object):
    """Runs ``hub.wait`` on a helper thread (the hub of a responder)."""

    def __init__(self, hub):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(hub,), daemon=True)
        self._thread.start()

    def _run(self, hub):
        while not self._stop.is_set():
            hub.wait(0.1)

    def stop(self):
        self._stop.set()
        self._thread.join(10)


def wait_until(hub, done, seconds=WAIT):
    """Calls ``hub.wait`` on this thread until ``done()`` or the time is up."""
    deadline = time.time() + seconds
    while not done() and time.time() < deadline:
        hub.wait(0.2)
    return done()


def write(path, text):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(str(path), "w") as f:
        f.write(textwrap.dedent(text))


# A plugin recording what it got on the session object it was given.
RECORDING_PLUGIN = """
    def register(session, **kw):
        record = session.__dict__.setdefault("plugin_record", [])
        record.append(("{name}", kw))
        session.event_hub.subscribe(
            "topic=ftrack.api.session.ready",
            lambda event: record.append(("{name} ready", event["data"]["session"] is session)),
        )
"""


def test_python_plugins_register_with_plugin_arguments_and_get_session_ready(make, tmp_path, caplog):
    plugins = tmp_path / "plugins"
    write(plugins / "a_plugin.py", RECORDING_PLUGIN.format(name="a"))
    write(plugins / "nested" / "deeper" / "b_plugin.py", RECORDING_PLUGIN.format(name="b"))
    # register without **kwargs: only the arguments it names (with defaults) are passed.
    write(plugins / "c_plugin.py", """
        def register(session, arg1=None):
            session.__dict__.setdefault("plugin_record", []).append(("c", {"arg1": arg1}))
    """)
    # Failures are logged and skipped; the other plugins load.
    write(plugins / "d_broken.py", "import module_that_does_not_exist\n")
    write(plugins / "e_no_register.py", "x = 1\n")
    write(plugins / "f_raises.py", """
        def register(session, **kw):
            raise RuntimeError("studio plugin bug")
    """)
    write(plugins / "README.txt", "not a plugin\n")
    caplog.set_level(logging.DEBUG, logger="libftrack.plugin")
    session = make(plugin_paths=[str(plugins)], plugin_arguments={"arg1": "value1", "arg2": "value2"})
    record = session.plugin_record
    assert record == [
        ("a", {"arg1": "value1", "arg2": "value2"}),
        ("c", {"arg1": "value1"}),
        ("b", {"arg1": "value1", "arg2": "value2"}),
        ("a ready", True),
        ("b ready", True),
    ], record
    messages = [r.getMessage() for r in caplog.records if r.name == "libftrack.plugin.discover"]
    assert any("Failed to load plugin from" in m and "d_broken.py" in m and "module_that_does_not_exist" in m
               for m in messages), messages
    assert any('did not define a "register" function' in m and "e_no_register.py" in m for m in messages), messages
    assert any("Culling passed arguments" in m for m in messages), messages
    assert any("failed to register" in m and "f_raises.py" in m and "studio plugin bug" in m
               for m in messages), messages
    # ftrack.api.session.reset reaches subscribers, as in ftrack_api.
    resets = []
    session.event_hub.subscribe("topic=ftrack.api.session.reset", resets.append)
    session.reset()
    assert [e["data"]["session"] for e in resets] == [session]


def test_plugins_come_from_ftrack_event_plugin_path_unless_plugin_paths_is_given(make, tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    write(first / "one.py", RECORDING_PLUGIN.format(name="one"))
    write(second / "two.py", RECORDING_PLUGIN.format(name="two"))
    monkeypatch.setenv("FTRACK_EVENT_PLUGIN_PATH", os.pathsep.join([str(first), "", str(second)]))
    found = make(plugin_paths=None)
    assert [name for name, _ in found.plugin_record] == ["one", "two", "one ready", "two ready"]
    # Given paths replace the variable; an empty list means no plugins at all.
    assert [name for name, _ in make(plugin_paths=[str(second)]).plugin_record] == ["two", "two ready"]
    assert not hasattr(make(plugin_paths=[]), "plugin_record")


def test_a_subscriber_gets_the_update_of_a_commit_by_another_session_in_the_waiting_thread(make):
    watcher, writer = make(), make()
    updates, threads = [], []

    def on_update(event):
        updates.append(event)
        threads.append(threading.get_ident())

    watcher.event_hub.subscribe("topic=ftrack.update", on_update)
    watcher.event_hub.connect()
    assert watcher.event_hub.connected
    project = writer.query('Project where name is "alpha"').one()
    deadline = time.time() + WAIT
    n = 0
    while not updates and time.time() < deadline:
        project["full_name"] = "Renamed %d" % n
        writer.commit()
        n += 1
        time.sleep(0.3)
        assert not updates, "handlers run only in wait()"
        watcher.event_hub.wait(0.5)
    assert updates, "no ftrack.update"
    entity = updates[0]["data"]["entities"][0]
    assert entity["entityId"] == project["id"]
    assert entity["changes"]["fullname"]["new"].startswith("Renamed")
    assert isinstance(updates[0], Event) and updates[0]["topic"] == "ftrack.update"
    assert set(threads) == {threading.get_ident()}


def test_on_reply_gets_replies_from_another_session_in_the_thread_calling_wait(make):
    responder, asker = make(), make()
    responder.event_hub.subscribe(
        "topic=libftrack.question", lambda e: {"answer": e["data"]["n"] + 1}, subscriber={"id": "answering"}
    )

    def reply_by_hand(event):
        responder.event_hub.publish_reply(event, {"by": "hand"}, source={"id": "by-hand"})

    responder.event_hub.subscribe("topic=libftrack.question", reply_by_hand)
    responder.event_hub.connect()
    asker.event_hub.connect()
    waiter = Waiter(responder.event_hub)
    replies, asked = [], []
    inside_wait = [False]

    def on_reply(event):
        replies.append((event, threading.get_ident(), inside_wait[0]))

    try:
        deadline = time.time() + WAIT
        while len(replies) < 2 and time.time() < deadline:
            question = Event("libftrack.question", data={"n": 41})
            asker.event_hub.publish(question, on_reply=on_reply)
            asked.append(question["id"])
            time.sleep(0.3)
            inside_wait[0] = True
            asker.event_hub.wait(0.5)
            inside_wait[0] = False
    finally:
        waiter.stop()
    assert len(replies) >= 2, replies
    # Every reply ran in this thread, inside wait().
    assert all(ident == threading.get_ident() and inside for _, ident, inside in replies), replies
    by_data = {}
    for event, _, _ in replies:
        assert event["topic"] == "ftrack.meta.reply"
        assert event["in_reply_to_event"] in asked
        by_data[str(event["data"])] = event
    assert by_data[str({"answer": 42})]["source"]["id"] == "answering"
    assert by_data[str({"by": "hand"})]["source"]["id"] == "by-hand"


def test_synchronous_publish_runs_local_subscribers_by_priority_and_returns_their_results(make, caplog):
    session = make()  # not connected: synchronous publishes need no server
    hub = session.event_hub
    calls = []

    def handler(name, result=None, stop=False, fail=False):
        def run(event):
            calls.append(name)
            if fail:
                raise RuntimeError("handler %s failed" % name)
            if stop:
                event.stop()
            return result
        return run

    hub.subscribe("topic=test.sync", handler("third", None), priority=30)
    hub.subscribe("topic=test.sync", handler("first", "one"), priority=10)
    hub.subscribe("topic=test.sync", handler("fails", fail=True), priority=15)
    hub.subscribe("topic=test.sync", handler("second", {"two": 2}), priority=20)
    hub.subscribe("topic=test.sync and data.x>5", handler("not matching"), priority=1)
    hub.subscribe("topic=test.sync", handler("stopper", "stop", stop=True), priority=40)
    hub.subscribe("topic=test.sync", handler("after stop"), priority=50)
    hub.subscribe("topic=test.sync", handler("targeted", "t"), subscriber={"id": "only-me"}, priority=60)
    caplog.set_level(logging.ERROR, logger="libftrack.event.hub")
    data = {"x": 1, "session": session}  # any Python value: nothing is sent
    results = hub.publish(Event("test.sync", data=data), synchronous=True)
    assert calls == ["first", "fails", "second", "third", "stopper"], calls
    assert results == ["one", {"two": 2}, None, "stop"], results
    assert any("Error calling subscriber" in r.getMessage() for r in caplog.records), caplog.records
    assert not hub.connected
    calls[:] = []
    results = hub.publish(Event("test.sync", data={"x": 1}, target="id=only-me"), synchronous=True)
    assert (calls, results) == (["targeted"], ["t"])


def test_handlers_from_the_server_run_by_priority_and_a_failing_one_does_not_stop_the_others(make, caplog):
    receiver, sender = make(), make()
    order = []

    def record(name, fail=False):
        def run(event):
            order.append(name)
            if fail:
                raise ValueError("broken handler")
        return run

    hub = receiver.event_hub
    hub.subscribe("topic=test.order", record("late"), priority=300)
    hub.subscribe("topic=test.order", record("broken", fail=True), priority=100)
    hub.subscribe("topic=test.order", record("middle"), priority=200)
    hub.subscribe("topic=test.order", record("early"), priority=50)
    hub.connect()
    sender.event_hub.connect()
    caplog.set_level(logging.ERROR, logger="libftrack.event.hub")
    deadline = time.time() + WAIT
    while not order and time.time() < deadline:
        sender.event_hub.publish(Event("test.order", data={}))
        hub.wait(0.5)
    hub.wait(0.3)
    assert order[:4] == ["early", "broken", "middle", "late"], order
    assert any("Error calling subscriber" in r.getMessage() and r.exc_info for r in caplog.records)
    # The hub still handles events after the failure.
    before = len(order)
    sender.event_hub.publish(Event("test.order", data={}))
    assert wait_until(hub, lambda: len(order) >= before + 4), order


def test_auto_connect_event_hub_connects_in_the_background_and_queues_what_is_published_meanwhile(make):
    listener = make()
    got = []
    listener.event_hub.subscribe("topic=test.early", got.append)
    listener.event_hub.connect()
    # Published right after the constructor returns, possibly before the
    # connection is up: queued and sent once connected (as ftrack_api).
    deadline = time.time() + WAIT
    while not got and time.time() < deadline:
        session = make(auto_connect_event_hub=True)
        session.event_hub.publish(Event("test.early", data={"n": 1}))
        wait_until(listener.event_hub, lambda: bool(got), 2)
    assert got and got[0]["data"] == {"n": 1}
    assert session.event_hub.connected
    session.event_hub.wait(0.1)  # wait() needs no connect() after auto-connect


def test_the_hub_refuses_what_ftrack_api_refuses(make):
    session = make()
    hub = session.event_hub
    with pytest.raises(libftrack.exception.EventHubConnectionError):
        hub.wait(0.1)  # never connected
    with pytest.raises(libftrack.exception.EventHubConnectionError):
        hub.publish(Event("test.nobody"))
    assert hub.publish(Event("test.nobody"), on_error="ignore") is None
    with pytest.raises(libftrack.exception.EventHubConnectionError):
        hub.disconnect()
    identifier = hub.subscribe("topic=test.x", lambda e: None, subscriber={"id": "same"})
    assert identifier == "same"
    with pytest.raises(libftrack.exception.NotUniqueError):
        hub.subscribe("topic=test.x", lambda e: None, subscriber={"id": "same"})
    with pytest.raises(libftrack.exception.ParseError):
        hub.subscribe("topic=(", lambda e: None)
    hub.unsubscribe("same")
    with pytest.raises(libftrack.exception.NotFoundError):
        hub.unsubscribe("same")
    hub.connect()
    with pytest.raises(libftrack.exception.EventHubConnectionError):
        hub.connect()  # already connected
    hub.disconnect()
    assert not hub.connected
    session.close()
    with pytest.raises(libftrack.exception.EventHubConnectionError):
        hub.subscribe("topic=test.x", lambda e: None)


def _compile_plugin(out):
    cc = shutil.which("cc")
    if cc is None:
        if os.environ.get("FTRACK_REQUIRE_ALL") == "1":
            pytest.fail("cc is missing: apt-get install -y gcc")
        pytest.skip("no C compiler (cc)")
    _, _, site = libftrack_venv.venv()
    bundled = os.path.join(site, "libftrack")
    subprocess.check_call([
        cc, "-std=c11", "-shared", "-fPIC", "-I", os.path.join(ROOT, "include"),
        os.path.join(ROOT, "ffi", "tests", "c", "event_plugin.c"), "-o", str(out),
        "-L", bundled, "-l:libftrack.so",
    ])


MIXED_HOST = """
import json, sys, time
import libftrack
from libftrack.event.base import Event

paths = None if sys.argv[1] == "env" else ([] if sys.argv[1] == "none" else [sys.argv[1]])
session = libftrack.Session(server_url=%r, api_key=%r, api_user=%r, schema_cache_path=False,
                            plugin_paths=paths, plugin_arguments={"greeting": "hello"})
print("python plugin:", getattr(session, "plugin_record", None), flush=True)
if paths == []:
    sys.exit(0)
hub = session.event_hub
hub.connect()
replies = []
deadline = time.time() + 15
while not replies and time.time() < deadline:
    hub.publish(Event("plugin.ping", data={"n": 7}), on_reply=replies.append)
    hub.wait(0.5)
print("shared-library plugin replied:", json.dumps(replies[0]["data"] if replies else None, sort_keys=True), flush=True)
"""


def test_a_folder_with_python_and_shared_library_plugins_loads_each_once(sandbox, tmp_path):
    plugins = tmp_path / "plugins"
    write(plugins / "py_plugin.py", RECORDING_PLUGIN.format(name="py"))
    _compile_plugin(plugins / "libping.so")
    _, python, _ = libftrack_venv.venv()
    host = tmp_path / "host.py"
    host.write_text(MIXED_HOST % (sandbox.url, sandbox.key, sandbox.user))
    for how in (str(plugins), "env", "none"):
        env = libftrack_venv.clean_env()
        env["FTRACK_EVENT_PLUGIN_PATH"] = str(plugins)
        result = subprocess.run([python, str(host), how], env=env, text=True, capture_output=True, timeout=60)
        out = result.stdout + result.stderr
        assert result.returncode == 0, out
        if how == "none":
            # plugin_paths=[]: neither kind is loaded, whatever the variable says.
            assert "python plugin: None" in out and "plugin: session ready" not in out, out
            continue
        # The Python plugin registered once with the arguments and got session.ready once ...
        assert "python plugin: [('py', {'greeting': 'hello'}), ('py ready', True)]" in out, out
        # ... the C library loaded the shared library once (it prints on session.ready) ...
        assert out.count("plugin: session ready, arguments {\"greeting\":\"hello\"}") == 1, out
        # ... and its subscriber answers through the server.
        assert 'shared-library plugin replied: {"arguments": {"greeting": "hello"}, "pong": 7}' in out, out


def test_event_classes_are_importable_under_ftrack_api_module_paths():
    _, python, _ = libftrack_venv.venv()
    code = (
        "import sys, libftrack\n"
        "from libftrack.event.base import Event\n"
        "from libftrack.event.hub import EventHub\n"
        "import libftrack.plugin\n"
        "e = Event('a.topic', data={'x': 1}, target='id=1', source={'id': 's'}, in_reply_to_event='r', id='i', sent=None)\n"
        "print(sorted(e.keys()), e['topic'], e['id'], e['in_reply_to_event'], e.is_stopped())\n"
        "e.stop(); print(e.is_stopped(), len(Event('t')['id']), libftrack.event.hub.EventHub is EventHub)\n"
    )
    out = subprocess.check_output([python, "-c", code], env=libftrack_venv.clean_env(), text=True)
    assert out.splitlines() == [
        "['data', 'id', 'in_reply_to_event', 'sent', 'source', 'target', 'topic'] a.topic i r False",
        "True 32 True",
    ], out
