-- wrk: POSTs pre-signed webhook deliveries, each sent once (threads take disjoint slices).
-- Lines of the file named by BENCH_BODIES: "<X-Hub-Signature-256>\t<body>".
-- BENCH_DELAY_MS > 0 paces every connection, on average (a steady rate, not as-fast-as-possible).

local threads = {}
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local total = tonumber(os.getenv("BENCH_THREADS") or "1")
  local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
  bodies, signatures = {}, {}
  local n = 0
  for line in io.lines(os.getenv("BENCH_BODIES")) do
    if n % total == index then
      local tab = line:find("\t", 1, true)
      table.insert(signatures, line:sub(1, tab - 1))
      table.insert(bodies, line:sub(tab + 1))
    end
    n = n + 1
  end
  math.randomseed(index + 1)
  next_body = 1
  pace = delay_ms
  sent = 0
end

function request()
  local i = next_body
  next_body = next_body + 1
  if next_body > #bodies then next_body = 1 end
  sent = sent + 1
  return wrk.format("POST", "/webhooks/meta", {
    ["Content-Type"] = "application/json",
    ["X-Hub-Signature-256"] = signatures[i],
  }, bodies[i])
end

function delay()
  -- Spread around the mean: fixed waits make connections answered together fire together.
  if pace <= 0 then return 0 end
  return math.random(math.floor(pace / 2), math.floor(pace * 3 / 2))
end

function done(summary, latency, requests)
  local sent_total = 0
  for _, t in ipairs(threads) do sent_total = sent_total + (t:get("sent") or 0) end
  io.write(string.format(
    'BENCH {"requests": %d, "seconds": %f, "non_2xx": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d, "p50_ms": %f, "p99_ms": %f, "max_ms": %f, "sent": %d}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, sent_total))
end
