#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Takes the QEMU-guest probe fixture again: boots Debian's own generic
# kernel (linux-image-amd64, with every module and the modules.alias depmod
# writes) in a QEMU q35 machine with virtio-net, virtio-blk, e1000e, NVMe
# and AHCI (the chipset's SATA controller, with a disk) devices, loads the
# modules whose aliases match the devices as udev would at boot, runs a
# statically linked `ktailor probe` in the guest and writes the JSON it
# prints on the serial console.
#
#   scripts/take-qemu-probe.sh [OUTPUT]    (default: examples/hardware/qemu-guest.json)
#
# Environment: WORK (work directory, default /tmp/ktailor-qemu-probe),
# KERNEL_PKG (default: what linux-image-amd64 depends on), ACCEL (auto,
# kvm or tcg; auto tries KVM with a short timeout, then TCG).
#
# Needs: apt-get (download only, no root), dpkg-deb, depmod (kmod),
# busybox (static, from busybox-static), cpio, gzip, qemu-system-x86_64,
# cargo with the x86_64-unknown-linux-gnu target. Takes a few minutes
# under TCG. The tests read the checked-in fixture; they never run this.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
OUT=${1:-examples/hardware/qemu-guest.json}
WORK=${WORK:-/tmp/ktailor-qemu-probe}
ACCEL=${ACCEL:-auto}
TRIPLE=x86_64-unknown-linux-gnu

need() { command -v "$1" >/dev/null || { echo "error: $1 is missing ($2)" >&2; exit 2; }; }
need apt-get "Debian's apt"
need dpkg-deb "dpkg"
need depmod "apt-get install kmod"
need busybox "apt-get install busybox-static"
need cpio "apt-get install cpio"
need qemu-system-x86_64 "apt-get install qemu-system-x86"
need cargo "rustup"
# ldd says "not a dynamic executable" (static) or "statically linked"
# (static-pie); anything else lists libraries.
is_static() {
    case "$(ldd "$1" 2>&1 || true)" in
    *"not a dynamic executable"* | *"statically linked"*) return 0 ;;
    *) return 1 ;;
    esac
}
if ! is_static "$(command -v busybox)"; then
    echo "error: $(command -v busybox) is not a static busybox (apt-get install busybox-static)" >&2
    exit 2
fi

mkdir -p "$WORK"
cd "$WORK"

# 1. Debian's generic kernel: vmlinuz, every module, and modules.alias
#    (the package's postinst runs depmod; here depmod -b on the unpacked
#    tree writes the same files without installing anything).
PKG=${KERNEL_PKG:-$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')}
[ -n "$PKG" ] || { echo "error: cannot tell which kernel linux-image-amd64 depends on" >&2; exit 2; }
if ! ls "$PKG"-unsigned_*.deb >/dev/null 2>&1; then
    echo "== downloading $PKG-unsigned" >&2
    apt-get download "$PKG-unsigned"
fi
rm -rf root
dpkg-deb -x "$PKG"-unsigned_*.deb root
RELEASE=$(ls root/lib/modules)
depmod -b root "$RELEASE"
VMLINUZ=root/boot/vmlinuz-$RELEASE

# 2. A static ktailor (the probe runs in an initramfs with no libraries).
echo "== building a static ktailor" >&2
(cd "$REPO" && RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked -p ktailor --target "$TRIPLE")
TARGET_DIR=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
KTAILOR=$TARGET_DIR/$TRIPLE/release/ktailor
if ! is_static "$KTAILOR"; then
    echo "error: $KTAILOR is dynamically linked" >&2
    exit 2
fi

# 3. The initramfs: busybox, ktailor, the kernel's modules and the init.
rm -rf initramfs
mkdir -p initramfs/{bin,dev,proc,sys,tmp,lib/modules}
cp "$(command -v busybox)" initramfs/bin/busybox
for a in sh mount find cat sort xargs modprobe sleep poweroff echo dmesg; do
    ln -s busybox "initramfs/bin/$a"
done
cp "$KTAILOR" initramfs/bin/ktailor
strip --strip-debug initramfs/bin/ktailor 2>/dev/null || true
cp -a "root/lib/modules/$RELEASE" initramfs/lib/modules/
cat > initramfs/init <<'EOF'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
dmesg -n 1
# Coldplug, as udev does at boot: load every module whose aliases match a
# device's modalias; again while new devices appear (the virtio devices
# appear once virtio_pci is loaded, the SATA disk once ahci is).
prev=
for round in 1 2 3 4 5 6; do
    cur=$(find /sys/devices -name modalias -exec cat {} + 2>/dev/null | sort -u)
    [ "$cur" = "$prev" ] && break
    echo "$cur" | xargs modprobe -q -a 2>/dev/null
    prev=$cur
    sleep 3
done
echo KTAILOR-PROBE-BEGIN
/bin/ktailor probe
echo KTAILOR-PROBE-END
poweroff -f
EOF
chmod +x initramfs/init
echo "== writing the initramfs" >&2
(cd initramfs && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > initramfs.cpio.gz

# 4. The machine: q35 (its ICH9 SATA controller is the AHCI device, with a
#    disk), virtio-net, virtio-blk, e1000e and NVMe.
for d in virtio sata nvme; do
    [ -f "$d.img" ] || truncate -s 16M "$d.img"
done
boot() {
    local accel=$1 limit=$2
    timeout "$limit" qemu-system-x86_64 -machine q35 -accel "$accel" -m 2048 \
        -nographic -no-reboot -serial mon:stdio \
        -kernel "$VMLINUZ" -initrd initramfs.cpio.gz \
        -append "console=ttyS0 panic=-1 quiet loglevel=1" \
        -netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
        -netdev user,id=n1 -device e1000e,netdev=n1 \
        -drive file=virtio.img,format=raw,if=none,id=vd -device virtio-blk-pci,drive=vd \
        -drive file=nvme.img,format=raw,if=none,id=nv -device nvme,drive=nv,serial=ktailor0 \
        -drive file=sata.img,format=raw,if=none,id=sd -device ide-hd,drive=sd,bus=ide.0 \
        </dev/null >console.log 2>qemu.err || true
    grep -q KTAILOR-PROBE-END console.log
}
ok=
if [ "$ACCEL" != tcg ] && [ -w /dev/kvm ]; then
    echo "== booting under KVM (at most 60 s)" >&2
    boot kvm 60 && ok=kvm
fi
if [ -z "$ok" ] && [ "$ACCEL" != kvm ]; then
    echo "== booting under TCG (at most 30 min)" >&2
    boot tcg 1800 && ok=tcg
fi
if [ -z "$ok" ]; then
    echo "error: the guest did not print the probe; see $WORK/console.log and $WORK/qemu.err" >&2
    exit 1
fi

# 5. The JSON between the markers.
# (The firmware's terminal codes may share the BEGIN marker's line.)
tr -d '\r' < console.log |
    awk '/KTAILOR-PROBE-END$/ { p = 0 } p { print } /KTAILOR-PROBE-BEGIN$/ { p = 1 }' > probe.json
[ -s probe.json ] || { echo "error: no probe between the markers in $WORK/console.log" >&2; exit 1; }
cd "$REPO"
mkdir -p "$(dirname "$OUT")"
cp "$WORK/probe.json" "$OUT"
echo "== wrote $OUT (guest under $ok, kernel $RELEASE)" >&2
