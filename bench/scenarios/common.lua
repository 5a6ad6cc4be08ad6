-- Shared part of the wrk scenarios in bench/scenarios/: reads the scenario's requests from a
-- paths file and turns them into wrk requests, built once in init().
--
-- Paths file: one request per line, fields separated by blanks; '#' starts a comment.
--   SCENARIO  WEIGHT  METHOD  PATH  [Name:value ...]  [body=TEXT]
-- A header value cannot hold a blank: write it as %20. PATH may hold one placeholder:
--   {zipf:N}  an id from 1 to N, drawn Zipf-like (s = 1: id k is asked 1/k as often as id 1)
--   {term}    a search term from a fixed list of 50, ranked the same way
-- bench/run fills in {etag} and {last-modified} in header values (validators of PATH) before
-- wrk reads the file. The scenario script is started as
--   wrk -s bench/scenarios/NAME.lua URL -- PATHS_FILE [SEED]
-- and BENCH_SCENARIO_DIR names the folder of this file. Every scenario prints one line at the
-- end, "bench-summary: requests=N bytes=N mean_us=X" (done() below).
local M = {}

local terms = {
  "shoes", "coffee", "laptop", "phone", "chair", "lamp", "book", "jacket", "watch", "camera",
  "desk", "bottle", "bag", "headphones", "keyboard", "mouse", "monitor", "tent", "bike", "helmet",
  "socks", "tea", "pan", "knife", "pillow", "blanket", "candle", "mug", "plant", "rug",
  "sofa", "table", "shelf", "mirror", "clock", "speaker", "router", "cable", "charger", "case",
  "wallet", "belt", "scarf", "gloves", "boots", "hat", "sunglasses", "umbrella", "towel", "soap",
}

local function split(line)
  local fields = {}
  for field in line:gmatch("%S+") do fields[#fields + 1] = field end
  return fields
end

-- Reads the lines of `scenario`: a list of {weight, method, path, headers, body}.
function M.load(file, scenario)
  local f = assert(io.open(file, "r"), "bench scenario: cannot open paths file " .. tostring(file))
  local tasks = {}
  local n = 0
  for line in f:lines() do
    n = n + 1
    line = line:gsub("#.*$", "")
    local fields = split(line)
    if #fields > 0 and fields[1] == scenario then
      if #fields < 4 then error(file .. ":" .. n .. ": want SCENARIO WEIGHT METHOD PATH") end
      local task = { weight = tonumber(fields[2]), method = fields[3], path = fields[4], headers = {} }
      if not task.weight or task.weight <= 0 then error(file .. ":" .. n .. ": weight must be a positive number") end
      for i = 5, #fields do
        local field = fields[i]
        if field:sub(1, 5) == "body=" then
          task.body = field:sub(6)
        else
          local name, value = field:match("^([^:]+):(.*)$")
          if not name then error(file .. ":" .. n .. ": '" .. field .. "' is neither Name:value nor body=TEXT") end
          task.headers[name] = value:gsub("%%20", " ")
        end
      end
      tasks[#tasks + 1] = task
    end
  end
  f:close()
  if #tasks == 0 then error(file .. ": no line for scenario '" .. scenario .. "'") end
  return tasks
end

-- The Zipf-like cumulative weights of ranks 1..n (s = 1).
local function zipfCdf(n)
  local cdf, total = {}, 0
  for k = 1, n do
    total = total + 1 / k
    cdf[k] = total
  end
  for k = 1, n do cdf[k] = cdf[k] / total end
  return cdf
end

-- Index into `cdf` for a uniform draw.
local function pick(cdf)
  local r = math.random()
  local lo, hi = 1, #cdf
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < r then lo = mid + 1 else hi = mid end
  end
  return lo
end

-- Pre-formats every request a task can send: one per placeholder value.
local function formatTask(task)
  local zipf_n = task.path:match("{zipf:(%d+)}")
  local values
  if zipf_n then
    values = {}
    for k = 1, tonumber(zipf_n) do values[k] = tostring(k) end
  elseif task.path:find("{term}", 1, true) then
    values = terms
  end
  local headers = {}
  for name, value in pairs(task.headers) do headers[name] = value end
  local function format(path)
    -- Each call gets its own copy: wrk.format adds Host and Content-Length to the table.
    local h = {}
    for name, value in pairs(headers) do h[name] = value end
    return wrk.format(task.method, path, h, task.body)
  end
  if not values then return { format(task.path) }, nil end
  local requests = {}
  for k, value in ipairs(values) do
    requests[k] = format((task.path:gsub("{zipf:%d+}", value):gsub("{term}", value)))
  end
  return requests, zipfCdf(#requests)
end

-- A scenario of one fixed request (wrk sends the same bytes every time): the only line of
-- `scenario` in the paths file.
function M.single(scenario)
  function init(args)
    local tasks = M.load(args[1], scenario)
    if #tasks > 1 then error("scenario '" .. scenario .. "' takes one line in " .. args[1]) end
    local task = tasks[1]
    if task.path:find("{", 1, true) then error("scenario '" .. scenario .. "' takes no placeholders") end
    wrk.method = task.method
    wrk.path = task.path
    for name, value in pairs(task.headers) do wrk.headers[name] = value end
    wrk.body = task.body
  end
end

-- A scenario of weighted tasks: each request picks a task by weight, then a placeholder value
-- Zipf-like. The draw is seeded (args[2], default 1), so every target gets the same sequence.
function M.weighted(scenario)
  local tasks, cumulative, total = {}, {}, 0
  function init(args)
    math.randomseed(tonumber(args[2] or "1"))
    for _, task in ipairs(M.load(args[1], scenario)) do
      local requests, cdf = formatTask(task)
      total = total + task.weight
      tasks[#tasks + 1] = { requests = requests, cdf = cdf }
      cumulative[#cumulative + 1] = total
    end
  end
  function request()
    local r = math.random() * total
    local i = 1
    while cumulative[i] < r do i = i + 1 end
    local task = tasks[i]
    if task.cdf then return task.requests[pick(task.cdf)] end
    return task.requests[1]
  end
end

-- After the run (wrk calls done() once, in its main thread): the exact totals bench/lib.sh
-- (wrk_run_ext) reads, where wrk's own text rounds the bytes to three digits. Bytes are what wrk
-- read, heads and bodies: bytes per response shows which target sent identity where others sent
-- gzip. The mean latency is what Little's law speaks of (bench/report.py checks it).
function done(summary, latency, requests)
  io.write(string.format("bench-summary: requests=%d bytes=%d mean_us=%.3f\n",
                         summary.requests, summary.bytes, latency.mean))
end

return M
