-- wrk script: POST an order of one unit of a random product.
--   wrk -s bench/wrk/order.lua URL -- PATH TOKEN[,TOKEN...] PRODUCT_ID[,PRODUCT_ID...]
local path, tokens, products

local function split(list)
  local out = {}
  for item in string.gmatch(list, "[^,]+") do out[#out + 1] = item end
  return out
end

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end

function init(args)
  path, tokens, products = args[1], split(args[2]), split(args[3])
  math.randomseed(os.time() * 100 + seed)
end

function request()
  local body = '{"items": [{"product_id": "' .. products[math.random(#products)]
    .. '", "quantity": 1}], "payment_token": "tok_ok"}'
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)],
  }
  return wrk.format("POST", path, headers, body)
end
