-- ---- main: a batch -------------------------------------------------------------------------
local n = #KEYS
if n == 0 or #ARGV ~= 2 + 6 * n then error('sluice: expects N keys and 2 + 6N arguments') end
local commit = flag_arg(1)
local now, fixed_now = clock(2)
local items = {}
for i = 1, n do
  local at = 3 + 6 * (i - 1)
  local code = int_arg(at, 1, 4)
  local limit, period, burst, cost = limits_args(at + 1)
  items[i] = {
    key = KEYS[i], code = code, limit = limit, period = period, burst = burst, cost = cost,
    shadow = flag_arg(at + 5),
  }
end

local stored = {}  -- key -> its stored value (false: none), read once: nothing is written before the end
for _, item in ipairs(items) do
  if stored[item.key] == nil then stored[item.key] = redis.call('GET', item.key) end
end

local function decide(item, value, cost)  -- value: a stored or pending value of item's key
  local x, y, z = load_state(value, item.code, item.limit, item.period, item.burst)
  return ALGORITHMS[item.code](x, y, z, now, cost or item.cost, item.limit, item.period, item.burst)
end

local reply = {0, now}
local function answer(i, allowed, remaining, reset_after, retry_after, delay)  -- item i's numbers
  local at = 2 + 5 * (i - 1)
  reply[at + 1], reply[at + 2], reply[at + 3], reply[at + 4], reply[at + 5] =
    allowed, remaining, reset_after, retry_after, delay
end

-- In order; a repeated key sees the pending state of the earlier items (its value, so under
-- other limits it reads as a new key).
local pending, all = {}, true  -- key -> {value = the new value, reset_after = its reset_after}
for i, item in ipairs(items) do
  local p = pending[item.key]
  local allowed, remaining, reset_after, retry_after, delay, x, y, z =
    decide(item, p and p.value or stored[item.key])
  all = all and (allowed == 1 or item.shadow)
  if allowed == 1 and item.cost > 0 then
    pending[item.key] = {
      value = struct.pack(STATE, item.code, item.limit, item.period, item.burst, x, y, z),
      reset_after = reset_after,
    }
  end
  answer(i, allowed, remaining, reset_after, retry_after, delay)
end

if all and commit then
  for _, item in ipairs(items) do  -- each key's last pending state, in item order
    local p = pending[item.key]
    if p then
      save_state(item.key, p.value, p.reset_after, fixed_now)
      pending[item.key] = nil
    end
  end
elseif not all then
  -- Denied: nothing is stored; each item answers for itself against the unchanged state,
  -- reporting that state as it is (MemoryStore's Algorithms.unconsumed).
  for i, item in ipairs(items) do
    local allowed, _, _, retry_after = decide(item, stored[item.key])
    local _, remaining, reset_after = decide(item, stored[item.key], 0)
    answer(i, allowed, remaining, reset_after, allowed == 1 and 0 or retry_after, 0)
  end
end
reply[1] = all and 1 or 0
return reply
