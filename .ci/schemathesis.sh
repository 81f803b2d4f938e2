#!/usr/bin/env bash
# Fuzzes the HTTP API from its own /openapi.json with schemathesis: fails on any 5xx answer
# and on any answer that does not match the documented schema. Starts `croupier serve` on a
# free 127.0.0.1 port over a temporary data folder with a known operator key, opens a player
# session (so player endpoints are exercised past authentication), and stops the server after.
# Operator endpoints cannot be signed by schemathesis (the signature covers method, path, a
# timestamp and the body): they answer 401, which is documented.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
cargo build -p croupier --locked
bin="$target_dir/debug/croupier"

venv="${XDG_CACHE_HOME:-$HOME/.cache}/croupier/schemathesis-venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'schemathesis>=4,<5'
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

export CROUPIER_OPERATOR_KEY="schemathesis-key"
"$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" --durability process >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
addr=""
for _ in $(seq 1 100); do
    addr="$(sed -n 's/^listening on //p' "$work/stdout")"
    [ -n "$addr" ] && break
    sleep 0.1
done
[ -n "$addr" ] || { cat "$work/stderr"; echo "croupier serve did not start"; exit 1; }
base="http://$addr"

# The canonical string: METHOD \n PATH_AND_QUERY \n TIMESTAMP \n BODY (no trailing newline).
sign() { printf '%s\n%s\n%s\n%s' "$1" "$2" "$3" "$4" | openssl dgst -sha256 -hmac "$CROUPIER_OPERATOR_KEY" | sed 's/^.* //'; }
operator() {
    local ts
    ts=$(($(date +%s) * 1000))
    curl -sf -X POST "$base$1" -H "X-Croupier-Timestamp: $ts" -H "X-Croupier-Signature: $(sign POST "$1" "$ts" "$2")" -d "$2"
}
operator /api/deposit '{"transfer_id":"st-1","user_id":42,"amount":"1000.00"}' >/dev/null
operator /api/game_event '{"event":"game_start","round_id":"st-round","window_ms":3600000}' >/dev/null
# A crash channel whose terms run by themselves, so its views and bets answer past 404.
operator /api/crash/channels '{"channel":"st-crash","pre_start_ms":2000,"starting_ms":200,"pause_ms":200,"chain_length":1000,"limits":[{"min_stake":"1.00","max_stake":"100.00","max_profit_per_bet":"1000.00","max_profit_per_term":"10000.00"}]}' >/dev/null
token="$(operator /api/sessions '{"user_id":42}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"

# Run from the temporary folder: schemathesis keeps a cache in its working directory.
cd "$work"
timeout 300 "$venv/bin/schemathesis" run "$base/openapi.json" \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" \
    --seed 1 \
    --header "Authorization: Bearer $token" \
    --request-timeout 10
