-- Signed orders, each a distinct order, signed by the bench before the run (signing is not the
-- load generator's work). Argument: the file of orders, one per line:
-- webhook-id TAB webhook-timestamp TAB webhook-signature TAB body.
-- When they run out the thread stops and the run is reported as exhausted.
local requests, i = {}, 0

function init(args)
  for line in io.lines(args[1]) do
    local id, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", "/v1/orders", {
      ["Content-Type"] = "application/json",
      ["webhook-id"] = id,
      ["webhook-timestamp"] = ts,
      ["webhook-signature"] = sig,
    }, body)
  end
end

function request()
  i = i + 1
  if i > #requests then
    exhausted = 1
    wrk.thread:stop()
    i = #requests
  end
  return requests[i]
end

function response(status, headers, body)
  if status == 200 and exhausted == 0 then
    answered = answered + 1
  else
    keep_unexpected(status, body)
  end
end
