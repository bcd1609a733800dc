"""The code of seed documents 000, 001 and 003 runs as written on libftrack
(issue 8), installed with pip into a fresh venv, against the sandbox; the
official ftrack-python-api (this venv's ftrack_api) checks what it did on the
server. Also: the package is built and installed offline and bundles its
library, and missing configuration raises TypeError naming argument and
variable. The event hub and plugins are tested in test_libftrack_events.py."""

import json
import os
import subprocess
import sys

import ftrack_api
import pytest

import libftrack_venv

HERE = os.path.dirname(os.path.abspath(__file__))


def roles_of(sandbox, username):
    """The user's role names, read by the official client."""
    session = ftrack_api.Session(
        server_url=sandbox.url, api_key=sandbox.key, api_user=sandbox.user,
        schema_cache_path=False, auto_connect_event_hub=False, plugin_paths=[],
    )
    try:
        user = session.query('User where username is "%s"' % username).one()
        return sorted(usr["security_role"]["name"] for usr in user["user_security_roles"])
    finally:
        session.close()


def start(fixture, substitutions, pause_after=None, extra=()):
    _, python, _ = libftrack_venv.venv()
    cmd = [python, os.path.join(HERE, "seed_runner.py"), os.path.join(HERE, "seeds", fixture),
           json.dumps(substitutions)]
    if pause_after:
        cmd += ["--pause-after", pause_after]
    cmd += list(extra)
    env = libftrack_venv.clean_env()
    for name in ("FTRACK_SERVER", "FTRACK_API_KEY", "FTRACK_API_USER"):
        env.pop(name, None)
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=HERE)


def read_until(process, marker):
    lines = []
    while True:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("seed run ended before %r: %s\n%s" % (marker, "".join(lines), process.stderr.read()))
        lines.append(line)
        if line.startswith(marker):
            return lines


def finish(process):
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, out + err
    summary = [l for l in out.splitlines() if l.startswith("@@ summary ")]
    assert summary, out + err
    return out, json.loads(summary[-1][len("@@ summary "):])


def credentials(sandbox, url, key, user):
    return {url: sandbox.url, key: sandbox.key, user: sandbox.user}


def test_package_installs_offline_in_a_fresh_venv_and_bundles_its_library():
    path, python, site = libftrack_venv.venv()
    out = subprocess.check_output(
        [python, "-c", "import libftrack, os; print(libftrack.__file__); "
                       "print(os.path.exists(os.path.join(os.path.dirname(libftrack.__file__), 'libftrack.so'))); "
                       "print(libftrack.__version__)"],
        env=libftrack_venv.clean_env(), text=True, cwd="/",
    ).split()
    assert out[0].startswith(site), out
    assert out[1] == "True"
    assert out[2].count(".") >= 2


def test_seed_000_creates_a_session(sandbox):
    process = start("000_session.py", credentials(sandbox, "https://my.ftrack.server", "my_api_key", "my_user"))
    out, summary = finish(process)
    assert summary["session_type"] == "libftrack.session.Session"
    assert summary["recorded_operations"] == 0


def test_seed_001_reads_appends_and_removes_a_role(sandbox):
    subs = credentials(sandbox, "https://your.ftrack.server", "your_api_key", "your_username")
    subs['User where username is "username"'] = 'User where username is "artist"'
    subs['"RoleName"'] = '"Project Manager"'
    assert roles_of(sandbox, "artist") == ["User"]
    process = start("001_security_roles.py", subs, pause_after="2,3")
    lines = read_until(process, "@@ block 2 done")
    assert [l.strip() for l in lines if not l.startswith("@@")] == ["User"], lines
    process.stdin.write("\n")
    process.stdin.flush()
    read_until(process, "@@ block 3 done")
    # The role appended by the seed's code is held on the server.
    assert roles_of(sandbox, "artist") == ["Project Manager", "User"]
    process.stdin.write("\n")
    process.stdin.flush()
    out, summary = finish(process)
    # ... and removed again.
    assert roles_of(sandbox, "artist") == ["User"]
    assert summary["recorded_operations"] == 0
    actions = [a for request in sandbox.request_log() for a in request]
    assert "add_user_security_role" in actions and "remove_user_security_role" in actions


def test_seed_003_session_arguments_and_authentication(sandbox, tmp_path):
    subs = credentials(sandbox, "https://your-ftrack-server-url", "your-api-key", "your-username")
    subs["/path/to/schema/cache"] = str(tmp_path / "schema-cache")
    (tmp_path / "schema-cache").mkdir()
    out, summary = finish(start("003_session_arguments.py", subs, extra=["--wait-for-event-hub"]))
    assert summary["session_type"] == "libftrack.session.Session"
    assert summary["record_operations"] is True and summary["auto_populate"] is True
    assert summary["recorded_operations"] == 0
    # auto_connect_event_hub=True connects (in the background), without a warning;
    # the plugin folder that does not exist holds no plugins, as in ftrack_api.
    assert summary["warnings"] == [], summary
    assert summary["event_hub_connected"] is True, summary
    assert sandbox.key not in summary["auth"] and "hidden" in summary["auth"]
    # schema_cache_path is a folder, as in ftrack_api.
    assert os.listdir(str(tmp_path / "schema-cache")), "no schema cache written in the folder"


def run_in_venv(code, env_extra=None):
    _, python, _ = libftrack_venv.venv()
    env = libftrack_venv.clean_env()
    for name in ("FTRACK_SERVER", "FTRACK_API_KEY", "FTRACK_APIKEY", "FTRACK_API_USER", "LOGNAME", "USER",
                 "LNAME", "USERNAME"):
        env.pop(name, None)
    env.update(env_extra or {})
    return subprocess.run([python, "-c", code], env=env, text=True, capture_output=True)


@pytest.mark.parametrize("missing, variable", [
    ("server_url", "FTRACK_SERVER"), ("api_key", "FTRACK_API_KEY"), ("api_user", "FTRACK_API_USER"),
])
def test_missing_configuration_is_a_type_error_naming_argument_and_variable(sandbox, missing, variable):
    given = {"server_url": sandbox.url, "api_key": sandbox.key, "api_user": sandbox.user}
    del given[missing]
    result = run_in_venv(
        "import libftrack as ftrack_api\n"
        "try:\n    ftrack_api.Session(**%r)\n"
        "except TypeError as e:\n    print('TypeError:', e)\n" % given
    )
    assert "TypeError:" in result.stdout, result.stdout + result.stderr
    assert '"%s"' % missing in result.stdout and variable in result.stdout


def test_unsupported_cache_values_are_refused_clearly(sandbox):
    result = run_in_venv(
        "import libftrack as ftrack_api\n"
        "for cache in (object(), lambda s: 42):\n"
        "    try:\n        ftrack_api.Session(server_url=%r, api_key=%r, api_user=%r, cache=cache)\n"
        "    except TypeError as e:\n        print('refused:', e)\n"
        "import tempfile, os\n"
        "path = os.path.join(tempfile.mkdtemp(), 'cache.json')\n"
        "s = ftrack_api.Session(server_url=%r, api_key=%r, api_user=%r, cache=lambda s: ftrack_api.cache.FileCache(path))\n"
        "s.query('User').all(); s.close(); del s\n"
        "import gc; gc.collect()\n"
        "print('file cache written:', os.path.getsize(path) > 0)\n"
        % ((sandbox.url, sandbox.key, sandbox.user) * 2)
    )
    out = result.stdout + result.stderr
    assert out.count("refused:") == 2 and "FileCache(path)" in out, out
    assert "file cache written: True" in out, out


def test_roles_helper_lists_changes_and_audits(sandbox):
    result = run_in_venv(
        "import libftrack as ftrack_api\n"
        "from libftrack.roles import Roles\n"
        "s = ftrack_api.Session(server_url=%r, api_key=%r, api_user=%r)\n"
        "roles = Roles(s)\n"
        "print('project roles', sorted(r['name'] for r in roles.security_roles('PROJECT')))\n"
        "pm = roles.find_user('pm')\n"
        "print('pm', [(r.role['name'], r.scope_text) for r in roles.user_roles(pm)])\n"
        "artist, manager = roles.find_user('artist'), roles.find_role('Project Manager')\n"
        "roles.append(artist, manager)\n"
        "roles.grant(artist, manager, roles.find_project('gamma'))\n"
        "s.commit()\n"
        "print('artist', sorted((r.role['name'], r.scope_text) for r in roles.user_roles(artist)))\n"
        "try:\n    roles.append(artist, manager)\n"
        "except ftrack_api.exception.RoleAlreadyAssignedError as e:\n    print('refused', e.status_name)\n"
        "roles.replace(artist, manager, roles.find_role('Administrator'))\n"
        "s.commit()\n"
        "print('replaced', sorted(r.role['name'] for r in roles.user_roles(artist)))\n"
        "rows = [r for r in roles.audit() if r['username'] == 'artist']\n"
        "print('audit', sorted((r['role'], tuple(r['projects'])) for r in rows))\n"
        % (sandbox.url, sandbox.key, sandbox.user)
    )
    out = result.stdout
    assert "project roles ['Administrator', 'Project Manager', 'User']" in out, out + result.stderr
    assert "pm [('Project Manager', 'alpha, gamma')]" in out, out + result.stderr
    assert "artist [('Project Manager', 'gamma'), ('User', 'all open projects')]" in out, out + result.stderr
    assert "refused FTRACK_STATUS_ROLE_ALREADY_ASSIGNED" in out, out + result.stderr
    assert "replaced ['Administrator', 'User']" in out, out + result.stderr
    assert "audit [('Administrator', ('gamma',)), ('User', ())]" in out, out + result.stderr
