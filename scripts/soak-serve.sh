#!/usr/bin/env bash
# Headless soak of `serve`: the lab at a steady load for an hour-long window, one agent, serve,
# and a real Prometheus scraping both; prints their memory over time and, with --screenshot DIR,
# saves Prometheus' graph page of it (headless Chromium). Everything it starts is stopped at exit.
set -euo pipefail
usage() {
  cat <<'EOF'
Usage: scripts/soak-serve.sh [--minutes N] [--rate N] [--screenshot DIR]

Runs the lab's traffic for N minutes (default 60) at --rate requests per second per client
and Service (default 5), with `serve --window 1h` subscribed to the lab's agent and a real
Prometheus scraping both every 5 s. Every minute it prints the resident memory of serve and
of the agent; at the end, the figures after warm-up (first 5 minutes) and their growth.
--screenshot DIR saves DIR/prometheus-serve-memory.png and DIR/prometheus-stickiness.png,
Prometheus' own graph page over the run (needs /usr/bin/chromium). Needs root and a build
(npm run build).
EOF
}
minutes=60 rate=5 shots=
while (($#)); do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --screenshot) shots=$(realpath -m "$2"); shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "soak: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ $minutes =~ ^[1-9][0-9]*$ ]] || { echo "soak: --minutes must be a whole number >= 1, not '$minutes'" >&2; exit 2; }
cd "$(dirname "$0")/.."
prefix=soak$$
work=$(mktemp -d /tmp/stickyscope-soak-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  bin/stickyscope.js lab down --prefix "$prefix" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bin/stickyscope.js lab up --prefix "$prefix" >"$work/lab.log"
T=/run/stickyscope/lab-$prefix/tls
free_port() { node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
agent_metrics=127.0.0.1:$(free_port)
bin/stickyscope.js agent --netns "/run/netns/$prefix-node" --node-name "$prefix-node" --listen 127.0.0.1:0 \
  --ready-file "$work/agent.ready" --metrics "$agent_metrics" \
  --tls-cert "$T/$prefix-node.crt" --tls-key "$T/$prefix-node.key" --tls-client-ca "$T/ca.crt" \
  >"$work/agent.log" 2>&1 &
agent=$!
pids+=("$agent")
wait_file() {
  for _ in $(seq 600); do [[ -s $1 ]] && return 0; sleep 0.1; done
  echo "soak: $2 did not get ready; its log:" >&2
  cat "$3" >&2
  exit 1
}
wait_file "$work/agent.ready" agent "$work/agent.log"
bin/stickyscope.js serve --agent "$(cat "$work/agent.ready")" --listen 127.0.0.1:0 --window 1h --window 5m \
  --ready-file "$work/serve.ready" --tls-ca "$T/ca.crt" --tls-cert "$T/lab-client.crt" --tls-key "$T/lab-client.key" \
  >"$work/serve.log" 2>&1 &
serve=$!
pids+=("$serve")
wait_file "$work/serve.ready" serve "$work/serve.log"

prom_port=$(free_port)
cat >"$work/prometheus.yml" <<EOF
global: {scrape_interval: 5s, scrape_timeout: 4s}
scrape_configs:
  - {job_name: serve, static_configs: [{targets: ["$(cat "$work/serve.ready")"]}]}
  - {job_name: agent, static_configs: [{targets: ["$agent_metrics"]}]}
EOF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prom" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn 2>"$work/prometheus.log" &
pids+=($!)

bin/stickyscope.js lab traffic --prefix "$prefix" --duration "${minutes}m" --rate "$rate" >"$work/traffic.log" 2>&1 &
traffic=$!
pids+=("$traffic")

rss() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
echo "minute  serve_rss_mib  serve_heap_mib  agent_rss_mib  events_received"
declare -a serve_rss
start=$SECONDS
for ((m = 1; m <= minutes; m++)); do
  sleep $((start + m * 60 - SECONDS)) & wait $! # wait returns at once on a signal, so Ctrl-C or kill cleans up now
  kill -0 "$serve" 2>/dev/null || { echo "soak: serve exited; its log:" >&2; cat "$work/serve.log" >&2; exit 1; }
  kill -0 "$agent" 2>/dev/null || { echo "soak: the agent exited; its log:" >&2; cat "$work/agent.log" >&2; exit 1; }
  metrics=$(curl -s "http://$(cat "$work/serve.ready")/metrics")
  received=$(awk '/^stickyscope_events_total/ {print $2}' <<<"$metrics")
  heap=$(awk '/^nodejs_heap_size_used_bytes/ {printf "%.1f", $2/1048576}' <<<"$metrics")
  serve_rss[m]=$(rss "$serve")
  printf '%6d  %13s  %14s  %13s  %s\n' "$m" "${serve_rss[m]}" "${heap:-?}" "$(rss "$agent")" "${received:-?}"
done
wait "$traffic" || true

if ((minutes > 5)); then
  awk -v a="${serve_rss[5]}" -v b="${serve_rss[minutes]}" -v m="$minutes" 'BEGIN {
    printf "serve RSS after warm-up (minute 5): %.1f MiB; at minute %d: %.1f MiB; growth %.1f MiB (%.1f%%)\n", a, m, b, b - a, 100 * (b - a) / a }'
fi
if [[ -n $shots ]]; then
  mkdir -p "$shots"
  range=$((minutes + 2))m
  shoot() {
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
      --disable-component-update --disable-sync --user-data-dir="$work/chromium" --hide-scrollbars \
      --window-size=1400,900 --virtual-time-budget=15000 --screenshot="$shots/$1" \
      "http://127.0.0.1:$prom_port/graph?g0.expr=$2&g0.tab=0&g0.range_input=$range" >/dev/null 2>&1
    echo "saved $shots/$1"
  }
  shoot prometheus-serve-memory.png 'process_resident_memory_bytes'
  shoot prometheus-stickiness.png 'stickyscope_service_stickiness_ratio'
fi
