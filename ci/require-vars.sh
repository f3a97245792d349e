#!/bin/sh
# Stop a CI job with one message naming every CI/CD variable it needs that is unset or empty.
#   sh ci/require-vars.sh NAME...
# Runs first in the jobs that publish, before anything is installed: a missing variable is a
# setting to fix (the README's "GitLab CI: setting it up as a platform team" lists each one), not
# something to find out from a stack of errors.
set -eu
missing=
for name in "$@"; do
  case $name in
    '' | [!A-Za-z_]* | *[!A-Za-z0-9_]*)
      echo "require-vars.sh: '$name' is not a variable name" >&2
      exit 2
      ;;
  esac
  eval "value=\${$name:-}"
  [ -n "$value" ] || missing="$missing $name"
done
if [ -n "$missing" ]; then
  echo "error: ${CI_JOB_NAME:-this job} needs CI/CD variables that are not set:$missing" >&2
  echo "Set them in Settings > CI/CD > Variables (README, 'GitLab CI: setting it up as a platform team':" >&2
  echo "what each is, how to scope it). A protected variable reaches only protected branches and tags." >&2
  exit 1
fi
