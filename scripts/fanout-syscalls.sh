#!/bin/bash
# fanout-syscalls.sh BIN DIR OUT.json: one `BIN bench` run (fan-out step
# timings and EVO_BENCH_FANOUT_TRACE=DIR) with the fan-out server's
# pwrite64, pread64, fsync and fdatasync recorded by `perf record` (kernel
# tracepoints, monotonic clock; DIR/clock.txt is realtime - monotonic,
# DIR/fds.txt names the descriptors). Read it with
# scripts/fanout-syscalls.py DIR. Run it under quiet.sh; needs root (perf).
# docs/benchmarks.md, "Checkpoints and the log write's stalls".
set -u
BIN=$1; T=$2; OUT=$3
rm -rf "$T"; mkdir -p "$T"
cd /tmp
EVO_BENCH_FANOUT_TRACE=$T "$BIN" bench --history 1000 --duration-secs 4 --fanout-steps --json > "$OUT" 2> "$T/bench.err" &
B=$!
until [ -e "$T/samples.tsv" ] || ! kill -0 $B 2>/dev/null; do sleep 0.05; done
P=$(pgrep -n -P $B -f " serve --data-dir")
python3 -c "import time; print(time.clock_gettime(time.CLOCK_REALTIME)-time.clock_gettime(time.CLOCK_MONOTONIC))" > "$T/clock.txt"
ls -l /proc/$P/fd > "$T/fds.txt" 2>&1
perf record -q -k CLOCK_MONOTONIC -o "$T/perf.data" -p $P -e syscalls:sys_enter_pwrite64,syscalls:sys_exit_pwrite64,syscalls:sys_enter_fsync,syscalls:sys_exit_fsync,syscalls:sys_enter_fdatasync,syscalls:sys_exit_fdatasync,syscalls:sys_enter_pread64,syscalls:sys_exit_pread64 > "$T/perf.err" 2>&1 &
R=$!
# until the fan-out phase is over (samples.tsv complete: the bench reports the phase)
until [ $(wc -l < "$T/samples.tsv") -ge 2000 ] || ! kill -0 $B 2>/dev/null; do sleep 0.2; done
sleep 1
kill -INT $R; wait $R
ls -l /proc/$P/fd > "$T/fds-end.txt" 2>&1
wait $B
echo "bench rc=$?"
