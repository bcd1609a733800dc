# Shared by scripts/test and scripts/demo: installs what the project needs on a
# fresh machine. Sourced, not run.

step() { printf '\n==> %s\n' "$*"; }

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing system packages: ${missing[*]} (install them with apt-get, then run again)" >&2
        return 1
    fi
    step "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

install_prerequisites() {
    command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; return 1; }
    # C and C++ compilers for the C ABI tests, valgrind to run them under memcheck,
    # mono for the C# binding test, binutils for the exported-symbol check.
    apt_install gcc g++ binutils valgrind mono-mcs mono-runtime
    if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import ftrack_api, pytest' 2>/dev/null; then
        step "python venv .venv with the official ftrack-python-api"
        python3 -m venv .venv
        .venv/bin/pip install -q --disable-pip-version-check -r tests/conformance/requirements.txt
    fi
    if [ ! -d tests/conformance/node_modules/@ftrack/api ]; then
        command -v npm >/dev/null || apt_install nodejs npm
        step "npm install (official @ftrack/api for the JavaScript smoke test)"
        (cd tests/conformance && npm install --no-audit --no-fund --silent)
    fi
}

# Pinned build tools of scripts/install, from PyPI into .venv-packaging:
# ziglang (the Zig toolchain as a wheel) and cargo-zigbuild (a prebuilt wheel of
# the cargo subcommand that links with zig). Together they build libftrack.so
# against glibc 2.28 symbols (RHEL/Rocky 8) on any newer build machine, without
# compiling cargo-zigbuild from source (minutes on two cores).
ZIGLANG_VERSION=0.17.1
CARGO_ZIGBUILD_VERSION=0.24.1

install_packaging_prerequisites() {
    # binutils: objcopy / readelf / objdump for the stripped library and its checks.
    apt_install binutils
    local venv=.venv-packaging
    if [ ! -x "$venv/bin/cargo-zigbuild" ] || ! "$venv/bin/python" -m ziglang version 2>/dev/null | grep -cx "$ZIGLANG_VERSION" >/dev/null \
        || ! "$venv/bin/cargo-zigbuild" --version 2>/dev/null | grep -cx "cargo-zigbuild $CARGO_ZIGBUILD_VERSION" >/dev/null; then
        step "python venv $venv with ziglang $ZIGLANG_VERSION and cargo-zigbuild $CARGO_ZIGBUILD_VERSION"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check \
            "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
    fi
}

# The consumers' tools: cmake and pkg-config (scripts/check-package), doxygen
# (the C API docs build).
install_consumer_prerequisites() {
    apt_install cmake pkg-config doxygen
}
