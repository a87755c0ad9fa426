#!/bin/sh
# init of a User-Mode Linux guest booted by tests/kernel/uml.py (rootfstype=hostfs: the root
# filesystem is the machine's own). Everything the guest writes goes to tmpfs, except the
# result files in $VIP_UML_DIR. Runs $VIP_UML_DIR/run.sh, records its exit status, halts.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
out="$VIP_UML_DIR"
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# before anything else: the host's /run (netns entries), /dev/shm and /tmp must stay untouched
mount -t tmpfs tmpfs /run
mkdir -p /dev/shm
mount -t tmpfs tmpfs /dev/shm
# A checkout under /tmp (CI may clone there) would vanish under the tmpfs: keep the host's /tmp
# reachable at /run/host-tmp and bind the checkout back in place.
mkdir -p /run/host-tmp
mount --bind /tmp /run/host-tmp
mount -t tmpfs tmpfs /tmp
case "$VIP_UML_CWD" in
  /tmp/*)
    mkdir -p "$VIP_UML_CWD"
    mount --bind "/run/host-tmp/${VIP_UML_CWD#/tmp/}" "$VIP_UML_CWD"
    ;;
esac
mkdir -p /tmp/home /tmp/modules/lib/modules/"$(uname -r)"
mount --bind /usr/lib/uml/modules/"$(uname -r)" /tmp/modules/lib/modules/"$(uname -r)"
export HOME=/tmp/home TMPDIR=/tmp PYTHONDONTWRITEBYTECODE=1 VIP_UML_GUEST=1
{
  for m in $(echo "$VIP_UML_MODULES" | tr , " "); do
    modprobe -d /tmp/modules "$m" || echo "modprobe $m failed"
  done
  ip link set lo up
  cd "$VIP_UML_CWD" && sh "$out/run.sh"
  echo $? > "$out/rc.tmp"
} > "$out/log" 2>&1
mv "$out/rc.tmp" "$out/rc"
sync
halt -f
