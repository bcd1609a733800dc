"""PEP 517 build backend of the libftrack Python package.

``build_wheel`` runs ``cargo build -p ftrack-ffi --lib`` in the repository that
holds this directory (``bindings/python/build_backend``), then writes a wheel
with the ``libftrack`` package (its subpackages included), the ctypes layer (``ftrack_ctypes.py``, as
``libftrack/_ftrack_ctypes.py``) and ``libftrack.so`` beside it. Only the
standard library is used, so the isolated build environment needs nothing from
a package index.

Settings (environment):

* ``CARGO`` — the cargo to run (default ``cargo`` on PATH).
* ``CARGO_TARGET_DIR`` — honoured as cargo honours it.
* ``LIBFTRACK_CARGO_PROFILE`` — ``release`` (default) or ``dev`` (faster to
  build, for tests that already built the debug library).
"""

import base64
import hashlib
import os
import re
import subprocess
import sysconfig
import zipfile

_HERE = os.path.dirname(os.path.abspath(__file__))
_PACKAGE_DIR = os.path.dirname(_HERE)  # bindings/python
_ROOT = os.path.dirname(os.path.dirname(_PACKAGE_DIR))  # the repository


def _version():
    with open(os.path.join(_ROOT, "Cargo.toml"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("[workspace.package]", 1)[-1]
    match = re.search(r'^version\s*=\s*"([^"]+)"', section, re.M)
    if not match:
        raise RuntimeError("no version in [workspace.package] of %s/Cargo.toml" % _ROOT)
    return match.group(1)


def _metadata():
    return (
        "Metadata-Version: 2.1\n"
        "Name: libftrack\n"
        "Version: %s\n"
        "Summary: A native ftrack API client shaped like ftrack_api (import libftrack as ftrack_api)\n"
        "Requires-Python: >=3.7\n" % _version()
    )


def _tag():
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return "py3-none-" + platform


def _build_library():
    if not os.path.exists(os.path.join(_ROOT, "ffi", "Cargo.toml")):
        raise RuntimeError(
            "libftrack's Rust sources are not at %s: install from the repository checkout "
            "(python -m pip install ./bindings/python), not from a copy of bindings/python" % _ROOT
        )
    cargo = os.environ.get("CARGO", "cargo")
    profile = os.environ.get("LIBFTRACK_CARGO_PROFILE", "release")
    if profile not in ("release", "dev"):
        raise RuntimeError("LIBFTRACK_CARGO_PROFILE must be release or dev, not %r" % profile)
    cmd = [cargo, "build", "-p", "ftrack-ffi", "--lib", "--manifest-path", os.path.join(_ROOT, "Cargo.toml")]
    if profile == "release":
        cmd.append("--release")
    try:
        subprocess.check_call(cmd, cwd=_ROOT)
    except FileNotFoundError:
        raise RuntimeError("cargo not found: install Rust (https://rustup.rs) or set CARGO to its path")
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(_ROOT, "target")
    if not os.path.isabs(target):
        target = os.path.join(_ROOT, target)
    lib = os.path.join(target, "release" if profile == "release" else "debug", "libftrack.so")
    if not os.path.exists(lib):
        raise RuntimeError("cargo finished but %s is missing" % lib)
    return lib


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def _files(lib):
    """(name in the wheel, bytes) of every file but the RECORD."""
    out = []
    src = os.path.join(_PACKAGE_DIR, "libftrack")
    for folder, folders, names in os.walk(src):
        folders[:] = sorted(d for d in folders if d != "__pycache__")
        relative = os.path.relpath(folder, src).replace(os.sep, "/")
        prefix = "libftrack/" if relative == "." else "libftrack/%s/" % relative
        for name in sorted(names):
            if name.endswith(".py"):
                with open(os.path.join(folder, name), "rb") as f:
                    out.append((prefix + name, f.read()))
    with open(os.path.join(_PACKAGE_DIR, "ftrack_ctypes.py"), "rb") as f:
        out.append(("libftrack/_ftrack_ctypes.py", f.read()))
    with open(lib, "rb") as f:
        out.append(("libftrack/libftrack.so", f.read()))
    return out


def _dist_info():
    return "libftrack-%s.dist-info" % _version()


def _dist_info_files():
    wheel = "Wheel-Version: 1.0\nGenerator: libftrack_build\nRoot-Is-Purelib: false\nTag: %s\n" % _tag()
    return [
        (_dist_info() + "/METADATA", _metadata().encode("utf-8")),
        (_dist_info() + "/WHEEL", wheel.encode("utf-8")),
        (_dist_info() + "/top_level.txt", b"libftrack\n"),
    ]


# ---- PEP 517 hooks ----


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    path = os.path.join(metadata_directory, _dist_info())
    os.makedirs(path, exist_ok=True)
    for name, data in _dist_info_files():
        with open(os.path.join(metadata_directory, name), "wb") as f:
            f.write(data)
    return _dist_info()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    lib = _build_library()
    name = "libftrack-%s-%s.whl" % (_version(), _tag())
    files = _files(lib) + _dist_info_files()
    record_name = _dist_info() + "/RECORD"
    record = "\n".join([_record_line(n, d) for n, d in files] + [record_name + ",,", ""])
    path = os.path.join(wheel_directory, name)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for n, d in files:
            info = zipfile.ZipInfo(n, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if n.endswith(".so") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, d)
        wheel.writestr(record_name, record)
    return name


def build_sdist(sdist_directory, config_settings=None):
    raise RuntimeError(
        "libftrack has no source distribution: its Rust sources are the repository; install "
        "with python -m pip install ./bindings/python from a checkout"
    )


