#!/usr/bin/env bash
# Voice load benchmark: SIPp callers against a release build on loopback.
#
#   bench/voice.sh [setup_rate] [setup_calls] [concurrent_calls]
#
# 1. Call set-up rate: `setup_calls` calls at `setup_rate` per second, each
#    answered by the IVR and held 1 s; reports SIPp's successful/failed calls.
# 2. Concurrency: `concurrent_calls` calls held for 40 s, each hearing the
#    IVR prompt (20 ms PCMU packets); reports the server's CPU and memory per
#    call, and the packets it sent against the packets 20 ms pacing asks for.
# Needs sipp (sip-tester) and espeak-ng. Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-500}
setup_calls=${2:-5000}
concurrent=${3:-2000}
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q -p switchboard
ulimit -n 65536 2>/dev/null || true
http=127.0.0.1:18080
sip=127.0.0.1:15060
SWITCHBOARD_ADMIN_PASSWORD=Bench-Passw0rd RUST_LOG=warn \
  target/release/switchboard serve --data-dir "$work" --listen $http --sip-listen $sip >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf http://$http/healthz >/dev/null && break; sleep 0.1; done

api() { curl -sf -X "$1" "http://$http/api/v1$2" -H "authorization: Bearer ${token:-}" -H 'content-type: application/json' ${3:+-d "$3"}; }
token=$(api POST /auth/login '{"username":"admin","password":"Bench-Passw0rd"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
api POST /sip-trunks '{"name":"loopback","inbound_addresses":["127.0.0.1"]}' >/dev/null
flow='{"Version":"2019-10-30","StartAction":"menu","Actions":[
 {"Identifier":"menu","Type":"GetParticipantInput","Parameters":{"Text":"Thank you for calling. Please hold while we find your account. For sales, press 1. For support, press 2.","StoreInput":"False","InputTimeLimitSeconds":"60"},
  "Transitions":{"NextAction":"bye","Conditions":[{"NextAction":"bye","Condition":{"Operator":"Equals","Operands":["1"]}}],
   "Errors":[{"ErrorType":"InputTimeLimitExceeded","NextAction":"bye"},{"ErrorType":"NoMatchingCondition","NextAction":"bye"},{"ErrorType":"NoMatchingError","NextAction":"bye"}]}},
 {"Identifier":"bye","Type":"DisconnectParticipant","Parameters":{},"Transitions":{}}]}'
flow_id=$(api POST /flows "{\"name\":\"Bench IVR\",\"type\":\"CONTACT_FLOW\",\"content\":$flow}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
api POST "/flows/$flow_id/publish" >/dev/null
api POST /phone-numbers "{\"number\":\"+442079460555\",\"flow\":\"$flow_id\"}" >/dev/null

stat() { ps -o %cpu=,rss= -p $server; }
echo "== call set-up: $setup_calls calls at $rate/s, each held 1 s"
start=$(date +%s.%N)
sipp $sip -sf bench/voice_call.xml -s 442079460555 -i 127.0.0.1 -r "$rate" -m "$setup_calls" -l $((rate * 4)) -d 1000 \
  -nostdin -timeout 300s -trace_stat -stf "$work/setup.csv" -fd 1 >/dev/null 2>&1 || true
end=$(date +%s.%N)
python3 - "$work/setup.csv" "$start" "$end" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
head, last = rows[0], rows[-1]
col = lambda name: last[head.index(name)]
ok, failed = int(col('SuccessfulCall(C)')), int(col('FailedCall(C)'))
took = float(sys.argv[3]) - float(sys.argv[2])
# Every call is held 1 s after its set-up, so set-ups ran over (wall - 1) s.
print(f"successful {ok}, failed {failed}; {ok / (took - 1):.0f} call set-ups/s ({took:.1f} s wall)")
PY

echo "== concurrency: $concurrent calls held 40 s with the IVR prompt playing"
before=$(ps -o rss= -p $server)
sipp $sip -sf bench/voice_call.xml -s 442079460555 -i 127.0.0.1 -r 200 -m "$concurrent" -l "$concurrent" -d 40000 \
  -nostdin -timeout 300s -trace_stat -stf "$work/hold.csv" -fd 1 >/dev/null 2>&1 &
load=$!
sleep $(( concurrent / 200 + 8 ))
# Packets the server sends in 5 s: loopback counters for UDP datagrams out.
sent0=$(awk '/^Udp:/ && $2 ~ /^[0-9]+$/ {print $5}' /proc/net/snmp)
t0=$(date +%s.%N)
read cpu rss < <(top -b -n 2 -d 5 -p $server | awk -v pid=$server '$1==pid {c=$9; r=$6} END {print c, r}')
t1=$(date +%s.%N)
sent1=$(awk '/^Udp:/ && $2 ~ /^[0-9]+$/ {print $5}' /proc/net/snmp)
wait $load || true
python3 - "$work/hold.csv" "$cpu" "$rss" "$before" "$sent0" "$sent1" "$t0" "$t1" "$concurrent" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
head, last = rows[0], rows[-1]
col = lambda name: last[head.index(name)]
ok, failed = int(col('SuccessfulCall(C)')), int(col('FailedCall(C)'))
cpu, rss, before = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
sent = int(sys.argv[6]) - int(sys.argv[5]); secs = float(sys.argv[8]) - float(sys.argv[7])
n = int(sys.argv[9])
print(f"calls: successful {ok}, failed {failed}")
print(f"server CPU {cpu:.0f}% of one core ({cpu / n * 10:.2f}% per 10 calls), memory {rss/1024:.0f} MiB ({(rss - before) / n:.0f} KiB per call)")
# SIPp sends no RTP here: UDP datagrams out are the server's RTP plus its
# RTCP reports (one per call every 5 s).
rtp = sent / secs - n / 5
print(f"RTP packets sent: {rtp:.0f}/s for {n * 50}/s due ({100 * rtp / (n * 50):.1f}%), plus {n / 5:.0f} RTCP reports/s")
PY
