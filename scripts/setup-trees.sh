#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Prepare the kernel trees that scripts/difftest.py compares ktailor against.
#
# What it does (each step is skipped when its result is already there, so a
# second run takes well under a second):
#   1. installs the Debian packages with the kernel sources, Debian's configs,
#      the tools needed to build scripts/kconfig/conf and kernels, and what the
#      boot tests use (QEMU, OVMF, systemd's EFI stub; dosfstools and mtools
#      to check the FAT images ktailor writes);
#   2. unpacks /usr/src/linux-source-X.tar.xz into $TREES/linux-source-X;
#   3. decompresses /usr/src/linux-config-X/config.*.xz into $TREES/configs/X/;
#   4. builds the C conf once per tree into $TREES/obj-X (the "oracle" object
#      dir that difftest.py copies for each of its workers).
#
# What it deliberately does not do: run any comparison, or touch the sources.
#
# Usage: scripts/setup-trees.sh
#   KTAILOR_TREES   where to put everything (default ~/.cache/ktailor/trees)
#
# stdout lists where things are (one "key: path" per line); progress and
# errors go to stderr. Exit status: 0 ok, 1 a step failed.

set -euo pipefail

VERSIONS=(6.12 6.1)
PACKAGES=(linux-source-6.12 linux-source-6.1 linux-config-6.12 linux-config-6.1
          gcc make flex bison bc xz-utils clang lld llvm gcc-aarch64-linux-gnu
          libelf-dev libssl-dev cpio qemu-system-x86
          ovmf systemd-boot-efi dosfstools mtools zstd lz4)
TREES=${KTAILOR_TREES:-$HOME/.cache/ktailor/trees}

say() { printf 'setup-trees: %s\n' "$*" >&2; }
die() { printf 'setup-trees: error: %s\n' "$*" >&2; exit 1; }

# --- 1. packages ------------------------------------------------------------

missing_packages() {
    local pkg status
    for pkg in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        [[ $status == "install ok installed" ]] || printf '%s\n' "$pkg"
    done
}

install_packages() {
    command -v dpkg-query >/dev/null || die "dpkg-query not found: this script expects a Debian system"
    local missing
    mapfile -t missing < <(missing_packages)
    ((${#missing[@]} == 0)) && return 0

    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || die "not root and no sudo: install ${missing[*]} by hand"
        sudo=(sudo)
    fi
    say "installing ${missing[*]}"
    "${sudo[@]}" apt-get update -q >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends \
        "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
}

# --- 2. source trees ----------------------------------------------------------

# One line that changes whenever the tarball does, so that a new
# linux-source package version gets unpacked again.
tarball_id() {
    stat -c '%n %s %Y' "$1"
}

# "6.12.117" from the tree's top-level Makefile.
tree_version() {
    awk -F' *= *' '
        $1 == "VERSION" { v = $2 } $1 == "PATCHLEVEL" { p = $2 } $1 == "SUBLEVEL" { s = $2 }
        v != "" && p != "" && s != "" { print v "." p "." s; exit }' "$1/Makefile"
}

# "6.12.117" from the installed package ("6.12.117-1~deb12u1").
package_version() {
    local v
    v=$(dpkg-query -W -f='${Version}' "linux-source-$1" 2>/dev/null) || return 1
    printf '%s\n' "${v%%-*}"
}

# Stamp written after a complete untar; its content is the tarball's id.
tree_stamp() { printf '%s/.linux-source-%s.unpacked\n' "$TREES" "$1"; }

# The trees are used with O=...; a configuration or its generated files in
# the source tree itself (a command run there without O=) make every
# `make O=...` refuse ("The source tree is not clean"). Remove them.
clean_tree() {
    local tree=$1 f
    for f in .config .config.old include/config include/generated arch/*/include/generated; do
        if [[ -e $tree/$f ]]; then
            say "removing $f from $tree (configuration output in the source tree)"
            rm -rf "${tree:?}/$f"
        fi
    done
}

unpack_tree() {
    local ver=$1
    local tarball=/usr/src/linux-source-$ver.tar.xz
    local tree=$TREES/linux-source-$ver
    local stamp
    stamp=$(tree_stamp "$ver")
    [[ -f $tarball ]] || die "$tarball not found (is linux-source-$ver installed?)"

    local id
    id=$(tarball_id "$tarball")
    if [[ -f $stamp && $(<"$stamp") == "$id" && -f $tree/Makefile ]]; then
        clean_tree "$tree"
        return 0
    fi

    # A tree unpacked before stamps existed (or by hand): accept it if it is
    # whole enough to run Kconfig and is the packaged version.
    if [[ ! -f $stamp && -f $tree/Makefile && -f $tree/scripts/kconfig/conf.c && -f $tree/Kconfig ]] \
        && [[ $(tree_version "$tree") == "$(package_version "$ver")" ]]; then
        say "found an unpacked linux-source-$ver, adopting it"
        printf '%s\n' "$id" >"$stamp"
        return 0
    fi

    say "unpacking $tarball (this takes a minute)"
    # Untar next to the final place and move it there when complete; a
    # half-done untar is removed on exit and never mistaken for a tree.
    rm -rf "$TREES/.unpack-$ver".*  # left behind by a killed run
    UNPACK_TMP=$(mktemp -d "$TREES/.unpack-$ver.XXXXXX")
    trap 'rm -rf "$UNPACK_TMP"' EXIT
    trap 'exit 130' INT TERM
    tar -C "$UNPACK_TMP" -xf "$tarball" || die "untar of $tarball failed"
    [[ -f $UNPACK_TMP/linux-source-$ver/Makefile ]] \
        || die "$tarball does not contain linux-source-$ver/Makefile"
    rm -f "$stamp"
    rm -rf "$tree" "$TREES/obj-$ver"
    mv "$UNPACK_TMP/linux-source-$ver" "$tree"
    rm -rf "$UNPACK_TMP"
    trap - EXIT INT TERM
    printf '%s\n' "$id" >"$stamp"
}

# --- 3. Debian configs ----------------------------------------------------------

unpack_configs() {
    local ver=$1
    local src=/usr/src/linux-config-$ver
    local dst=$TREES/configs/$ver
    mkdir -p "$dst"
    local xz out n=0
    for xz in "$src"/config.*.xz; do
        [[ -e $xz ]] || die "no config.*.xz in $src (is linux-config-$ver installed?)"
        out=$dst/$(basename "$xz" .xz)
        n=$((n + 1))
        if [[ -f $out && ! $xz -nt $out ]]; then
            continue
        fi
        xz -dc "$xz" >"$out.tmp" || die "cannot decompress $xz"
        mv "$out.tmp" "$out"
    done
    ((n > 0)) || die "no Debian configs for $ver"
}

# --- 4. the C conf --------------------------------------------------------------

build_conf() {
    local ver=$1
    local tree=$TREES/linux-source-$ver
    local obj=$TREES/obj-$ver
    local built=$obj/.ktailor-conf-built
    local stamp
    stamp=$(tree_stamp "$ver")

    if [[ -x $obj/scripts/kconfig/conf && -f $built && $(<"$built") == "$(<"$stamp")" ]]; then
        return 0
    fi
    say "building scripts/kconfig/conf for $ver in $obj"
    rm -rf "$obj"
    mkdir -p "$obj"
    # There is no make target that builds only conf (scripts_basic and
    # scripts/kconfig/conf both want a .config first), so run the cheapest
    # config target, which builds fixdep and conf on the way, and throw its
    # output away. The config file lives outside the source tree because
    # kbuild refuses O= builds when the source tree has a .config.
    local boot=$obj/.ktailor-bootstrap.config
    make -C "$tree" O="$obj" ARCH=x86 KCONFIG_CONFIG="$boot" -s allnoconfig >&2 \
        || die "building conf for $ver failed (see make's output above)"
    rm -f "$boot" "$boot.old"
    [[ -x $obj/scripts/kconfig/conf ]] || die "make did not produce $obj/scripts/kconfig/conf"
    cp "$stamp" "$built"
}

# --- main -------------------------------------------------------------------------

install_packages
mkdir -p "$TREES" || die "cannot create $TREES"
for ver in "${VERSIONS[@]}"; do
    unpack_tree "$ver"
    unpack_configs "$ver"
    build_conf "$ver"
done

printf 'trees: %s\n' "$TREES"
for ver in "${VERSIONS[@]}"; do
    printf 'source-%s: %s\n' "$ver" "$TREES/linux-source-$ver"
    printf 'configs-%s: %s\n' "$ver" "$TREES/configs/$ver"
    printf 'conf-%s: %s\n' "$ver" "$TREES/obj-$ver/scripts/kconfig/conf"
done
printf 'oracle-cache: %s\n' "$TREES/oracle-cache"
