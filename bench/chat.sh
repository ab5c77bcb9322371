#!/usr/bin/env bash
# Chat load benchmark: many customers in chat at once against a release
# build on loopback, and the message latency at that load.
#
#   bench/chat.sh [chats] [messages_per_second] [seconds]
#
# Starts `switchboard serve --demo` (SQLite, fresh folder), then runs the
# client in crates/switchboard-server/benches/chat.rs as a separate process:
# it starts `chats` chats on the demo chat flow, connects every customer's
# WebSocket and answers the menu so each chat waits in the Sales queue, then
# sends `messages_per_second` messages round-robin for `seconds` seconds and
# reports p50/p90/p99/max from send to the chat's item coming back, and the
# server's memory per chat. Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
chats=${1:-10000}
rate=${2:-1000}
seconds=${3:-20}
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q -p switchboard
cargo bench -q -p switchboard-server --bench chat --no-run 2>/dev/null
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
http=127.0.0.1:18081
cat >"$work/switchboard.toml" <<TOML
chat_starts_per_minute = 1000000
TOML
SWITCHBOARD_ADMIN_PASSWORD=Bench-Passw0rd RUST_LOG=warn \
  target/release/switchboard serve --demo --config "$work/switchboard.toml" --data-dir "$work" \
  --listen $http --sip-listen 127.0.0.1:15061 >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf http://$http/healthz >/dev/null && break; sleep 0.1; done
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; server and client share it"
SWITCHBOARD_URL=http://$http CHATS=$chats RATE=$rate SECONDS=$seconds SERVER_PID=$server \
  cargo bench -q -p switchboard-server --bench chat
