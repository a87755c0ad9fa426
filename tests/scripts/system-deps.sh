#!/usr/bin/env bash
# Install the Debian packages the demo and the tests need (the dpkg entries of bindep.txt), only
# those missing. As root it installs them with apt-get; otherwise it lists what is missing.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
mapfile -t wanted < <(sed -n 's/^\([a-z0-9.+-]*\) \[.*platform:dpkg.*\]$/\1/p' "$top/bindep.txt")
wanted+=(git make procps util-linux shellcheck)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "missing system packages (run as root, or install them): ${missing[*]}" >&2
  exit 0
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# openssh-server is for the sshd the UML test starts inside its guest with its own configuration
# (tests/lab/uml_controller.py): installing it must not start a daemon on the machine. policy-rc.d
# (exit 101: "action forbidden") stops invoke-rc.d and deb-systemd-invoke from starting services.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && made_policy=1
fi
rc=0
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
if [ -n "$made_policy" ]; then rm -f "$policy"; fi
exit "$rc"
