# tests/lib/cli.sh -- shared helpers for the gossip-sim command-line tests
# (tests/test_*_cli.sh).  Source it from a bash script:
#
#     set -uo pipefail
#     . "$(dirname "$0")/lib/cli.sh"
#     cli_init rounds            # $sim, $tmp (removed at exit), failures=0
#     run --nodes 10 ...         # gossip-sim rounds ...: $tmp/out, $tmp/err, $status
#     expect_usage_error --nodes --nodes 1 ...
#     cli_finish                 # exit 1 if anything failed
#
# ctest sets GOSSIP_SIM to the gossip-sim binary.

# cli_init CMD: the gossip-sim subcommand that run and expect_usage_error call.
cli_init() {
    cli_cmd=$1
    cli_name=$(basename "$0" .sh)
    sim=${GOSSIP_SIM:?GOSSIP_SIM must name the gossip-sim binary}
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    failures=0
}

# cli_need_jq: the test needs jq; without it, it fails.
cli_need_jq() {
    if ! command -v jq >/dev/null 2>&1; then
        echo "$cli_name: jq is not installed (Debian package jq)" >&2
        exit 1
    fi
}

# fail MSG...: counts a failure and goes on; cli_finish gives the verdict.
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# run ARGS...: runs gossip-sim CMD, leaving $tmp/out, $tmp/err and $status.
run() {
    "$sim" "$cli_cmd" "$@" >"$tmp/out" 2>"$tmp/err"
    status=$?
}

# expect_usage_error FLAG ARGS...: exit 2 and FLAG named on stderr.
expect_usage_error() {
    local flag=$1
    shift
    run "$@"
    if [ "$status" -eq 0 ]; then
        fail "'$*' succeeded, expected an error"
    elif [ "$status" -ne 2 ]; then
        fail "'$*' exited $status, expected 2"
    elif ! grep -q -- "$flag" "$tmp/err"; then
        fail "'$*' did not name $flag on stderr: $(cat "$tmp/err")"
    fi
}

# cli_finish: exit 1 if any check failed, else say so.
cli_finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
    fi
    echo "$cli_name: all passed"
}
