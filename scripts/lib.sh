# shellcheck shell=bash
# Sourced by the scripts that prepare a machine (scripts/test.sh, scripts/quickstart.sh,
# scripts/install-servers.sh, scripts/install-tansu.sh, scripts/make-rdb-fixtures.sh, .ci/*,
# bench/lib.sh): where slotstream's cache is, and installing what is missing, on Debian 12 with
# apt-get (through sudo when not root), each thing only when it is not there yet.

# The user's cache dir for slotstream: servers, the Python virtual environment.
SLOTSTREAM_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/slotstream
# Where scripts/install-servers.sh puts the seven server versions and the tests look for them
# (test-support/src/versions.rs) unless SERVERS_DIR says otherwise.
DEFAULT_SERVERS_DIR=$SLOTSTREAM_CACHE/servers
# The Python virtual environment for fastavro and the pip-installed servers.
PYTHON_VENV=$SLOTSTREAM_CACHE/venv

# What building slotstream needs: a C toolchain, and OpenSSL and zlib headers found with
# pkg-config, for librdkafka (built from source by rdkafka-sys) and the Redis links' TLS.
BUILD_PACKAGES=(build-essential pkg-config libssl-dev zlib1g-dev)
# What the tests run besides slotstream: redis-server on PATH (Debian's is built with TLS), kill
# (procps), openssl (the TLS tests make their certificates with it), chromium and a font (the
# status page is tested in a headless browser); and bc, for the benchmark scripts.
TEST_PACKAGES=(redis-server redis-tools procps bc openssl chromium fonts-dejavu-core prometheus)

# as_root CMD...: runs CMD as root, through sudo when this is not root.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "setup: need root for: $*; run as root or install sudo" >&2
        return 1
    fi
}

# need_debian_packages PACKAGE...: installs those of the Debian packages that are not installed.
need_debian_packages() {
    local missing=() package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' ||
            missing+=("$package")
    done
    ((${#missing[@]})) || return 0
    if ! command -v apt-get >/dev/null; then
        echo "setup: missing ${missing[*]}; install them (only apt-get is known here)" >&2
        return 1
    fi
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# need_rust: Rust through rustup (minimal profile) when there is no cargo, on PATH for the
# rest of the calling script.
need_rust() {
    if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then
        . "$HOME/.cargo/env"
    fi
    command -v cargo >/dev/null && return 0
    need_debian_packages curl ca-certificates
    echo "setup: installing Rust with rustup (https://rustup.rs)" >&2
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal >&2
    . "$HOME/.cargo/env"
}

# python_venv [PACKAGE...]: prints the path of slotstream's Python virtual environment, created
# when missing, with the PACKAGEs pip-installed in it. A stock Debian python has no pip and
# refuses `pip install` outside a virtual environment (PEP 668).
python_venv() {
    if ! { command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null; }; then
        need_debian_packages python3 python3-venv
    fi
    if ! "$PYTHON_VENV/bin/python" -m pip --version >/dev/null 2>&1; then
        rm -rf "$PYTHON_VENV"
        python3 -m venv "$PYTHON_VENV" >&2
    fi
    if (($#)); then
        env PIP_ROOT_USER_ACTION=ignore "$PYTHON_VENV/bin/python" -m pip install --quiet \
            --disable-pip-version-check "$@" >&2
    fi
    echo "$PYTHON_VENV"
}
