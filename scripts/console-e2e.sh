#!/usr/bin/env bash
# End-to-end check of `velvet console` as a person uses it: the real binary
# in tmux on a seeded SQLite database. It types keys (search, approve,
# pause, open the codes' tree, revoke), waits for text on the screen (no
# fixed sleeps), and checks the database afterwards with the CLI.
#
#   scripts/console-e2e.sh [path/to/velvet]     (default: target/debug/velvet)
set -euo pipefail
cd "$(dirname "$0")/.."
VELVET="$(realpath "${1:-target/debug/velvet}")"
command -v tmux >/dev/null || { echo "console-e2e: tmux is not installed" >&2; exit 1; }

work="$(mktemp -d)"
session="velvet-e2e-$$"
export VELVET_DATABASE_URL="sqlite://$work/e2e.db"
export VELVET_OPERATOR=ada
cleanup() {
    tmux kill-session -t "$session" 2>/dev/null || true
    [ -n "${serve_pid:-}" ] && kill "$serve_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

screen() { tmux capture-pane -p -t "$session"; }
# wait_for TEXT [SECONDS]: polls the screen until TEXT shows.
wait_for() {
    local text="$1" limit="${2:-10}" start=$SECONDS
    until screen | grep -qF -- "$text"; do
        if (( SECONDS - start > limit )); then
            echo "console-e2e: gave up waiting for '$text'; the screen was:" >&2
            screen >&2
            exit 1
        fi
        sleep 0.05
    done
}
step() { echo "console-e2e: $*"; }

"$VELVET" operator add ada --role admin >/dev/null 2>&1
"$VELVET" seed --size 500 --seed 11 2>/dev/null
"$VELVET" codes issue --campaign leak --max-uses 100 --count 3 >/dev/null 2>&1
leak_batch="$("$VELVET" codes list --campaign leak --json | grep -m1 '"batch_id"' | tr -dc 0-9)"
person="$("$VELVET" export --status confirmed --format csv | sed -n 2p | cut -d, -f2)"
step "seeded 500 entries; will approve $person"

tmux new-session -d -s "$session" -x 120 -y 40 "NO_COLOR=1 VELVET_DATABASE_URL='$VELVET_DATABASE_URL' VELVET_OPERATOR=ada '$VELVET' console; echo velvet-exited-\$?; sleep 30"
wait_for "Waitlist 1/500"
wait_for "Live · last hour"
step "first screen is up"

# Esc at the top level goes nowhere: the console stays, with its hint.
tmux send-keys -t "$session" Escape
wait_for "nothing to go back from; q quits"
step "Esc at the top level does not quit"

# A live filter: a signup made through the API while the filter is typed in
# shows up in the filtered list, and on top once the filter is cleared.
"$VELVET" serve --listen 127.0.0.1:0 --mail "file:$work/mail" > "$work/serve.out" 2> "$work/serve.err" &
serve_pid=$!
start=$SECONDS
until grep -q "listening on" "$work/serve.out" 2>/dev/null; do
    (( SECONDS - start > 20 )) && { echo "console-e2e: serve did not start:" >&2; cat "$work/serve.err" >&2; exit 1; }
    sleep 0.05
done
api="$(grep -o 'http://[0-9.:]*' "$work/serve.out" | head -n 1)"
tmux send-keys -t "$session" / late.arrival@
wait_for "Waitlist 0/0"
curl -fsS -X POST "$api/v1/waitlist" -H 'content-type: application/json' -d '{"email":"late.arrival@example.com"}' >/dev/null
wait_for "late.arrival@example.com"
tmux send-keys -t "$session" Enter Escape
wait_for "Waitlist 1/501"
screen | grep -A1 "STATUS" | tail -n 1 | grep -qF "late.arrival@example.com" || { echo "console-e2e: the new signup is not on top:" >&2; screen >&2; exit 1; }
step "a signup through the API appeared in the live filter, then on top of the list"
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=

# "Where's my invite?": find the person, read the sentence.
tmux send-keys -t "$session" / "$person" Enter
wait_for "1 match"
wait_for "waiting for approval"
step "search found $person and explains: waiting for approval"

tmux send-keys -t "$session" a
wait_for "approved 1"
"$VELVET" lookup "$person" --json | grep -q '"status": "approved"'
step "approved from the console: the database agrees"

tmux send-keys -t "$session" Escape
wait_for "Waitlist 1/501"
tmux send-keys -t "$session" p
wait_for "Pause all redemption?"
tmux send-keys -t "$session" y
wait_for "PAUSED: redemption"
"$VELVET" settings show | grep -q "paused: redemption"
step "paused redemption in two keys: the database agrees"

# The Codes view is a tree: campaign → batch → codes, each row with its totals.
tmux send-keys -t "$session" 2
wait_for "Codes 1/"
wait_for "CAMPAIGN / BATCH / CODE"
tmux send-keys -t "$session" / leak Enter
wait_for "Codes 1/1"
tmux send-keys -t "$session" l
wait_for "batch $leak_batch"
tmux send-keys -t "$session" j
tmux send-keys -t "$session" l
wait_for "Codes 2/5"
step "opened campaign leak and its batch $leak_batch: its 3 codes were read"

# r on the batch's row asks with exactly how many codes it revokes; Esc leaves it.
tmux send-keys -t "$session" r
wait_for "Revoke batch $leak_batch (leak)?"
wait_for "3 codes stop working at once"
tmux send-keys -t "$session" Escape
wait_for "CAMPAIGN / BATCH / CODE"
screen | grep -qF "Revoke batch" && { echo "console-e2e: Esc did not close the confirmation:" >&2; screen >&2; exit 1; }
[ "$("$VELVET" codes list --campaign leak --json | grep -c '"state": "revoked"')" = 0 ]
step "r on batch $leak_batch asked to revoke exactly 3 codes; Esc revoked nothing"

tmux send-keys -t "$session" j
tmux send-keys -t "$session" r
wait_for "Revoke code"
tmux send-keys -t "$session" y
wait_for "revoked 1 codes"
"$VELVET" codes list --campaign leak --json | grep -q '"state": "revoked"'
wait_for "revoked by ada"
wait_for "Codes 3/5"
step "revoked the leaked code: the database agrees, and the cursor and open rows hold after the recount"

# The leak drill: the rest of its batch by command line, then its campaign by p on its row.
tmux send-keys -t "$session" ":revoke batch $leak_batch" Enter
wait_for "Revoke batch $leak_batch?"
wait_for "2 codes stop working at once"
tmux send-keys -t "$session" y
wait_for "revoked 2 codes"
[ "$("$VELVET" codes list --campaign leak --json | grep -c '"state": "revoked"')" = 3 ]
tmux send-keys -t "$session" g
tmux send-keys -t "$session" p
wait_for "Pause redemption for campaign leak?"
tmux send-keys -t "$session" y
wait_for "paused redemption for campaign leak"
wait_for "▾ leak  paused"
"$VELVET" settings show | grep -q "paused: campaign:leak"
step "revoked batch $leak_batch and paused campaign leak (p on its row): the database agrees"

# What the view lists, to a file: the campaign, its batch and its three codes, as filtered.
tmux send-keys -t "$session" ":export $work/leak.csv" Enter
wait_for "exported 5 rows of codes to $work/leak.csv"
[ "$(wc -l < "$work/leak.csv")" = 6 ] && head -n 1 "$work/leak.csv" | grep -q "^row,campaign,batch,hint,kind,state"
tmux send-keys -t "$session" ":export $work/no-such-folder/x.csv" Enter
wait_for "does not exist"
step "exported the filtered rows of codes as CSV; a missing folder is named in the toast"

# The person's timeline in the detail pane: its position, and o for time order.
# (Escape and a key sent together read as Alt+key: keys go one by one here.)
tmux send-keys -t "$session" 1
wait_for "Waitlist 1/"
tmux send-keys -t "$session" Tab
wait_for "newest first ┐"
tmux send-keys -t "$session" o
wait_for "time order ┐"
tmux send-keys -t "$session" o
wait_for "newest first ┐"
# q from the detail goes back to the list first.
tmux send-keys -t "$session" q
step "the detail's timeline shows its position and switches order"

tmux send-keys -t "$session" q
wait_for "velvet-exited-0"
step "quit cleanly; all checks passed"
