#!/usr/bin/env bash
# Fuzzes hrnet-swift's file parsers with libFuzzer (Swift -sanitize=fuzzer, with AddressSanitizer).
#   Fuzz/run.sh SECONDS [TARGET ...]   each target for SECONDS (random seed: a new search each time)
#   Fuzz/run.sh runs=N [TARGET ...]    each target for N inputs from libFuzzer seed 1: nearly the
#                                      same search every time (the Swift runtime's lazy set-up
#                                      shifts coverage a little between runs)
# (targets: checkpoint npy image yaml coco mat boxes classes pyconfig keypoints; default all).
# `make fuzz-check` (CI) runs 30000 inputs each; `make fuzz` 10 minutes each (a long local run).
# Seeds: the committed test fixtures listed in seeds/TARGET.txt plus corpus/TARGET/ (add a
# finding's reproducer there once fixed). Each run starts from a fresh copy of them. A crash, a
# sanitizer report, an allocation over 1 GB, RSS over 2 GB or an input taking over 10 s is a
# finding: its input is kept in Fuzz/findings/ and the script exits 1.
set -euo pipefail
cd "$(dirname "$0")"
amount=${1:?usage: Fuzz/run.sh SECONDS|runs=N [TARGET ...]}
shift
case $amount in
    runs=*) budget=(-runs="${amount#runs=}" -seed=1); what="${amount#runs=} inputs (seed 1)" ;;
    *) budget=(-max_total_time="$amount"); what="$amount s" ;;
esac
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(checkpoint npy image yaml coco mat boxes classes pyconfig keypoints)
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xcc -fsanitize=fuzzer-no-link,address >&2
binary=.build/release/hrnet-fuzz
work=$(mktemp -d)
trap 'rm -rf "$work" /dev/shm/hrnet-fuzz-* 2>/dev/null || true' EXIT
mkdir -p findings
failed=0
for t in "${targets[@]}"; do
    mkdir -p "$work/$t"
    if [ -f "seeds/$t.txt" ]; then
        { grep -v '^#' "seeds/$t.txt" || true; } | while read -r f; do
            if [ -n "$f" ]; then cp "../Tests/Fixtures/$f" "$work/$t/$(echo "$f" | tr / _)"; fi
        done
    fi
    if [ -d "corpus/$t" ]; then cp corpus/"$t"/* "$work/$t/"; fi
    seeds=$(ls "$work/$t" | wc -l)
    log="$work/$t.log"
    # The Swift runtime's own crash handler would race the sanitizer's report: off.
    if HRNET_FUZZ=$t SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$binary" "$work/$t" "${budget[@]}" \
        -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 -artifact_prefix="findings/$t-" -print_final_stats=1 >"$log" 2>&1; then
        status=ok
    else
        status=FINDING
        failed=1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo "?")
    corpus=$(ls "$work/$t" | wc -l)
    printf '%-10s %s: %s executions (%s), coverage %s edges, corpus %s -> %s\n' "$t" "$status" "$runs" "$what" "$cov" "$seeds" "$corpus"
    if [ $status != ok ]; then grep -E 'ERROR|Fatal error|SUMMARY|==[0-9]+==|#[0-9] ' "$log" | head -30; ls findings/"$t"-* 2>/dev/null; fi
done
exit $failed
