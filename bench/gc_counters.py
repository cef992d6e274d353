"""Reads a service's /metrics (Prometheus text) on stdin and prints, as JSON, the runtime's own GC counters so far:
bytes allocated (allocated_bytes) and seconds paused (pause_s). Used by bench/status.sh and bench/accept.sh."""
import json
import sys

WANTED = {"dotnet_gc_heap_total_allocated_bytes_total": "allocated_bytes", "dotnet_gc_pause_time_seconds_total": "pause_s"}
out = {}
for line in sys.stdin:
    name = line.split("{")[0].split(" ")[0]
    if name in WANTED:
        out[WANTED[name]] = float(line.rsplit(" ", 1)[1])
print(json.dumps(out))
