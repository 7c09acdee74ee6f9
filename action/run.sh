#!/usr/bin/env bash
# The logic of the polytrans GitHub Action (action.yml at the repository root), kept in a script
# so that tests/action.rs runs it locally with the GITHUB_* files pointed at temporary files.
#
# 1. `polytrans diff --git BASE PATHS --format markdown` into the job summary
#    ($GITHUB_STEP_SUMMARY) and into a file the workflow can post as a PR comment
#    (output `markdown`);
# 2. with INPUT_CHECK set, `polytrans check CHECK --format sarif` into a file for code-scanning
#    upload (output `sarif`).
#
# Exit status: the worst of the two commands (0 clean, 1 findings as `--fail-on` says, 2 usage or
# input error), so the step fails exactly when polytrans says so.
set -euo pipefail

polytrans=${POLYTRANS:-polytrans}
base=${INPUT_BASE:-}
paths=${INPUT_PATHS:-.}
fail_on=${INPUT_FAIL_ON:-loosen}
check=${INPUT_CHECK:-}
check_fail_on=${INPUT_CHECK_FAIL_ON:-error}
out_dir=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
markdown=${INPUT_MARKDOWN_FILE:-$out_dir/polytrans-diff.md}
sarif=${INPUT_SARIF_FILE:-$out_dir/polytrans.sarif}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}
outputs=${GITHUB_OUTPUT:-/dev/null}

if [ -z "$base" ]; then
  echo "::error title=polytrans::no base revision: set the action's \`base\` input (on pull_request events it defaults to the base commit)"
  exit 2
fi

status=0
read -r -a path_args <<<"$paths"
set +e
"$polytrans" diff --git "$base" "${path_args[@]}" --format markdown --fail-on "$fail_on" >"$markdown"
diff_status=$?
set -e
if [ "$diff_status" -ge 2 ]; then
  echo "::error title=polytrans diff::polytrans diff --git $base $paths failed (exit $diff_status); see the log above"
else
  cat "$markdown" >>"$summary"
fi
echo "markdown=$markdown" >>"$outputs"
echo "diff-exit-code=$diff_status" >>"$outputs"
status=$diff_status

if [ -n "$check" ]; then
  read -r -a check_args <<<"$check"
  set +e
  "$polytrans" check "${check_args[@]}" --format sarif --fail-on "$check_fail_on" >"$sarif"
  check_status=$?
  set -e
  if [ "$check_status" -ge 2 ]; then
    echo "::error title=polytrans check::polytrans check $check failed (exit $check_status); see the log above"
  fi
  echo "sarif=$sarif" >>"$outputs"
  echo "check-exit-code=$check_status" >>"$outputs"
  if [ "$check_status" -gt "$status" ]; then
    status=$check_status
  fi
fi

exit "$status"
