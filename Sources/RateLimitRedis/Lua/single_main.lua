-- ---- main: one key -------------------------------------------------------------------------
local code, decide = next(ALGORITHMS)  -- the one algorithm this script defines
if #KEYS ~= 1 or #ARGV ~= 6 then error('sluice: expects 1 key and 6 arguments') end
local limit, period, burst, cost = limits_args(1)
local commit = flag_arg(5)
local now, fixed_now = clock(6)
local key = KEYS[1]
local x, y, z = load_state(redis.call('GET', key), code, limit, period, burst)
local allowed, remaining, reset_after, retry_after, delay, nx, ny, nz =
  decide(x, y, z, now, cost, limit, period, burst)
if commit and allowed == 1 and cost > 0 then
  save_state(key, struct.pack(STATE, code, limit, period, burst, nx, ny, nz), reset_after, fixed_now)
end
return {allowed, remaining, reset_after, retry_after, delay, now}
