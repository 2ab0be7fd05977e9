-- A tracking-link hit per request, each from another visitor: a distinct X-Forwarded-For (the
-- server trusts that header in the bench, so its flood check sees distinct visitors) and a
-- browser's User-Agent (a hit without one is a bot's: redirected, not counted).
-- Arguments: the path to hit, the first octet of the visitors' addresses (distinct per process).
local path, octet, n = "/", 10, 0
local agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"

function init(args)
  path = args[1]
  octet = tonumber(args[2])
end

function request()
  n = n + 1
  local ip = string.format("%d.%d.%d.%d", octet, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format("GET", path, { ["X-Forwarded-For"] = ip, ["User-Agent"] = agent })
end

function response(status, headers, body)
  if status == 302 then
    answered = answered + 1
  else
    keep_unexpected(status, body)
  end
end
