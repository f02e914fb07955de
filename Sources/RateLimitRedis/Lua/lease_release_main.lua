if #KEYS ~= 2 or #ARGV ~= 3 then error('sluice: expects 2 keys and 3 arguments') end
local id, limit = int_arg(1, 0, 2^53 - 1), int_arg(2, 1, 1e9)
local now = clock(3)
local leases, ids = KEYS[1], KEYS[2]
local member = fmt(id)
local score = redis.call('ZSCORE', leases, member)
local outcome
if score and tonumber(score) > now then
  outcome = 1
else
  local range = redis.call('HMGET', ids, 'first', 'next')
  local first, next_id = tonumber(range[1]), tonumber(range[2])
  outcome = (first and next_id and id >= first and id < next_id) and 2 or 3
end
if score then redis.call('ZREM', leases, member) end
local count, reset_after = held(leases, now)
return {outcome, limit - count, reset_after, now}
