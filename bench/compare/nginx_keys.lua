-- wrk script for bench/compare/nginx_module.py: every request carries X-Api-Key, round robin
-- over KEYS keys (1: the one hot key "hot"), PIPELINE requests per write.
local depth = tonumber(os.getenv("PIPELINE") or "1")
local keys = tonumber(os.getenv("KEYS") or "1")
local batches = {}
local next_batch = 1

init = function(args)
  local k = 0
  -- Enough batches to cycle through every key once (or one, for the hot key).
  local count = math.max(1, math.ceil(keys / depth))
  for b = 1, count do
    local requests = {}
    for i = 1, depth do
      local name = "hot"
      if keys > 1 then
        name = "k" .. (k % keys)
        k = k + 1
      end
      requests[i] = wrk.format(nil, "/", { ["X-Api-Key"] = name })
    end
    batches[b] = table.concat(requests)
  end
end

request = function()
  local b = batches[next_batch]
  next_batch = next_batch % #batches + 1
  return b
end
