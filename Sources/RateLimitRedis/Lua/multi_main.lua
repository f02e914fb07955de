-- ---- main: independent decisions ---------------------------------------------------------
local n = #KEYS
if n == 0 or #ARGV ~= 1 + 6 * n then error('sluice: expects N keys and 1 + 6N arguments') end
local now, fixed_now = clock(1)
local reply = {now}
for i = 1, n do
  local at = 2 + 6 * (i - 1)
  local code = int_arg(at, 1, 4)
  local limit, period, burst, cost = limits_args(at + 1)
  local key = KEYS[i]
  local x, y, z = load_state(redis.call('GET', key), code, limit, period, burst)
  local allowed, remaining, reset_after, retry_after, delay, nx, ny, nz =
    ALGORITHMS[code](x, y, z, now, cost, limit, period, burst)
  if flag_arg(at + 5) and allowed == 1 and cost > 0 then
    save_state(key, struct.pack(STATE, code, limit, period, burst, nx, ny, nz), reset_after, fixed_now)
  end
  local r = 1 + 5 * (i - 1)
  reply[r + 1], reply[r + 2], reply[r + 3], reply[r + 4], reply[r + 5] =
    allowed, remaining, reset_after, retry_after, delay
end
return reply
