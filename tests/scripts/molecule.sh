#!/usr/bin/env bash
# Run every molecule scenario under molecule/ (converge, idempotence, verify).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
export PATH="$top/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$top/ansible.cfg"
scenarios=()
for d in molecule/*/; do
  [ -f "$d/molecule.yml" ] && scenarios+=("$(basename "$d")")
done
if [ ${#scenarios[@]} -eq 0 ]; then
  echo "molecule: no scenarios under molecule/" >&2
  exit 1
fi
for s in "${scenarios[@]}"; do
  echo "== molecule test -s $s"
  molecule test -s "$s"
done
