-- Shared by every load script: each thread counts the answers with the status its script expects
-- (`answered`) and keeps the first other answer (`unexpected`); done() prints one JSON line the
-- bench reads. Durations are in µs.
local threads = {}
answered = 0
exhausted = 0
unexpected = ""

-- Called by the scripts' response() with any answer they did not expect.
function keep_unexpected(status, body)
  if unexpected == "" then
    unexpected = status .. " " .. string.sub(body or "", 1, 300)
  end
end

local function json_string(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end) .. '"'
end

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local answered, exhausted, unexpected = 0, 0, ""
  for _, t in ipairs(threads) do
    answered = answered + t:get("answered")
    exhausted = exhausted + t:get("exhausted")
    if unexpected == "" then
      unexpected = t:get("unexpected")
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"duration_us":%d,"requests":%d,"answered":%d,"exhausted":%d,"unexpected":%s,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.duration, summary.requests, answered, exhausted, json_string(unexpected),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
