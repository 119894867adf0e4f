# Sourced by scripts/test and scripts/demo: installs with apt-get only the Debian packages that are
# missing (Debian 12, as root), then offers wtconv_configure_and_build.
set -euo pipefail

WTCONV_PACKAGES=(cmake ninja-build g++ pkg-config libeigen3-dev nlohmann-json3-dev googletest
                 libgtest-dev libbenchmark-dev libcli11-dev zlib1g-dev libdnnl-dev)

wtconv_install_missing() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "== installing: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# wtconv_configure BUILD_DIR [cmake args...]
wtconv_configure() {
    local dir=$1
    shift
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
}

# wtconv_configure_and_build BUILD_DIR [cmake args...]: every target.
wtconv_configure_and_build() {
    wtconv_configure "$@"
    cmake --build "$1" --parallel "$(nproc)"
}
