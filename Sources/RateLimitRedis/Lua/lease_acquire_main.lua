if #KEYS ~= 2 or #ARGV ~= 5 then error('sluice: expects 2 keys and 5 arguments') end
local limit, ttl, cost = int_arg(1, 1, 1e9), int_arg(2, 1000, 31622400000000), int_arg(3, 0, 1)
if ARGV[4] ~= '1' and ARGV[4] ~= '0' then error('sluice: ARGV[4] must be 1 or 0') end
local commit = ARGV[4] == '1'
local now, fixed_now = clock(5)
local leases, ids = KEYS[1], KEYS[2]
local count, reset_after, first_expiry = held(leases, now)
if cost == 0 then return {1, limit - count, reset_after, 0, 0, now} end
if count >= limit then return {0, 0, reset_after, first_expiry, 0, now} end
if not commit then return {1, limit - count - 1, ttl, 0, 0, now} end
redis.call('ZREMRANGEBYSCORE', leases, '-inf', fmt(now))
local id = tonumber(redis.call('HGET', ids, 'next'))
if not id then
  id = math.max(now, 1)
  redis.call('HSET', ids, 'first', fmt(id))
end
redis.call('HSET', ids, 'next', fmt(id + 1))
redis.call('ZADD', leases, fmt(now + ttl), fmt(id))
if not fixed_now then
  local ms = fmt(math.floor((ttl + 999) / 1000) + 1)  -- never early: the Redis clock rounds to ms
  redis.call('PEXPIRE', leases, ms)
  redis.call('PEXPIRE', ids, ms)
end
return {1, limit - count - 1, ttl, 0, id, now}
