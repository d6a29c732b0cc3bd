-- bench/publish.lua: wrk script for scenario (c), REST publish throughput.
--   wrk -t2 -c50 -d10s -s bench/publish.lua URL -- MODE SIZE [AUTH]
-- MODE json: Herald, POST /channels/<c>/messages with {"name":"b","data":"..."}
--            (AUTH: the Authorization header value, e.g. "Basic <base64 key>")
-- MODE raw:  nchan, POST /pub/<c> with the payload as the body
-- MODE batch: Herald batch publish, POST /messages with one BatchSpec
--            publishing {"name":"b","data":"..."} to CHANNELS channels
--            (4th argument, default 100): wrk -s bench/publish.lua
--            URL/messages -- batch SIZE AUTH CHANNELS
-- SIZE: payload bytes (default 100). Every request is identical, so the body
-- is built once. done() prints one line "BENCH_JSON {...}" that run-bench.sh
-- reads: requests, duration, errors (socket errors and HTTP status >= 400),
-- requests/s and latency percentiles in µs.

local mode, size, auth = "raw", 100, nil

-- {"channels":["batch-1",...,"batch-n"],"messages":<message>}
local function batch_body(message, channels)
  local names = {}
  for i = 1, channels do names[i] = '"batch-' .. i .. '"' end
  return '{"channels":[' .. table.concat(names, ",") .. '],"messages":' ..
         message .. '}'
end

function init(args)
  mode = args[1] or mode
  size = tonumber(args[2] or size)
  auth = args[3]
  local payload = string.rep("x", size)
  wrk.method = "POST"
  local message = '{"name":"b","data":"' .. payload .. '"}'
  if mode == "json" then
    wrk.body = message
    wrk.headers["Content-Type"] = "application/json"
  elseif mode == "batch" then
    wrk.body = batch_body(message, tonumber(args[4] or 100))
    wrk.headers["Content-Type"] = "application/json"
  else
    wrk.body = payload
    wrk.headers["Content-Type"] = "text/plain"
  end
  if auth then wrk.headers["Authorization"] = auth end
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_s":%.3f,"requests_per_s":%.1f,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\n',
    summary.requests, seconds, summary.requests / seconds,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
