-- wrk script: EventBridge PutEvents over AWS JSON 1.1, 10 entries a request (the maximum), each
-- the shape `loadgen events` sends: source "bench", detail-type "t", customer "c-0" (the one rule
-- `bench-0` of scripts/bench-events matches). The bus needs those rules first; run through
-- `loadgen events --client wrk`, which creates them and checks every accepted event arrived.
-- Prints `accepted_entries N` (entries answered with an EventId) and `failed_entries N`.
wrk.method = "POST"
wrk.headers["X-Amz-Target"] = "AWSEvents.PutEvents"
wrk.headers["Content-Type"] = "application/x-amz-json-1.1"

local entry = '{"Source":"bench","DetailType":"t","Detail":'
  .. '"{\\"customer\\":\\"c-0\\",\\"order\\":12345,\\"amount\\":12.5,\\"currency\\":\\"EUR\\",\\"ts\\":0}"}'
local entries = {}
for i = 1, 10 do
  entries[i] = entry
end
wrk.body = '{"Entries":[' .. table.concat(entries, ",") .. ']}'

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  accepted = 0
  failed = 0
end

-- A response with "FailedEntryCount":0 accepted all 10; otherwise count the EventIds.
function response(status, headers, body)
  if status ~= 200 then
    return
  end
  if string.find(body, '"FailedEntryCount":0', 1, true) then
    accepted = accepted + 10
  else
    local _, n = string.gsub(body, '"EventId"', '')
    accepted = accepted + n
    failed = failed + (10 - n)
  end
end

function done(summary, latency, requests)
  local a, f = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    f = f + t:get("failed")
  end
  io.write(string.format("accepted_entries %d\nfailed_entries %d\n", a, f))
end
