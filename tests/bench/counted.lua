-- wrk script: exactly BENCH_REQUESTS requests in all, split over
-- BENCH_THREADS threads, each thread stopping after its share of responses.
-- A response is an error unless it is a 200 whose body contains
-- BENCH_EXPECT (so an introspection answering {"active":false} counts).
--
-- wrk's main thread always sleeps for its whole -d, and its own duration is
-- that sleep: so each thread takes its own times (monotonic clock, through
-- LuaJIT's FFI) and, when done, appends a line to BENCH_DONE_FILE; the
-- thread that finds every thread's line there sends wrk itself SIGINT, which
-- ends that sleep. Throughput is responses over the span from the first
-- thread's start to the last thread's end. (The driver only waits for wrk:
-- a loop that polled the file would spend, in its own processes, the CPU
-- the servers under test share with the load tool.)
--
--   BENCH_METHOD   GET or POST (default POST)
--   BENCH_BODY     form body for POST
--   BENCH_BASIC    base64 HTTP Basic credentials
--   BENCH_EXPECT   a string every good response body contains ("" for none)
--   BENCH_POOL_FILE  values used once each, one per line (codes, refresh
--                  tokens): each request takes one and puts it in the
--                  body in place of "{}"; thread i takes lines i, i+n, ...
--   BENCH_CHAIN_FIELD  a JSON field of the answer that goes back into the
--                  pool (refresh_token: a rotating refresh chain per
--                  connection, as Alexa refreshes)
--
-- Prints one line: RESULT key=value ... (latencies in microseconds).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
int getpid(void);
int kill(int pid, int sig);
]]
local SIGINT = 2
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local total = tonumber(os.getenv("BENCH_REQUESTS"))
local nthreads = tonumber(os.getenv("BENCH_THREADS"))
local expect = os.getenv("BENCH_EXPECT") or ""

wrk.method = os.getenv("BENCH_METHOD") or "POST"
if wrk.method == "POST" then
  wrk.body = os.getenv("BENCH_BODY")
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")

local threads = {}
local pool_file = os.getenv("BENCH_POOL_FILE") or ""
local chain_field = os.getenv("BENCH_CHAIN_FIELD") or ""

function setup(thread)
  local i = #threads
  thread:set("tindex", i)
  local share = math.floor(total / nthreads)
  if i < total % nthreads then share = share + 1 end
  thread:set("limit", share)
  table.insert(threads, thread)
end

-- Per thread (each thread runs its own copy of this script).
seen = 0
bad = 0
start_us = 0
end_us = 0

pool = {}
local prefix, suffix

function init(args)
  -- Called for each thread just before it starts.
  if pool_file ~= "" then
    local n, i = 0, 0
    for line in io.lines(pool_file) do
      if n % nthreads == tindex then
        i = i + 1
        pool[i] = line
      end
      n = n + 1
    end
    prefix, suffix = string.match(wrk.body, "^(.*){}(.*)$")
  end
  start_us = now_us()
end

if pool_file ~= "" then
  -- wrk calls request() once on the first thread before any connection
  -- exists, to check the request (and sends nothing of it): that call only
  -- peeks, so no code or chain is lost.
  local checked = false
  function request()
    local value
    if tindex == 0 and not checked then
      checked = true
      value = pool[#pool]
    else
      value = table.remove(pool)
    end
    -- An empty pool (a chain broke on an error answer) sends a value that
    -- fails, so the error is counted rather than hidden.
    return wrk.format(nil, nil, nil, prefix .. (value or "exhausted") .. suffix)
  end
end

function response(status, headers, body)
  if chain_field ~= "" then
    local next_value = string.match(body, '"' .. chain_field .. '":"([^"]+)"')
    if next_value then table.insert(pool, next_value) end
  end
  seen = seen + 1
  if status ~= 200 or (expect ~= "" and not string.find(body, expect, 1, true)) then
    bad = bad + 1
  end
  if seen == limit then
    end_us = now_us()
    wrk.thread:stop()
    local path = os.getenv("BENCH_DONE_FILE")
    local f = io.open(path, "a")
    f:write("done\n")
    f:close()
    -- Appends are atomic: the last thread to finish sees every line (two
    -- finishing at once may both signal, which is harmless).
    local finished = 0
    for _ in io.lines(path) do finished = finished + 1 end
    if finished >= nthreads then ffi.C.kill(ffi.C.getpid(), SIGINT) end
  end
end

function done(summary, latency, requests)
  local responses, bad_seen, first, last = 0, 0, math.huge, 0
  for _, t in ipairs(threads) do
    responses = responses + t:get("seen")
    bad_seen = bad_seen + t:get("bad")
    first = math.min(first, t:get("start_us"))
    -- A thread cut short by the time bound has no end: take the latest.
    last = math.max(last, t:get("end_us"))
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d responses=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d bad=%d socket_errors=%d"
      .. " connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, responses, math.max(0, math.floor(last - first)),
    math.floor(latency:percentile(50)), math.floor(latency:percentile(99)), math.floor(latency.max),
    bad_seen, e.connect + e.read + e.write + e.timeout, e.connect, e.read, e.write, e.timeout))
end
