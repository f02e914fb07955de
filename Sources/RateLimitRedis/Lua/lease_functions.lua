-- ---- leases (concurrency rules) ------------------------------------------------------------
-- A key's leases are two Redis keys beside its state key (same hash tag, so one Cluster slot):
-- STATE_KEY:leases, a sorted set of lease ids scored by their expiry in µs (a lease is held while
-- its score > now: it lives exactly lease_ttl), and STATE_KEY:ids, a hash with `first` (the first
-- id granted) and `next` (the id the next grant gets). A key's first id is the clock in µs (at
-- least 1), so ids granted before the key's state expired or was reset are below it: a stale id
-- never frees a new caller's lease (as long as a key grants fewer than one lease per µs on
-- average, which a round trip per grant guarantees).
local function fmt(n) return string.format('%.0f', n) end  -- exact below 2^53

-- Leases held at now, the time until the last expires, and until the first does.
local function held(leases, now)
  local live = '(' .. fmt(now)
  local count = redis.call('ZCOUNT', leases, live, '+inf')
  if count == 0 then return 0, 0, 0 end
  local first = redis.call('ZRANGEBYSCORE', leases, live, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  local last = redis.call('ZREVRANGEBYSCORE', leases, '+inf', live, 'WITHSCORES', 'LIMIT', 0, 1)
  return count, tonumber(last[2]) - now, tonumber(first[2]) - now
end
