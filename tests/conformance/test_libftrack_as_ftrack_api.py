"""The conformance scenarios of test_python_client.py run again through
``import libftrack as ftrack_api`` (the package installed into a fresh venv),
where they use only the surface libftrack mirrors.

The scenario functions are taken from test_python_client.py itself, compiled
with ``ftrack_api`` bound to libftrack, so a scenario changed there is changed
here too. Left out, with the reason:

* test_session_start_and_schema_cache: it counts ftrack_api's start-up requests
  (query_server_information, then query_schemas); libftrack starts in one round
  trip, which bindings/README.md documents.
"""

import os
import sys

import pytest

import libftrack_venv
from conftest import sessions_of

libftrack = libftrack_venv.import_installed()

SKIPPED = {"test_session_start_and_schema_cache"}


def _scenarios():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_python_client.py")
    with open(path, encoding="utf-8") as f:
        source = f.read()
    names = ("ftrack_api", "ftrack_api.exception")
    saved = {n: sys.modules.get(n) for n in names}
    sys.modules["ftrack_api"] = libftrack
    sys.modules["ftrack_api.exception"] = libftrack.exception
    namespace = {"__name__": "test_python_client_via_libftrack"}
    try:
        exec(compile(source, path, "exec"), namespace)
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m
    assert namespace["ftrack_api"] is libftrack
    return {k: v for k, v in namespace.items() if k.startswith("test_") and k not in SKIPPED}


for _name, _test in _scenarios().items():
    globals()[_name] = _test


@pytest.fixture
def session_factory(sandbox, tmp_path):
    """libftrack sessions against the sandbox, with ftrack_api's arguments."""
    yield from sessions_of(libftrack.Session, sandbox, tmp_path)


def test_scenarios_really_run_on_libftrack(session_factory):
    session = session_factory()
    assert type(session).__module__ == "libftrack.session"
    assert test_first_and_one.__globals__["ftrack_api"] is libftrack  # noqa: F821


def test_host_hooks_log_cancel_and_progress(session_factory, sandbox):
    """libftrack's host hooks from Python: a logger sees the query and never the
    key, and a progress callback that returns False cancels the query."""
    session = session_factory()
    lines = []
    session.set_logger(lambda level, message: lines.append((level, message)), level="info")
    session.query("select username from User").all()
    session.set_logger(None)
    assert any(level == "info" and "[query]" in message for level, message in lines), lines
    assert not any(sandbox.key in message for _, message in lines)
    pages = []

    def stop(operation, done, total):
        pages.append((operation, done, total))
        return False

    session.set_progress(stop)
    with pytest.raises(libftrack.exception.Error) as raised:
        session.query("select username from User").all()
    assert raised.value.status_name == "FTRACK_STATUS_CANCELLED"
    assert pages and pages[0][0] == "query" and pages[0][2] is None
    session.set_progress(None)
    assert session.query("select username from User").first() is not None
    session.cancel()  # nothing in flight: nothing to cancel, and later calls work
    assert session.query("select username from User").first() is not None
