#!/bin/sh
# Load test of `hrnet serve` with wrk (Debian's wrk; loopback only): requests/s and latency
# percentiles at concurrency 1, 8 and 64, one box per image, with dynamic batching (the default:
# up to 8 crops per run, direct convolutions so answers do not depend on batch-mates), with
# batching and Winograd (--fast-batching) and without batching (--max-batch 1), for the embedded default pose
# model and pose W32 256x192 (random weights: the time does not depend on them), and the server's
# peak RSS (VmHWM) after each load. Run from the repository root on a quiet machine:
#   swift build -c release && sh Benchmarks/serve_load.sh [SECONDS per point, default 10]
set -eu
HRNET=${HRNET:-.build/release/hrnet}
SECONDS_PER_POINT=${1:-10}
IMAGE=$(pwd)/Tests/Fixtures/detection/person_scene.jpg
BOX="box=172.82,45.14,68.36,166.34"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/post.lua" <<LUA
local f = io.open("$IMAGE", "rb"); wrk.body = f:read("*all"); f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "image/jpeg"
LUA
cat > "$WORK/w32.yaml" <<YAML
models:
  - {name: w32, task: pose, preset: pose_w32_256x192, weights: random}
YAML
echo "| model | batching | concurrency | requests/s | p50 ms | p99 ms | peak RSS MB |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for model in default w32; do
  for batching in on fast off; do
    args="--port 0 --threads 2 --queue 256"
    [ "$model" = w32 ] && args="$args --models $WORK/w32.yaml"
    [ "$batching" = off ] && args="$args --max-batch 1"
    [ "$batching" = fast ] && args="$args --fast-batching"
    $HRNET serve $args > "$WORK/serve.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q listening "$WORK/serve.log" 2>/dev/null && break; sleep 0.2; done
    port=$(grep -o '127.0.0.1:[0-9]*' "$WORK/serve.log" | head -1 | cut -d: -f2)
    url="http://127.0.0.1:$port/v1/pose?$BOX"
    # Warm-up: every batch size compiles once.
    wrk -t1 -c8 -d3s -s "$WORK/post.lua" "$url" > /dev/null
    for c in 1 8 64; do
      sleep 3  # the previous load's requests finish first
      out=$(wrk -t1 -c$c -d${SECONDS_PER_POINT}s --timeout 30s --latency -s "$WORK/post.lua" "$url")
      rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
      p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
      p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
      rss=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' /proc/$pid/status)
      errors=$(echo "$out" | awk '/Non-2xx/ {print " (" $NF " non-2xx)"}')
      echo "| $model | $batching | $c | $rps$errors | $p50 | $p99 | $rss |"
    done
    kill -TERM $pid; wait $pid || true
  done
done
