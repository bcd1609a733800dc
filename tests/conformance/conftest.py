"""Starts the ftrack-sandbox binary (demo studio) for the conformance tests.

The binary path comes from FTRACK_SANDBOX_BIN (e.g. target/debug/ftrack-sandbox).
"""

import os
import subprocess
import time

import pytest


class Sandbox:
    """A running `ftrack-sandbox --demo --port 0 --print-env` process."""

    def __init__(self, binary, log_path):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [binary, "--demo", "--port", "0", "--print-env"],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.env = {}
        for _ in range(3):
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("ftrack-sandbox exited before printing its environment")
            key, _, value = line.strip().partition("=")
            self.env[key] = value
        self.url = self.env["FTRACK_SERVER"]
        self.user = self.env["FTRACK_API_USER"]
        self.key = self.env["FTRACK_API_KEY"]

    def request_log(self):
        """The actions of every /api request so far, one list per request."""
        self.log.flush()
        time.sleep(0.05)
        requests = []
        with open(self.log_path) as handle:
            for line in handle:
                if line.startswith("POST /api") and "actions=[" in line:
                    inside = line.split("actions=[", 1)[1].split("]", 1)[0]
                    requests.append(inside.split(",") if inside else [])
        return requests

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture
def sandbox(tmp_path):
    binary = os.environ.get("FTRACK_SANDBOX_BIN")
    if not binary:
        pytest.fail(
            "FTRACK_SANDBOX_BIN is not set: build the sandbox (cargo build -p ftrack-sandbox) "
            "and set FTRACK_SANDBOX_BIN to the path of the ftrack-sandbox binary"
        )
    if not os.access(binary, os.X_OK):
        pytest.fail("FTRACK_SANDBOX_BIN=%s is not an executable file" % binary)
    server = Sandbox(binary, str(tmp_path / "sandbox.log"))
    try:
        yield server
    finally:
        server.stop()
        assert server.process.returncode == 0, "sandbox did not shut down cleanly on SIGTERM"


def sessions_of(session_class, sandbox, tmp_path):
    """Yields a factory of `session_class` sessions (ftrack_api's arguments)
    against the sandbox with a shared schema cache; closes them after."""
    cache = tmp_path / "schema-cache"
    cache.mkdir()
    sessions = []

    def make(user=None, key=None):
        session = session_class(
            server_url=sandbox.url,
            api_key=key or sandbox.key,
            api_user=user or sandbox.user,
            schema_cache_path=str(cache),
            auto_connect_event_hub=False,
            plugin_paths=[],
        )
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


@pytest.fixture
def session_factory(sandbox, tmp_path):
    """Creates official-client sessions against the sandbox with a shared schema cache."""
    import ftrack_api

    yield from sessions_of(ftrack_api.Session, sandbox, tmp_path)
