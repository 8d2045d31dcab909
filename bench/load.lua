-- wrk script of bench/compare_load.sh: each connection cycles through the
-- requests in the PATHS environment variable (separated by '|'), and the
-- summary line gives latency percentiles (ms), requests and every error.
local paths = {}
for p in string.gmatch(os.getenv("PATHS"), "[^|]+") do table.insert(paths, p) end
local i = 0

request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests, latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.connect + e.read + e.write + e.timeout, e.status))
end
