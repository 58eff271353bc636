#!/usr/bin/env bash
# image.sh CACHE: build (or reuse) the guest of the real-kernel tier under CACHE and print the
# directory holding vmlinuz and base.cpio.gz. Everything comes from Debian's archive through
# apt-get download and is unpacked with dpkg -x; nothing is installed on the host. The package
# versions are printed. The image is rebuilt only when a package version, this script or the
# guest's init changes (the key of its directory).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=$1
# The kernel is pinned: Debian 12's 6.1.0-57 (6.1.192-3) hits a kernel BUG (list_del corruption
# in hci_chan_del) when two controllers of one guest pair over LE; 6.1.0-50 (6.1.176-1) does not.
# See docs/real-kernel-tier.md.
KPKG=${GOGATT_VM_KERNEL:-linux-image-6.1.0-50-amd64}
PKGS="$KPKG bluez bluez-test-tools busybox-static dbus-daemon dbus-bin libdbus-1-3 libglib2.0-0
      libreadline8 libudev1 libdw1 libasound2 libexpat1 libsystemd0"
MODULES="sha512_generic jitterentropy_rng ctr drbg bluetooth hci_vhci ecdh_generic ecc rfkill crc16 cmac ecb af_alg algif_hash algif_skcipher"

# One apt-cache call for all packages (each call loads the whole cache).
policy=$(apt-cache policy $PKGS | awk '/^[^ ]/{sub(/:$/, "", $1); p=$1} /^  Candidate:/{print p "=" $2}')
versions=""
for p in $PKGS; do
  v=$(printf '%s\n' "$policy" | sed -n "s/^$p=//p")
  if [ -z "$v" ] || [ "$v" = "(none)" ]; then echo "image.sh: package $p is not in the apt lists" >&2; exit 1; fi
  versions+="$p=$v"$'\n'
done
echo "guest packages:" >&2
printf '%s' "$versions" | sed 's/^/  /' >&2
key=$( { printf '%s' "$versions"; echo "$MODULES"; cat "$HERE/image.sh" "$HERE/init"; } | sha256sum | cut -c1-16)
IMG=$CACHE/image-$key
if [ -f "$IMG/base.cpio.gz" ] && [ -f "$IMG/vmlinuz" ]; then
  echo "guest image: cached ($IMG)" >&2
  echo "$IMG"; exit 0
fi

# Debs: downloaded once per version.
mkdir -p "$CACHE/debs"
need=()
for p in $PKGS; do
  v=$(printf '%s' "$versions" | sed -n "s/^$p=//p")
  ls "$CACHE/debs/${p}_${v//:/%3a}_"*.deb >/dev/null 2>&1 || need+=("$p=$v")
done
if [ ${#need[@]} -gt 0 ]; then (cd "$CACHE/debs" && apt-get download -q "${need[@]}" >/dev/null); fi

W=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'rm -rf "$W"' EXIT
X=$W/x R=$W/root
mkdir -p "$X"
for p in $PKGS; do
  v=$(printf '%s' "$versions" | sed -n "s/^$p=//p")
  dpkg -x "$(ls "$CACHE/debs/${p}_${v//:/%3a}_"*.deb | head -1)" "$X"
done
K=$(ls "$X/lib/modules")
depmod -b "$X" "$K"

mkdir -p "$R"/usr/{bin,lib/x86_64-linux-gnu,lib64,libexec/bluetooth,lib/modules} \
  "$R"/{proc,sys,dev,run,tmp,root,etc/dbus-1,etc/bluetooth,var/lib/bluetooth,var/lib/dbus}
ln -s usr/bin "$R/bin"; ln -s usr/bin "$R/sbin"; ln -s bin "$R/usr/sbin"; ln -s usr/lib "$R/lib"; ln -s usr/lib64 "$R/lib64"
BB=$R/usr/bin/busybox
cp "$X/bin/busybox" "$BB"
for a in $("$BB" --list); do [ -e "$R/usr/bin/$a" ] || ln -s busybox "$R/usr/bin/$a"; done

# BlueZ and D-Bus binaries with their libraries: from the unpacked debs first, the rest (libc and
# friends, all in a Debian 12 base system) from the host.
LIBPATH="$X/usr/lib/x86_64-linux-gnu:$X/lib/x86_64-linux-gnu"
copybin() {
  cp "$1" "$2"
  LD_LIBRARY_PATH=$LIBPATH ldd "$1" | awk '/=>/ && $3 ~ /^\// {print $3}' | while read -r l; do
    b=$(basename "$l"); [ -e "$R/usr/lib/x86_64-linux-gnu/$b" ] || cp -L "$l" "$R/usr/lib/x86_64-linux-gnu/$b"
  done
}
for b in usr/bin/btvirt usr/bin/btmgmt usr/bin/btmon usr/bin/bluetoothctl usr/bin/gatttool usr/bin/hcitool \
  bin/hciconfig usr/bin/dbus-daemon usr/bin/dbus-send usr/bin/dbus-uuidgen; do
  copybin "$X/$b" "$R/usr/bin/"
done
copybin "$X/usr/libexec/bluetooth/bluetoothd" "$R/usr/libexec/bluetooth/"
cp -L /lib64/ld-linux-x86-64.so.2 "$R/usr/lib64/" # ldd lists the interpreter without "=>"

# Kernel modules: the dependency closure of MODULES.
for m in $MODULES; do modprobe -d "$X" -S "$K" --show-depends "$m"; done | awk '$1=="insmod"{print $2}' | sort -u |
  while read -r f; do
    rel=${f#"$X"/lib/modules/}; mkdir -p "$R/usr/lib/modules/$(dirname "$rel")"; cp "$f" "$R/usr/lib/modules/$rel"
  done
cp "$X/lib/modules/$K"/modules.{builtin,builtin.modinfo,order} "$R/usr/lib/modules/$K/"
depmod -b "$R" "$K"
echo "$MODULES" >"$R/etc/modules-vmtest"

printf 'root:x:0:0:root:/root:/bin/sh\nmessagebus:x:100:101::/nonexistent:/bin/false\n' >"$R/etc/passwd"
printf 'root:x:0:\nmessagebus:x:101:\n' >"$R/etc/group"
cat >"$R/etc/dbus-1/system.conf" <<'C'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
C
# Debian's main.conf sets AutoEnable=true: without it bluetoothd leaves the controllers off.
cp "$X/etc/bluetooth/main.conf" "$R/etc/bluetooth/main.conf"
install -m 0755 "$HERE/init" "$R/init"

mkdir -p "$IMG.tmp"
(cd "$R" && find . | "$BB" cpio -o -H newc 2>/dev/null | gzip -1 >"$IMG.tmp/base.cpio.gz")
cp "$X/boot/vmlinuz-$K" "$IMG.tmp/vmlinuz"; cp "$BB" "$IMG.tmp/busybox"
rm -rf "$IMG"; mv "$IMG.tmp" "$IMG"
# Keep the newest images only.
ls -dt "$CACHE"/image-* | tail -n +4 | xargs -r rm -rf
echo "guest image: built ($(du -h "$IMG/base.cpio.gz" | cut -f1) initramfs, kernel $K)" >&2
echo "$IMG"
