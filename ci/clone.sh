#!/bin/sh
# Clone a repository of this GitLab instance with the job's CI_JOB_TOKEN (read access only).
#   sh ci/clone.sh URL DEST [git clone options...]
# The token reaches git through a credential helper that reads it from the environment: it is never
# in the URL, on a command line, in DEST/.git/config or in the job log. A local path needs no token.
# The project cloned must admit this one in its job-token allowlist (the README's "GitLab CI:
# setting it up as a platform team").
set -eu
if [ "$#" -lt 2 ]; then
  echo "usage: sh ci/clone.sh URL DEST [git clone options]" >&2
  exit 2
fi
url=$1
dest=$2
shift 2
exec git -c credential.helper= \
  -c 'credential.helper=!f() { if [ "$1" = get ]; then echo username=gitlab-ci-token; echo "password=$CI_JOB_TOKEN"; fi; }; f' \
  clone -q "$@" -- "$url" "$dest"
