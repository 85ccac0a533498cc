#!/usr/bin/env bash
# End-to-end check of `velvet console` as a person uses it: the real binary
# in tmux on a seeded SQLite database. It types keys (search, approve,
# pause, open the codes' tree, revoke), waits for text on the screen (no
# fixed sleeps), and checks the database afterwards with the CLI.
#
#   scripts/console-e2e.sh [path/to/velvet]             on a seeded SQLite database
#   scripts/console-e2e.sh --context [path/to/velvet]   over a context: `velvet login`
#       to a `serve --admin-listen`, the console as support and as an admin
#
# (default binary: target/debug/velvet)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=database
if [ "${1:-}" = "--context" ]; then
    mode=context
    shift
fi
VELVET="$(realpath "${1:-target/debug/velvet}")"
command -v tmux >/dev/null || { echo "console-e2e: tmux is not installed" >&2; exit 1; }

work="$(mktemp -d)"
session="velvet-e2e-$$"
context_env=""
cleanup() {
    for s in "$session" "$session-admin" "$session-ctrl-c"; do
        tmux kill-session -t "$s" 2>/dev/null || true
    done
    [ -n "${serve_pid:-}" ] && kill "$serve_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

screen() { tmux capture-pane -p -t "${2:-$session}"; }
# wait_for TEXT [SECONDS [SESSION]]: polls the screen until TEXT shows.
wait_for() {
    local text="$1" limit="${2:-10}" on="${3:-$session}" start
    start=$(date +%s%N)
    until screen "" "$on" | grep -qF -- "$text"; do
        if (( ($(date +%s%N) - start) / 1000000 > limit * 1000 )); then
            echo "console-e2e: gave up waiting ${limit} s for '$text'; the screen was:" >&2
            screen "" "$on" >&2
            exit 1
        fi
        sleep 0.05
    done
}
# wait_gone TEXT [SECONDS [SESSION]]: polls the screen until TEXT is gone.
wait_gone() {
    local text="$1" limit="${2:-10}" on="${3:-$session}" start
    start=$(date +%s%N)
    while screen "" "$on" | grep -qF -- "$text"; do
        if (( ($(date +%s%N) - start) / 1000000 > limit * 1000 )); then
            echo "console-e2e: gave up waiting ${limit} s for '$text' to go; the screen was:" >&2
            screen "" "$on" >&2
            exit 1
        fi
        sleep 0.05
    done
}
fail() { echo "console-e2e: $*" >&2; exit 1; }
step() { echo "console-e2e: $*"; }

# start_serve ARGS...: `velvet serve` on a free loopback port, in the
# background; sets serve_pid and api (its public base URL).
start_serve() {
    "$VELVET" serve --listen 127.0.0.1:0 --mail "file:$work/mail" "$@" > "$work/serve.out" 2> "$work/serve.err" &
    serve_pid=$!
    local start=$SECONDS
    until grep -q "listening on" "$work/serve.out" 2>/dev/null; do
        (( SECONDS - start > 20 )) && { echo "console-e2e: serve did not start:" >&2; cat "$work/serve.err" >&2; exit 1; }
        sleep 0.05
    done
    api="$(grep -o 'http://[0-9.:]*' "$work/serve.out" | head -n 1)"
}

# The terminal as the console found it: the tty's settings, and the
# alternate screen off, once the console has quit.
restored() {
    local on="$1"
    cmp -s "$work/$on.stty-before" "$work/$on.stty-after" || fail "the terminal settings were not restored ($on)"
    [ "$(tmux display-message -p -t "$on" '#{alternate_on}')" = 0 ] || fail "still on the alternate screen ($on)"
}

# open_console SESSION ARGS...: `velvet ARGS console` in a new tmux window,
# the tty's settings saved before and after.
open_console() {
    local on="$1"
    shift
    local args=""
    for a in "$@"; do args+=" '$a'"; done
    tmux new-session -d -s "$on" -x 120 -y 40 "stty -g > '$work/$on.stty-before'; NO_COLOR=1 $context_env '$VELVET'$args console; echo velvet-exited-\$?; stty -g > '$work/$on.stty-after'; sleep 30"
}

if [ "$mode" = context ]; then
    # A server with its admin API apart; ada (admin) and sam (support) log
    # in with tokens. No database URL, no operator in the console's
    # environment: the context and its token say where and who.
    db="sqlite://$work/team.db"
    export XDG_CONFIG_HOME="$work/config"
    context_env="env -u VELVET_DATABASE_URL -u VELVET_OPERATOR -u VELVET_CONTEXT XDG_CONFIG_HOME='$XDG_CONFIG_HOME'"
    on_db() { "$VELVET" --database-url "$db" --as ada "$@"; }
    "$VELVET" --database-url "$db" operator add ada --role admin >/dev/null 2>&1
    on_db operator add sam --role support >/dev/null 2>&1
    on_db seed --size 200 --seed 11 2>/dev/null
    # The pacer would invite approvals by itself: keep them approved.
    on_db settings set daily_invite_cap 0 2>/dev/null
    ada_token="$(on_db operator token ada --note e2e 2>/dev/null)"
    sam_token="$(on_db operator token sam --note e2e 2>/dev/null)"
    start_serve --database-url "$db" --admin-listen 127.0.0.1:0
    admin="$(grep -o 'admin API and /metrics on http://[0-9.:]*' "$work/serve.out" | sed 's/.* on //')"
    [ -n "$admin" ] || fail "no admin listener in: $(cat "$work/serve.out")"
    ctx() { env -u VELVET_DATABASE_URL -u VELVET_OPERATOR -u VELVET_CONTEXT "$VELVET" "$@"; }
    printf '%s\n' "$sam_token" | ctx login help "$admin" --token-stdin 2> "$work/login.err" || fail "login: $(cat "$work/login.err")"
    printf '%s\n' "$ada_token" | ctx login prod "$admin" --token-stdin 2> "$work/login.err" || fail "login: $(cat "$work/login.err")"
    [ "$(stat -c %a "$XDG_CONFIG_HOME/velvet")" = 700 ] && [ "$(stat -c %a "$XDG_CONFIG_HOME/velvet/contexts.toml")" = 600 ] \
        || fail "the contexts file is not private: $(stat -c '%a %n' "$XDG_CONFIG_HOME/velvet" "$XDG_CONFIG_HOME/velvet/contexts.toml")"
    ctx contexts | grep -q "^  help .* sam (support)$" || fail "contexts: $(ctx contexts)"
    ctx use help 2>/dev/null || fail "velvet use help"
    ctx contexts | grep -q "^\* help .* sam (support)$" || fail "contexts: $(ctx contexts)"
    step "serve on $api, admin API on $admin; logged in as sam (help) and ada (prod), contexts file 0600 in 0700"

    # Support: the list over the server, named in the title; approving is
    # not offered (footer, help) and `a` does nothing.
    open_console "$session" --context help
    wait_for "Waitlist 1/200"
    wait_for "sam (support) · $admin"
    screen | tail -n 1 | grep -qF "b block" || fail "support's footer lacks block: $(screen | tail -n 1)"
    screen | tail -n 1 | grep -qF "approve" && fail "support's footer offers approve: $(screen | tail -n 1)"
    step "support's console lists the waitlist over $admin; the footer offers no approve"

    # A signup through the public API shows up within 2 s, on top.
    curl -fsS -X POST "$api/v1/waitlist" -H 'content-type: application/json' -d '{"email":"late.arrival@example.com"}' >/dev/null
    wait_for "late.arrival@example.com" 2
    wait_for "/201" 2
    screen | grep -A1 "STATUS" | tail -n 1 | grep -qF "late.arrival@example.com" || fail "the new signup is not on top: $(screen)"
    step "a signup through the public API appeared on top within 2 s"

    # `a` is not offered: the help, drawn after it, names what is hidden and why.
    tmux send-keys -t "$session" / confirmed Enter
    wait_for "Enter keeps, Esc clears"
    tmux send-keys -t "$session" a
    tmux send-keys -t "$session" '?'
    wait_for "Your role is support:"
    wait_for "space a A S r are hidden here (your role may not use them"
    [ -z "$(ctx --context prod events --kind approve --since 1d 2>/dev/null)" ] || fail "support approved someone"
    step "support pressed a on a confirmed person: not offered, nothing approved; the help says why"

    # Esc closes the help, then clears the filter, then (at the top) goes
    # nowhere. (Two Escapes sent together read as Alt+Esc: one at a time.)
    tmux send-keys -t "$session" Escape
    wait_gone "Keys (q closes)"
    tmux send-keys -t "$session" Escape
    wait_for "Waitlist 1/201"
    tmux send-keys -t "$session" Escape
    wait_for "nothing to go back from; q quits"
    # q from the detail goes back to the list first, then quits.
    # (the footer offers "o order" only while the detail has focus)
    tmux send-keys -t "$session" Enter
    wait_for " o order"
    tmux send-keys -t "$session" q
    wait_gone " o order"
    screen | grep -qF "Waitlist 1/201" || fail "q from the detail did not go back to the list: $(screen)"
    tmux send-keys -t "$session" q
    wait_for "velvet-exited-0"
    restored "$session"
    step "Esc never quits, q quits from the list; exit 0 and the terminal is restored"

    # An admin: approving asks first (y), and the server records who did it.
    open_console "$session-admin" --context prod
    wait_for "Waitlist 1/201" 10 "$session-admin"
    wait_for "ada (admin) · $admin" 10 "$session-admin"
    screen "" "$session-admin" | tail -n 1 | grep -qF "a approve" || fail "the admin's footer lacks approve"
    tmux send-keys -t "$session-admin" A
    wait_for "Approve how many confirmed entries, oldest first?" 10 "$session-admin"
    tmux send-keys -t "$session-admin" 3 Enter
    wait_for "Approve the next 3?" 10 "$session-admin"
    tmux send-keys -t "$session-admin" y
    wait_for "approved 3" 10 "$session-admin"
    approvals="$(ctx --context prod events --kind approve --since 1d --json)"
    [ "$(grep -c . <<< "$approvals")" = 3 ] && [ "$(grep -c '"actor":"ada"' <<< "$approvals")" = 3 ] \
        || fail "the server should show 3 approvals, all by ada (none by sam): $approvals"
    step "the admin approved the next 3 (y to confirm); the server's trail names ada, and no one else approved"
    tmux send-keys -t "$session-admin" q
    wait_for "velvet-exited-0" 10 "$session-admin"
    restored "$session-admin"

    # Ctrl-C quits anywhere, here from an open filter, and restores the terminal.
    open_console "$session-ctrl-c" --context help
    wait_for "Waitlist 1/201" 10 "$session-ctrl-c"
    tmux send-keys -t "$session-ctrl-c" / late
    wait_for "/ late" 10 "$session-ctrl-c"
    tmux send-keys -t "$session-ctrl-c" C-c
    wait_for "velvet-exited-0" 10 "$session-ctrl-c"
    restored "$session-ctrl-c"
    step "Ctrl-C quit from an open filter; exit 0 and the terminal is restored"
    step "all checks over a context passed"
    exit 0
fi

export VELVET_DATABASE_URL="sqlite://$work/e2e.db"
export VELVET_OPERATOR=ada
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
start_serve
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
