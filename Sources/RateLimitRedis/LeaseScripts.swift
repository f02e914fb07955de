/// The Redis Lua scripts of `concurrency` rules (issue 15): acquire (a check) and release, deciding
/// exactly as `Algorithms.lease` and `LeaseSet` do in memory, with time in integer µs and expiry
/// by the Redis clock (`TIME`). Kept apart from `LuaScripts`: they share no fragment with it.
///
/// A key's leases are two Redis keys beside its state key (same hash tag, so one Cluster slot):
/// `STATE_KEY:leases`, a sorted set of lease ids scored by their expiry in µs (a lease is held
/// while its score > now: it lives exactly `lease_ttl`), and `STATE_KEY:ids`, a hash with
/// `first` (the first id granted) and `next` (the id the next grant gets). A key's first id is
/// the clock in µs (at least 1), so ids granted before the key's state expired or was reset are
/// below it: a stale id never frees a new caller's lease (as long as a key grants fewer than one
/// lease per µs on average, which a round trip per grant guarantees).
enum LeaseScripts {
    static let prelude = #"""
    local function int_arg(i, lo, hi)
      local n = tonumber(ARGV[i])
      if n == nil or n % 1 ~= 0 or n < lo or n > hi then
        error(string.format('sluice: ARGV[%d] must be an integer from %.0f to %.0f, got %s', i, lo, hi,
          tostring(ARGV[i])))
      end
      return n
    end

    -- now in µs: ARGV[i], or Redis TIME when it is "" (then the keys get a PX; a fixed clock's
    -- tests run on virtual time, where Redis's own expiry would mean nothing).
    local function clock(i)
      if ARGV[i] ~= '' then return int_arg(i, 0, 2^53 - 1), true end
      local t = redis.call('TIME')
      return t[1] * 1000000 + t[2], false
    end

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


    """#

    /// A check on a concurrency rule.
    static let acquire: String = #"""
    -- Sluice: one check on a concurrency rule, as Algorithms.lease: cost 1 acquires a lease when
    -- fewer than limit are held at now, cost 0 peeks. Time is in integer µs.
    --
    -- KEYS[1]  the key's leases: a sorted set of lease ids scored by expiry (µs)
    -- KEYS[2]  the key's ids: a hash {first, next}
    -- ARGV[1]  limit      integer 1..1e9: leases in flight at most
    -- ARGV[2]  ttl_us     integer 1000..31622400000000: a lease's life (lease_ttl)
    -- ARGV[3]  cost       0 (peek) or 1 (acquire)
    -- ARGV[4]  commit     "1": grant when allowed; "0": status only, never writes
    -- ARGV[5]  now_us     "" = Redis TIME (sec * 1e6 + usec); else an integer 0..2^53-1 (tests)
    --
    -- Returns {allowed (1/0), remaining, reset_after_us, retry_after_us, lease (0: none), now_us}.
    -- Writes only when a lease is granted (commit = "1"): drops the expired leases, adds the new
    -- one, and (on the Redis clock) sets both keys' PX to the new lease's expiry, the last one.


    """# + prelude + #"""
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

    """#

    /// A release (`POST /v1/release`).
    static let release: String = #"""
    -- Sluice: frees one lease of a concurrency rule's key, as LeaseSet.release. Time in µs.
    --
    -- KEYS[1], KEYS[2]  the key's leases and ids, as in the acquire script
    -- ARGV[1]  lease      integer 0..2^53-1: the id to free
    -- ARGV[2]  limit      integer 1..1e9
    -- ARGV[3]  now_us     "" = Redis TIME; else an integer 0..2^53-1 (tests)
    --
    -- Returns {outcome, remaining, reset_after_us, now_us}: outcome 1 released, 2 not held (it was
    -- granted for this key, and released already or expired), 3 never granted for this key.


    """# + prelude + #"""
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

    """#
}
