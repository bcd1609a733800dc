"""Builds and installs the libftrack Python package into a fresh venv, once per
pytest process, exactly as a user would: ``python -m venv`` then
``python -m pip install ./bindings/python`` (offline: ``--no-index``, since the
build backend needs nothing from an index). ``FTRACK_LIBRARY`` is removed from
the environment so the bundled ``libftrack.so`` must be the one loaded.

``LIBFTRACK_CARGO_PROFILE=dev`` is passed to the build so it reuses the debug
build that the test run made already (the default for users is release).
"""

import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_built = {}


def clean_env():
    env = dict(os.environ)
    env.pop("FTRACK_LIBRARY", None)
    env.pop("PYTHONPATH", None)
    return env


def venv():
    """(venv directory, its python, its site-packages) with libftrack installed."""
    if "venv" in _built:
        return _built["venv"]
    base = tempfile.mkdtemp(prefix="libftrack-venv-")
    path = os.path.join(base, "venv")
    subprocess.check_call([sys.executable, "-m", "venv", path])
    python = os.path.join(path, "bin", "python")
    env = clean_env()
    env.setdefault("LIBFTRACK_CARGO_PROFILE", "dev")
    subprocess.check_call(
        [python, "-m", "pip", "install", "--no-index", "--quiet", os.path.join(ROOT, "bindings", "python")],
        env=env,
    )
    site = subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env=env, text=True
    ).strip()
    _built["venv"] = (path, python, site)
    return _built["venv"]


def import_installed():
    """Imports libftrack from the fresh venv's site-packages into this process
    (the conformance venv, which also has the official ftrack_api)."""
    _, _, site = venv()
    os.environ.pop("FTRACK_LIBRARY", None)
    if site not in sys.path:
        sys.path.insert(0, site)
    import libftrack

    assert libftrack.__file__.startswith(site), libftrack.__file__
    return libftrack
