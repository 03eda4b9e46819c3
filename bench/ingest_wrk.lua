-- wrk script for bench/ingest.py: rotate through pre-built raw HTTP requests.
-- usage: wrk -tN ... -s ingest_wrk.lua URL -- POOL_DIR N [IDS_PREFIX]
-- POOL_DIR holds requests.bin (requests back to back) and requests.idx ("offset length"
-- lines). Thread i of N takes every N-th request. With IDS_PREFIX, thread i appends the id of
-- every 200 {"id": ...} answer to IDS_PREFIX<i>, one a line (the durability check).
-- Prints one JSON line at the end.

local threads = {}
local nthreads = 0

function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

function init(args)
  local dir = args[1]
  local total = tonumber(args[2]) or 1
  local idx = assert(io.open(dir .. "/requests.idx", "r"))
  local bin = assert(io.open(dir .. "/requests.bin", "rb"))
  reqs = {}
  local i = 0
  for line in idx:lines() do
    if i % total == tid then
      local off, len = line:match("(%d+) (%d+)")
      bin:seek("set", tonumber(off))
      reqs[#reqs + 1] = bin:read(tonumber(len))
    end
    i = i + 1
  end
  idx:close()
  bin:close()
  count = #reqs
  pos = 0
  sent = 0
  received = 0
  statuses = {}
  if args[3] then
    ids = assert(io.open(args[3] .. tid, "w"))
  end
end

function request()
  pos = pos % count + 1
  sent = sent + 1
  return reqs[pos]
end

function response(status, headers, body)
  local key = "s" .. status
  statuses[key] = (statuses[key] or 0) + 1
  received = received + 1
  if ids and status == 200 and body:sub(1, 7) == '{"id":"' then
    ids:write(body:sub(8, 39), "\n")
    ids:flush()
  end
end

function done(summary, latency, requests)
  local agg = {}
  local in_flight = 0
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for k, v in pairs(s) do
      agg[k] = (agg[k] or 0) + v
    end
    in_flight = in_flight + thread:get("sent") - thread:get("received")
  end
  local parts = {}
  for k, v in pairs(agg) do
    parts[#parts + 1] = string.format('"%s":%d', k:sub(2), v)
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"in_flight_at_stop":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f},' ..
    '"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.bytes, in_flight,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean,
    table.concat(parts, ",")))
end
