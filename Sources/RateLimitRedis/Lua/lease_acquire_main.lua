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
return {1, limit - count - 1, ttl, 0, grant(leases, ids, ttl, now, fixed_now), now}
