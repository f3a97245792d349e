#!/usr/bin/env bash
# A short coverage-guided fuzz run of every target (or the ones named): each starts from its seeds
# (fuzz/seeds/<target>/), grows a working corpus in a temp dir, and stops after FUZZ_SECONDS.
# Exits non-zero if any target crashed, printing where the input that crashed it is.
#
#   bash fuzz/run.sh                        # all targets, 20 s each
#   FUZZ_SECONDS=120 bash fuzz/run.sh yaml  # one target, longer
set -uo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-20}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(yaml score placeholder)

if ! python -c "import atheris" 2>/dev/null; then
  echo "fuzz: atheris is not installed (it has wheels for Linux x86_64 only); nothing fuzzed" >&2
  exit 0
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/renderer-fuzz.XXXXXX")"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
failed=()
for target in "${targets[@]}"; do
  dir="$work/$target"
  mkdir -p "$dir/corpus" "$dir/artifacts" "$dir/tmp"
  dict=()
  [ "$target" = placeholder ] || dict=(-dict=fuzz/yaml.dict)
  start=$SECONDS
  # The first corpus dir is the one libFuzzer writes to; the seeds are only read.
  TMPDIR="$dir/tmp" python "fuzz/${target}_target.py" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=16384 \
    -artifact_prefix="$dir/artifacts/" "${dict[@]}" \
    "$dir/corpus" "fuzz/seeds/$target" >"$dir/log" 2>&1
  rc=$?
  crashes=("$dir"/artifacts/*)
  runs="$(grep -o 'Done [0-9]* runs' "$dir/log" | tail -1)"
  if [ $rc -ne 0 ] || [ -e "${crashes[0]}" ]; then
    failed+=("$target")
    echo "fuzz $target: FAILED (exit $rc) after $((SECONDS - start)) s; log: $dir/log"
    grep -E -A 30 'Uncaught Python exception|ERROR: libFuzzer' "$dir/log" | head -40
    for crash in "${crashes[@]}"; do
      [ -e "$crash" ] && echo "fuzz $target: input that crashed it: $crash"
    done
  else
    echo "fuzz $target: ok, ${runs:-no} runs in $((SECONDS - start)) s, corpus $(ls "$dir/corpus" | wc -l) inputs"
    rm -rf "$dir"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]} (inputs and logs kept in $work)"
  exit 1
fi
rm -rf "$work"
