-- One script for every scenario; its arguments (after "--") choose what each request is:
--   wrk ... -s scenario.lua URL -- <mode> <token> [<ids file>] [<wrk threads>]
-- modes: plain (GET the URL), get-order, post-order, patch-order, graphql-order,
-- graphql-persisted (GET the URL, which names a persisted query by hash, with an order id's variables)
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
local report = require("report")

local mode, token, ids
local counter, stride = 0, 1
local threads = {}

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do lines[#lines + 1] = line end
  return lines
end

function setup(thread)
  thread:set("thread_index", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  mode, token = args[1], args[2]
  if args[3] and args[3] ~= "" then ids = read_lines(args[3]) end
  stride = tonumber(args[4] or "1")
  math.randomseed(os.time() + (thread_index or 0))
  wrk.headers["Authorization"] = "Bearer " .. (token or "")
  wrk.headers["Content-Type"] = "application/json"
end

local function next_id_in_my_share()
  -- Threads take disjoint slices, so no two requests ever touch the same order.
  counter = counter + 1
  local i = (thread_index or 0) + (counter - 1) * stride + 1
  return ids[((i - 1) % #ids) + 1]
end

function request()
  if mode == "get-order" then
    return wrk.format("GET", "/orders/" .. ids[math.random(#ids)] .. "/")
  elseif mode == "post-order" then
    return wrk.format("POST", "/orders/", nil,
      '{"items": [{"product_id": "sku-1", "name": "Mug", "quantity": 2, "price": "5.50"},'
        .. ' {"product_id": "sku-2", "quantity": 1, "price": "6.00"}]}')
  elseif mode == "patch-order" then
    return wrk.format("PATCH", "/orders/" .. next_id_in_my_share() .. "/", nil, '{"status": "PAID"}')
  elseif mode == "graphql-order" then
    local id = ids[math.random(#ids)]
    return wrk.format("POST", "/graphql", nil,
      '{"query": "query($id: UUID!) { order(id: $id) { id status totalPrice items { productId quantity price } } }",'
        .. ' "variables": {"id": "' .. id .. '"}}')
  elseif mode == "graphql-persisted" then
    local id = ids[math.random(#ids)]
    return wrk.format("GET", wrk.path .. "&variables=%7B%22id%22%3A%22" .. id .. "%22%7D")
  else
    return wrk.format("GET", nil)
  end
end

done = report.done
