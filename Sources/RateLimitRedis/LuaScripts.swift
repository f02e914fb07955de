/// The Redis Lua scripts: the four algorithms of `Algorithms` ported to Lua, deciding exactly as
/// the memory store does, with time in integer microseconds instead of nanoseconds.
///
/// Each script is a concatenation of the fragments below (header, prelude, algorithm functions,
/// main). `tools/checks/lua_check.py` reassembles the same concatenations by parsing this file and
/// holds the scripts against a Python port of `Algorithms` on a real redis-server, so keep every
/// declaration in one of the two forms it understands (it fails on anything else):
///
///     static let name = #"""          a raw fragment, ending with an empty line
///     static let name: String = a + b  a concatenation of fragment names (may continue on lines
///                                      that start with `+`)
enum LuaScripts {
    static let tokenBucket: String = singleHeader + prelude + tokenBucketFunction + singleMain
    static let slidingWindow: String = singleHeader + prelude + slidingWindowFunction + singleMain
    static let fixedWindow: String = singleHeader + prelude + fixedWindowFunction + singleMain
    static let leakyBucket: String = singleHeader + prelude + leakyBucketFunction + singleMain
    static let batch: String = batchHeader + prelude
        + tokenBucketFunction + slidingWindowFunction + fixedWindowFunction + leakyBucketFunction
        + batchMain

    // MARK: headers (the KEYS/ARGV/reply contracts)

    static let singleHeader = #"""
    -- Sluice: one rate-limit decision for one key, by the one algorithm this script defines
    -- (token_bucket, sliding_window, fixed_window or leaky_bucket: see ALGORITHMS below).
    -- Decides exactly as Sluice's memory store (Algorithms.swift), with time in integer µs.
    --
    -- KEYS[1]  the key's state key (opaque here)
    -- ARGV[1]  limit      integer 1..1e9: units granted per period
    -- ARGV[2]  period_us  integer 1000..31622400000000 (1 ms .. 366 d)
    -- ARGV[3]  burst      token bucket: capacity 1..1e9; leaky bucket: queue 0..1e9;
    --                     windows: the limit (unused, but part of the stored state's prefix)
    -- ARGV[4]  cost       integer 0..1e9, at most the rule's capacity (the caller checks); 0 = peek
    -- ARGV[5]  commit     "1": consume when allowed; "0": status only, never writes
    -- ARGV[6]  now_us     "" = Redis TIME (sec * 1e6 + usec); else an integer 0..2^53-1 (tests)
    --
    -- Returns {allowed (1/0), remaining, reset_after_us, retry_after_us, delay_us, now_us}:
    -- integers below 2^53 (a time that would be larger is clamped to 2^53-1 µs ≈ 285 years).
    --
    -- Writes (SET with PX) only when commit = "1", the request is allowed and cost > 0. A denial,
    -- a peek or a status call leaves the key and its TTL untouched.


    """#

    static let batchHeader = #"""
    -- Sluice: N rate-limit decisions decided atomically, as MemoryStore.decideBatch: items are
    -- evaluated in order (a repeated key sees the earlier items' pending consumption); the batch
    -- is allowed only if every non-shadow item is allowed; when allowed and commit = "1" the new
    -- states are stored; when denied nothing is stored and each item's answer is its own, against
    -- the unchanged state. Time is in integer µs.
    --
    -- KEYS[i]  item i's state key (opaque here; a key may repeat)
    -- ARGV[1]  commit     "1": consume when the batch is allowed; "0": status only, never writes
    -- ARGV[2]  now_us     "" = Redis TIME (sec * 1e6 + usec); else an integer 0..2^53-1 (tests)
    -- then 6 per item, from ARGV[3 + 6(i-1)]:
    --          code       1 token_bucket, 2 sliding_window, 3 fixed_window, 4 leaky_bucket
    --          limit, period_us, burst, cost   as in the single-key scripts
    --          shadow     "1": the item's denial does not deny the batch; "0" otherwise
    --
    -- Returns {all_allowed (1/0), now_us, then per item: allowed, remaining, reset_after_us,
    -- retry_after_us, delay_us}: integers below 2^53 (larger times are clamped to 2^53-1 µs).


    """#

    // MARK: prelude

    static let prelude = #"""
    -- ---- exact integers ----------------------------------------------------------------------
    -- Lua numbers are IEEE doubles: integers are exact below 2^53. Every plain number here is an
    -- integer in [0, 2^53). Lemma, used for every division: for integers 0 <= t < 2^53 and
    -- m >= 1, math.floor(t / m) is exactly floor(t/m). (If t/m is an integer k, it is exact.
    -- Otherwise k = floor(t/m) is representable, so the rounded quotient is >= k, and t/m is at
    -- least 1/m below k + 1 while the rounding error is at most (t/m)·2^-53 < 1/m, as t < 2^53.)
    --
    -- Values that can pass 2^53 (now·limit, burst·period, the TAT: up to ~1e25) are "bigs":
    -- arrays of base-100 digits, least significant first, no leading zeros ({} is 0). Bigs have
    -- no size limit. A big is only multiplied or divided by a small m, 0 <= m <= 2^53/100 ≈
    -- 9.007e13: limits, bursts, costs and counts are <= 1e9, periods <= 3.17e13, and 1000. Then
    -- every intermediate of mul and divmod is < 100·m <= 2^53, hence exact.
    local BASE = 100
    local MAX = 9007199254740991  -- 2^53 - 1: the largest number returned; larger results clamp to it

    local function trim(a)
      while a[#a] == 0 do a[#a] = nil end
      return a
    end

    local function big(n)  -- an integer 0 <= n < 2^53 as a big (n < 0 gives 0)
      local a = {}
      while n > 0 do
        local q = math.floor(n / BASE)  -- exact (lemma)
        a[#a + 1] = n - q * BASE
        n = q
      end
      return a
    end

    local function cmp(a, b)  -- -1, 0 or 1
      if #a ~= #b then return #a < #b and -1 or 1 end
      for i = #a, 1, -1 do
        if a[i] ~= b[i] then return a[i] < b[i] and -1 or 1 end
      end
      return 0
    end

    local function bigmax(a, b)
      if cmp(a, b) >= 0 then return a end
      return b
    end

    local function add(a, b)
      local s, carry = {}, 0
      for i = 1, math.max(#a, #b) do
        local t = (a[i] or 0) + (b[i] or 0) + carry  -- <= 199
        carry = t >= BASE and 1 or 0
        s[i] = t - carry * BASE
      end
      if carry > 0 then s[#s + 1] = carry end
      return s
    end

    -- a - b when a > b, else 0: the Swift divisions (Wide) answer 0 for a dividend <= 0.
    local function sub0(a, b)
      if cmp(a, b) <= 0 then return {} end
      local d, borrow = {}, 0
      for i = 1, #a do
        local t = a[i] - (b[i] or 0) - borrow
        borrow = t < 0 and 1 or 0
        d[i] = t + borrow * BASE
      end
      return trim(d)
    end

    local function mul(a, m)  -- a·m, m small
      local p, carry = {}, 0
      for i = 1, #a do
        local t = a[i] * m + carry  -- <= 99m + (m - 1) < 100m: exact, and the next carry <= m - 1
        carry = math.floor(t / BASE)
        p[i] = t - carry * BASE
      end
      while carry > 0 do
        local q = math.floor(carry / BASE)
        p[#p + 1] = carry - q * BASE
        carry = q
      end
      return trim(p)
    end

    local function divmod(a, m)  -- floor(a/m) (a big) and a mod m, m small and >= 1
      local q, r = {}, 0
      for i = #a, 1, -1 do
        local t = r * BASE + a[i]  -- r <= m - 1, so t <= 100m - 1: exact
        q[i] = math.floor(t / m)   -- exact (lemma), at most 99
        r = t - q[i] * m
      end
      return trim(q), r
    end

    local MAX_BIG = big(MAX)
    local function int(a)  -- a big as a number, clamped to MAX
      if cmp(a, MAX_BIG) >= 0 then return MAX end
      local n = 0
      for i = #a, 1, -1 do n = n * BASE + a[i] end  -- every partial value <= a < 2^53
      return n
    end

    -- Wide.floorDiv and Wide.ceilDiv (a >= 0 a big, m small >= 1), clamped to MAX µs (the Swift
    -- clamps to Int64.max ns; 2^53-1 µs still fits in Int64 as ns).
    local function floor_div(a, m)
      return int((divmod(a, m)))
    end

    local function ceil_div(a, m)
      local q, r = divmod(a, m)
      if r > 0 then q = add(q, {1}) end
      return int(q)
    end

    local function muldiv(a, b, m)  -- floor(a·b/m), clamped; a < 2^53 (< 0 counts as 0), b, m small
      return floor_div(mul(big(a), b), m)
    end

    local function fmt(n)  -- an integer < 2^53 as Redis wants it (tostring would give 1.8e+15)
      return string.format('%.0f', n)
    end

    local function big_tostring(a)  -- decimal
      local digits = {string.format('%d', a[#a] or 0)}
      for i = #a - 1, 1, -1 do digits[#digits + 1] = string.format('%02d', a[i]) end
      return table.concat(digits)
    end

    local function big_parse(s)  -- a decimal integer as a big; nil if s is not one
      if not s:match('^%d+$') then return nil end
      local a = {}
      for i = #s, 1, -2 do a[#a + 1] = tonumber(s:sub(math.max(i - 1, 1), i)) end
      return trim(a)
    end

    -- ---- arguments and clock -------------------------------------------------------------------
    local function int_arg(i, lo, hi)
      local n = tonumber(ARGV[i])
      if n == nil or n ~= math.floor(n) or n < lo or n > hi then
        error('sluice: ARGV[' .. i .. '] must be an integer from ' .. fmt(lo) .. ' to ' .. fmt(hi)
          .. ', got ' .. tostring(ARGV[i]))
      end
      return n
    end

    local function flag_arg(i)
      if ARGV[i] == '1' then return true end
      if ARGV[i] == '0' then return false end
      error('sluice: ARGV[' .. i .. '] must be 1 or 0, got ' .. tostring(ARGV[i]))
    end

    local function limits_args(i)  -- limit, period_us, burst, cost from ARGV[i .. i+3]
      return int_arg(i, 1, 1e9), int_arg(i + 1, 1000, 31622400000000), int_arg(i + 2, 0, 1e9),
        int_arg(i + 3, 0, 1e9)
    end

    local function clock(i)  -- now in µs: ARGV[i], or Redis TIME when it is ""
      if ARGV[i] ~= '' then return int_arg(i, 0, MAX) end
      local t = redis.call('TIME')
      return tonumber(t[1]) * 1000000 + tonumber(t[2])  -- < 2^53 until the year 2255: exact
    end

    -- ---- state storage ---------------------------------------------------------------------------
    -- One Redis string per key: "<code>:<limit>:<period_us>:<burst>:<payload>", the payload as the
    -- algorithm defines it. The prefix ties the state to the limits it was measured against: a
    -- state stored under other limits reads as a new key (as MemoryStore drops a changed rule's
    -- keys). Written with SET ... PX, so the value and its TTL change together.
    local ALGORITHMS = {}  -- code -> {decide = ..., encode = ..., decode = ...}

    local function params_prefix(code, limit, period, burst)
      return fmt(code) .. ':' .. fmt(limit) .. ':' .. fmt(period) .. ':' .. fmt(burst) .. ':'
    end

    local function load_state(key, prefix, algorithm)  -- nil: a new key
      local value = redis.call('GET', key)
      if not value or value:sub(1, #prefix) ~= prefix then return nil end
      return algorithm.decode(value:sub(#prefix + 1))
    end

    -- reset_after is that of the allowed decision (cost > 0) that produced the state: exactly the
    -- time until the state is equivalent to a new key (Algorithms.isIdle). Buckets: until
    -- tat <= now·limit; fixed window: until the next window; sliding: until the one after. The
    -- TTL is that, rounded up to ms, plus 1 ms for the Redis clock's ms rounding: never early.
    local function save_state(key, prefix, algorithm, state, reset_after)
      local value = prefix .. algorithm.encode(state)
      if reset_after >= MAX then
        redis.call('SET', key, value)  -- idle in 285+ years (or clamped): no TTL, late is harmless
        return
      end
      local ms = math.floor(reset_after / 1000)
      if ms * 1000 < reset_after then ms = ms + 1 end
      redis.call('SET', key, value, 'PX', fmt(ms + 1))
    end


    """#

    // MARK: algorithms

    static let tokenBucketFunction = #"""
    -- ---- token_bucket (code 1): GCRA, as Algorithms.tokenBucket ----------------------------------
    -- Payload: the theoretical arrival time (TAT) in units of 1/limit µs, a decimal integer (exact:
    -- period/limit is never rounded). Emission interval = period, tolerance = burst·period.
    -- Allowed iff max(tat, now) + cost·period <= now + burst·period, i.e. tokens(now) >= cost.
    local function token_bucket(state, now, cost, limit, period, burst)
      local now_s = mul(big(now), limit)
      local tat = state and bigmax(state, now_s) or now_s
      local horizon = add(now_s, mul(big(burst), period))
      local new_tat = add(tat, mul(big(cost), period))
      if cmp(new_tat, horizon) <= 0 then
        return {1, floor_div(sub0(horizon, new_tat), period), ceil_div(sub0(new_tat, now_s), limit), 0, 0},
          new_tat
      end
      return {0, floor_div(sub0(horizon, tat), period), ceil_div(sub0(tat, now_s), limit),
        ceil_div(sub0(new_tat, horizon), limit), 0}
    end
    ALGORITHMS[1] = {decide = token_bucket, encode = big_tostring, decode = big_parse}


    """#

    static let slidingWindowFunction = #"""
    -- ---- sliding_window (code 2): as Algorithms.slidingWindow ----------------------------------
    -- Payload: "<window>:<current>:<previous>", window = floor(now/period), the counts of that
    -- window and of the one before it.
    --
    -- The Swift compares previous·(period - elapsed) + used·period <= limit·period (up to ~3e22).
    -- With carried = ceil(previous·(period - elapsed)/period) = previous - floor(previous·elapsed/period)
    -- (ceil(x - y) = x - floor(y) for an integer x), and since a <= k·period <=> ceil(a/period) <= k
    -- for an integer k, that is exactly used + carried <= limit; and the Swift's remaining,
    -- floorDiv(limit·period - previous·(period - elapsed) - c·period, period) (0 when <= 0), is
    -- exactly max(limit - c - carried, 0). Only floor(previous·elapsed/period) needs a big.

    -- Algorithms.slidingRetryAfter: the time until the denied request would fit, first later in
    -- this window, else in the next one (where current becomes previous).
    local function sliding_retry_after(current, previous, elapsed, cost, limit, period)
      local spare = limit - current - cost
      if spare >= 0 and previous > 0 then
        local needed = period - muldiv(spare, period, previous)
        if needed < period then return needed - elapsed end
      end
      local to_next = period - elapsed
      if current == 0 then return to_next end
      -- muldiv clamps to MAX as the Swift clamps to Int64.max: either way needed < 0 then, so 0.
      local needed = period - muldiv(limit - cost, period, current)
      return to_next + math.max(needed, 0)
    end

    local function sliding_window(state, now, cost, limit, period)
      local window = math.floor(now / period)   -- exact (lemma)
      local elapsed = now - window * period      -- window·period <= now: exact
      local current, previous = 0, 0
      if state and state.window == window then
        current, previous = state.current, state.previous
      elseif state and state.window == window - 1 then
        previous = state.current
      end
      local carried = previous - muldiv(previous, elapsed, period)
      local function remaining(c) return math.max(limit - c - carried, 0) end
      local function reset_after(c)
        if c > 0 then return 2 * period - elapsed end
        return previous > 0 and period - elapsed or 0
      end
      local used = current + cost
      if used + carried <= limit then
        return {1, remaining(used), reset_after(used), 0, 0},
          {window = window, current = used, previous = previous}
      end
      return {0, remaining(current), reset_after(current),
        sliding_retry_after(current, previous, elapsed, cost, limit, period), 0}
    end

    ALGORITHMS[2] = {
      decide = sliding_window,
      encode = function(s) return fmt(s.window) .. ':' .. fmt(s.current) .. ':' .. fmt(s.previous) end,
      decode = function(payload)
        local w, c, p = payload:match('^(%d+):(%d+):(%d+)$')
        return w and {window = tonumber(w), current = tonumber(c), previous = tonumber(p)}
      end,
    }


    """#

    static let fixedWindowFunction = #"""
    -- ---- fixed_window (code 3): as Algorithms.fixedWindow --------------------------------------
    -- Payload: "<window>:<count>", window = floor(now/period).
    local function fixed_window(state, now, cost, limit, period)
      local window = math.floor(now / period)  -- exact (lemma)
      -- (window + 1)·period - now, without forming (window + 1)·period, which may pass 2^53.
      local window_end = period - (now - window * period)
      local count = (state and state.window == window) and state.count or 0
      local used = count + cost
      if used <= limit then
        return {1, limit - used, used > 0 and window_end or 0, 0, 0}, {window = window, count = used}
      end
      return {0, limit - count, window_end, window_end, 0}
    end

    ALGORITHMS[3] = {
      decide = fixed_window,
      encode = function(s) return fmt(s.window) .. ':' .. fmt(s.count) end,
      decode = function(payload)
        local w, c = payload:match('^(%d+):(%d+)$')
        return w and {window = tonumber(w), count = tonumber(c)}
      end,
    }


    """#

    static let leakyBucketFunction = #"""
    -- ---- leaky_bucket (code 4): shaping, as Algorithms.leakyBucket -----------------------------
    -- Payload: the TAT in units of 1/limit µs, a decimal integer (as the token bucket). Requests
    -- leave the queue one emission interval (period) apart; a request whose wait would exceed
    -- burst intervals is denied; an allowed one is told to wait `delay`.
    local function leaky_bucket(state, now, cost, limit, period, burst)
      local now_s = mul(big(now), limit)
      local tat = state and bigmax(state, now_s) or now_s
      local wait = sub0(tat, now_s)
      local tolerance = mul(big(burst), period)
      -- How many unit requests could still be queued after the queue drains to `after`.
      local function room(after)
        local used = sub0(after, now_s)
        if cmp(used, tolerance) > 0 then return 0 end
        return floor_div(sub0(tolerance, used), period) + 1
      end
      if cost == 0 then
        return {1, room(tat), ceil_div(wait, limit), 0, 0}
      end
      if cmp(wait, tolerance) <= 0 then
        local new_tat = add(tat, mul(big(cost), period))
        return {1, room(new_tat), ceil_div(sub0(new_tat, now_s), limit), 0, ceil_div(wait, limit)},
          new_tat
      end
      return {0, 0, ceil_div(wait, limit), ceil_div(sub0(wait, tolerance), limit), 0}
    end
    ALGORITHMS[4] = {decide = leaky_bucket, encode = big_tostring, decode = big_parse}


    """#

    // MARK: mains

    static let singleMain = #"""
    -- ---- main: one key -------------------------------------------------------------------------
    local code, algorithm = next(ALGORITHMS)  -- the one algorithm this script defines
    if #KEYS ~= 1 or #ARGV ~= 6 then error('sluice: expects 1 key and 6 arguments') end
    local limit, period, burst, cost = limits_args(1)
    local commit = flag_arg(5)
    local now = clock(6)
    local prefix = params_prefix(code, limit, period, burst)
    local state = load_state(KEYS[1], prefix, algorithm)
    local d, next_state = algorithm.decide(state, now, cost, limit, period, burst)
    if commit and d[1] == 1 and cost > 0 then
      save_state(KEYS[1], prefix, algorithm, next_state, d[3])
    end
    return {d[1], d[2], d[3], d[4], d[5], now}

    """#

    static let batchMain = #"""
    -- ---- main: a batch -------------------------------------------------------------------------
    local n = #KEYS
    if n == 0 or #ARGV ~= 2 + 6 * n then error('sluice: expects N keys and 2 + 6N arguments') end
    local commit = flag_arg(1)
    local now = clock(2)
    local items = {}
    for i = 1, n do
      local at = 3 + 6 * (i - 1)
      local code = int_arg(at, 1, 4)
      local limit, period, burst, cost = limits_args(at + 1)
      items[i] = {
        key = KEYS[i], algorithm = ALGORITHMS[code], prefix = params_prefix(code, limit, period, burst),
        limit = limit, period = period, burst = burst, cost = cost, shadow = flag_arg(at + 5),
      }
    end

    local function decide(item, state)
      return item.algorithm.decide(state, now, item.cost, item.limit, item.period, item.burst)
    end

    -- In order; a repeated key sees the pending state of the earlier items (if under the same limits).
    local pending, decisions, all = {}, {}, true
    for i, item in ipairs(items) do
      local p = pending[item.key]
      local state
      if p then
        state = p.prefix == item.prefix and p.state or nil
      else
        state = load_state(item.key, item.prefix, item.algorithm)
      end
      local d, next_state = decide(item, state)
      all = all and (d[1] == 1 or item.shadow)
      if d[1] == 1 and item.cost > 0 then
        pending[item.key] = {
          prefix = item.prefix, algorithm = item.algorithm, state = next_state, reset_after = d[3],
        }
      end
      decisions[i] = d
    end

    if all and commit then
      for _, item in ipairs(items) do  -- each key's last pending state, in item order
        local p = pending[item.key]
        if p then
          save_state(item.key, p.prefix, p.algorithm, p.state, p.reset_after)
          pending[item.key] = nil
        end
      end
    elseif not all then
      -- Denied: nothing is stored; each item answers for itself against the unchanged state.
      for i, item in ipairs(items) do
        decisions[i] = (decide(item, load_state(item.key, item.prefix, item.algorithm)))
      end
    end

    local reply = {all and 1 or 0, now}
    for _, d in ipairs(decisions) do
      for j = 1, 5 do reply[#reply + 1] = d[j] end
    end
    return reply

    """#
}
