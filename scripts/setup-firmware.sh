#!/usr/bin/env bash
# Installs what the firmware tests need on a fresh Debian machine, and
# skips every part that is already there (safe to run on every CI run):
#   * the Rust target thumbv7em-none-eabihf (Cortex-M4F),
#   * QEMU for Arm (`qemu-system-arm`, machine mps2-an386) and the Arm
#     binutils (`arm-none-eabi-size`, for the memory table),
#   * `defmt-print`, which decodes the firmware's defmt log (built from
#     crates.io once, about 4 minutes on 2 cores, then kept in ~/.cargo/bin).
set -euo pipefail
cd "$(dirname "$0")/.."

# The defmt-print release to install; it decodes the wire format of the
# firmware's `defmt` 1.x (defmt versions 3 and 4).
DEFMT_PRINT_VERSION="1.2.0"

echo "== firmware setup: Rust target"
if rustup target list --installed | grep -qx thumbv7em-none-eabihf; then
    echo "thumbv7em-none-eabihf: present"
else
    rustup target add thumbv7em-none-eabihf
fi

echo "== firmware setup: QEMU and Arm binutils"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
# --no-remove everywhere: this script installs, it never takes a package away.
apt_install() {
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get "$@" install -y -qq --no-install-recommends --no-remove "${packages[@]}"
}
if ! command -v arm-none-eabi-size >/dev/null; then
    packages=(binutils-arm-none-eabi)
    $SUDO apt-get update -qq
    apt_install
fi
if ! command -v qemu-system-arm >/dev/null; then
    utils_version=$(dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null || true)
    if [[ "$utils_version" == *bpo* ]]; then
        # The machine carries qemu-utils from backports; QEMU's system
        # packages must be of the same version, or apt would have to remove
        # qemu-utils. Read backports through a private sources list, so the
        # machine's own apt configuration stays as it is.
        codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
        apt_dir=$(mktemp -d)
        trap 'rm -rf "${apt_dir:-}"' EXIT
        mkdir -p "$apt_dir/lists/partial"
        cat >"$apt_dir/sources.list" <<SOURCES
deb http://deb.debian.org/debian $codename main
deb http://deb.debian.org/debian $codename-updates main
deb http://deb.debian.org/debian-security $codename-security main
deb http://deb.debian.org/debian $codename-backports main
SOURCES
        apt_options=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=-
            -o "Dir::State::lists=$apt_dir/lists")
        $SUDO apt-get "${apt_options[@]}" update -qq
        packages=("qemu-system-arm=$utils_version" "qemu-system-common=$utils_version"
            "qemu-system-data=$utils_version")
        apt_install "${apt_options[@]}"
    else
        packages=(qemu-system-arm)
        $SUDO apt-get update -qq
        apt_install
    fi
fi
command -v arm-none-eabi-size
qemu-system-arm --version | sed -n 1p

echo "== firmware setup: defmt-print"
installed=""
if command -v defmt-print >/dev/null; then
    installed=$(defmt-print --version 2>/dev/null | awk 'NR == 1 {print $2}')
fi
if [[ "$installed" == "$DEFMT_PRINT_VERSION" ]]; then
    echo "defmt-print $installed: present"
else
    # --locked: the versions defmt-print was released with; the binary
    # lands in ~/.cargo/bin, which persists across clones of the repo.
    cargo install defmt-print --version "$DEFMT_PRINT_VERSION" --locked
fi
