#!/usr/bin/env bash
# ansible-test sanity on this checkout, with no ignore file.
# ansible-test wants the collection at ansible_collections/baremetal/vip: copy the tracked
# (and untracked, not ignored) files there in a temporary tree and run from it.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin="$top/.venv/bin"
# ansible-test fetches a pip bootstrap script from a host this machine cannot reach; this
# stand-in installs pip the offline way and upgrades it from the package index.
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
for v in 24_2 25_0 25_1 25_2 25_3; do
  f="$cache/get_pip_$v.py"
  cat > "$f" <<'PY'
import subprocess, sys
# ansible-test passes e.g. "pip==24.2 --no-setuptools --no-wheel": keep only the pip pin.
pins = [a for a in sys.argv[1:] if a.startswith("pip")] or ["pip"]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"] + pins)
PY
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/baremetal/vip"
mkdir -p "$dest"
# Tracked and untracked (not ignored) files that exist: a file deleted in the work tree is skipped.
(
  cd "$top"
  git ls-files -co --exclude-standard -z | while IFS= read -r -d '' f; do
    if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
  done | xargs -0 cp --parents -P -t "$dest"/
)
cd "$dest"
git init -q . && git add -A && git -c user.email=t@t -c user.name=t commit -qm sanity
exec "$bin/ansible-test" sanity --local --python 3.11 --color no "$@"
