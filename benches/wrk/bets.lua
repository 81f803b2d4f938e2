-- wrk script: POST /api/bet from many players, one request in flight per connection (no
-- pipelining), every order number unique. The players' tokens and the open round come from a
-- file written by `croupier bench http-bets --target URL --users N --wrk-setup FILE` (see
-- benches/wrk/README.md). Measuring only: no test depends on wrk.
--
--   wrk -t2 -c64 -d10s --latency -s benches/wrk/bets.lua http://127.0.0.1:8080 -- /tmp/wrk-players.txt

local setup_file = "/tmp/wrk-players.txt"
local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

function init(args)
   local path = args[1] or setup_file
   local f = assert(io.open(path, "r"), "cannot open " .. path .. ": run `croupier bench http-bets --wrk-setup` first")
   round = f:read("*l")
   tokens = {}
   for line in f:lines() do
      tokens[#tokens + 1] = line
   end
   f:close()
   assert(#tokens > 0, path .. " holds no tokens")
   -- Order numbers unique per run, per thread: the run tag, the thread id and a counter.
   run = string.format("%x", os.time() % 0xffffff)
   n = 0
   errors = 0
   statuses = {}
end

function request()
   n = n + 1
   local token = tokens[(n * 7919 + id) % #tokens + 1]
   local body = string.format('{"order_no":"w%s-%d-%d","round_id":"%s","selection":%d,"amount":"1.00"}',
      run, id, n, round, n % 3)
   return wrk.format("POST", "/api/bet", { ["Authorization"] = token, ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
   if status ~= 200 then
      errors = errors + 1
      statuses[status] = (statuses[status] or 0) + 1
   end
end

function done(summary, latency, requests)
   local failed = 0
   for _, t in ipairs(threads) do
      failed = failed + (t:get("errors") or 0)
   end
   io.write(string.format("non-200 answers: %d of %d\n", failed, summary.requests))
   io.write(string.format("bets/s (200 only): %.0f\n", (summary.requests - failed) / (summary.duration / 1e6)))
   for _, p in ipairs({ 50, 90, 99, 99.9 }) do
      io.write(string.format("p%s: %.3f ms\n", p, latency:percentile(p) / 1000))
   end
end
