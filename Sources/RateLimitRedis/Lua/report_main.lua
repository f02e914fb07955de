-- ---- main: a report ------------------------------------------------------------------------
if (#KEYS ~= 1 and #KEYS ~= 2) or #ARGV ~= 7 then error('sluice: expects 1 or 2 keys and 7 arguments') end
local code = int_arg(1, 1, 4)
local limit, period, burst = int_arg(2, 1, 1e9), int_arg(3, 1000, 31622400000000), int_arg(4, 0, 1e9)
local cost = int_arg(5, -1e9, 1e9)
local now, fixed_now = clock(6)
local key = KEYS[1]
local duplicate = 0
if #KEYS == 2 then
  local ttl = int_arg(7, 1, 2^31 - 1)
  if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', string.format('%d', ttl)) then duplicate, cost = 1, 0 end
end
local x, y, z = load_state(redis.call('GET', key), code, limit, period, burst)
local nx, ny, nz, debt = report(code, x, y, z, now, cost, limit, period, burst)
local decide = ALGORITHMS[code]
local _, remaining, reset_after = decide(nx, ny, nz, now, 0, limit, period, burst)
local allowed, _, _, retry_after = decide(nx, ny, nz, now, 1, limit, period, burst)
if allowed == 1 then retry_after = 0 end
if cost ~= 0 then
  if reset_after == 0 then
    redis.call('DEL', key)
  else
    save_state(key, struct.pack(STATE, code, limit, period, burst, nx, ny, nz), reset_after, fixed_now)
  end
end
return {duplicate, remaining, reset_after, retry_after, debt, now}
