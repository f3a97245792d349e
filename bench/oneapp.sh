#!/bin/sh
# One workload changed in one app of N (dev only): the publish timed with the code at $1 and $2
# (PYTHONPATH roots), each from a copy of the same environment repo. Usage: oneapp.sh OLD NEW N
set -eu
old=$1 new=$2 n=${3:-40}
py=${PYTHON:-python}
work=$(mktemp -d /tmp/renderer-oneapp-XXXX)
cd "$work"  # not the repo root: python puts the current directory before PYTHONPATH
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
PYTHONPATH=$new $py - "$work" "$n" <<'PY'
import os, sys
from bench import fleet
work, n = sys.argv[1], int(sys.argv[2])
fleet.platform_root(os.path.join(work, "platform"))
fleet.generate(os.path.join(work, "apps"), n, 1)
PY
git init -q --bare -b main "$work/env.git"
apps=$(for a in "$work"/apps/*; do printf ' --app %s' "$a"; done)
PYTHONPATH=$new $py -m renderer publish --root "$work/platform" --env dev --quiet --env-repo "$work/env.git" $apps >/dev/null
PYTHONPATH=$new $py -c "from bench import fleet; fleet.change_workload('$work/apps/svc-0001')"
for side in old new; do
  eval code=\$$side
  rm -rf "$work/$side.git"; cp -r "$work/env.git" "$work/$side.git"
  /usr/bin/time -f "$side: %e s, %M KiB" env PYTHONPATH=$code $py -m renderer publish --root "$work/platform" --env dev --quiet --env-repo "$work/$side.git" --app "$work/apps/svc-0001" >/dev/null
done
a=$(git --git-dir "$work/old.git" rev-parse 'main^{tree}'); b=$(git --git-dir "$work/new.git" rev-parse 'main^{tree}')
[ "$a" = "$b" ] && echo "same tree $a" || echo "TREES DIFFER: $a $b"
rm -rf "$work"
