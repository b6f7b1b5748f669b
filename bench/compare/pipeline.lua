-- wrk script: each write carries PIPELINE requests (default 16); wrk counts every response.
local depth = tonumber(os.getenv("PIPELINE") or "16")

init = function(args)
  local requests = {}
  for i = 1, depth do
    requests[i] = wrk.format(nil, "/")
  end
  batch = table.concat(requests)
end

request = function()
  return batch
end
