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

-- Grants the next lease id of a key (leases: its sorted set, ids: its hash) for ttl µs from now:
-- drops the expired leases, adds the new one and, on the Redis clock, sets both keys' PX to the
-- new lease's expiry (the last one). Returns the id.
local function grant(leases, ids, ttl, now, fixed_now)
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
  return id
end
