-- wrk hook for bench/run.py: after the run, print one line of key=value
-- pairs (latencies in microseconds). Only done() is defined, so wrk keeps
-- sending its pre-built request.
done = function(summary, latency, requests)
  local e = summary.errors
  print(string.format("RESULT requests=%d duration_us=%d bytes=%d " ..
      "p50_us=%d p99_us=%d max_us=%d connect=%d read=%d write=%d " ..
      "status=%d timeout=%d",
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end
