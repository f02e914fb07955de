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
    static let tokenBucket: String = singleHeader + prelude + gcraState + tokenBucketFunction + singleMain
    static let slidingWindow: String = singleHeader + prelude + slidingWindowFunction + singleMain
    static let fixedWindow: String = singleHeader + prelude + fixedWindowFunction + singleMain
    static let leakyBucket: String = singleHeader + prelude + gcraState + leakyBucketFunction + singleMain
    static let batch: String = batchHeader + prelude + gcraState
        + tokenBucketFunction + slidingWindowFunction + fixedWindowFunction + leakyBucketFunction
        + batchMain
    static let multi: String = multiHeader + prelude + gcraState
        + tokenBucketFunction + slidingWindowFunction + fixedWindowFunction + leakyBucketFunction
        + multiMain
    static let report: String = reportHeader + prelude + gcraState
        + tokenBucketFunction + slidingWindowFunction + fixedWindowFunction + leakyBucketFunction
        + reportFunctions + reportMain

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
    -- states are stored; when denied nothing is stored and each item's answer is its own verdict
    -- against the unchanged state, with remaining and reset_after of that state as it is (what
    -- cost 0 reports), retry_after 0 when allowed, and delay 0. Time is in integer µs.
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

    static let multiHeader = #"""
    -- Sluice: N independent rate-limit decisions in one call (checks that arrived together on one
    -- connection, coalesced): item i is decided exactly as the single-key script would decide it
    -- if called alone, in order, so a repeated key sees the earlier items' writes. One item's
    -- denial does not affect another's. Time is in integer µs, one clock reading for all items.
    --
    -- KEYS[i]  item i's state key (opaque here; a key may repeat)
    -- ARGV[1]  now_us     "" = Redis TIME (sec * 1e6 + usec); else an integer 0..2^53-1 (tests)
    -- then 6 per item, from ARGV[2 + 6(i-1)]:
    --          code       1 token_bucket, 2 sliding_window, 3 fixed_window, 4 leaky_bucket
    --          limit, period_us, burst, cost   as in the single-key scripts
    --          commit     "1": consume when allowed; "0": status only, never writes
    --
    -- Returns {now_us, then per item: allowed, remaining, reset_after_us, retry_after_us,
    -- delay_us}: integers below 2^53 (larger times are clamped to 2^53-1 µs).


    """#

    static let reportHeader = #"""
    -- Sluice: one report (POST /v1/report): usage that already happened, recorded without a
    -- decision, as RateLimiter.report and Algorithms.report: it may put the key into debt (at most
    -- one capacity), a negative cost refunds (never above a fresh key's quota), and an id seen
    -- within its TTL records nothing again. Time is in integer µs.
    --
    -- KEYS[1]  the key's state key (opaque here)
    -- KEYS[2]  optional: the report id's key (SET NX PX: the id was seen when it exists)
    -- ARGV[1]  code       1 token_bucket, 2 sliding_window, 3 fixed_window, 4 leaky_bucket
    -- ARGV[2]  limit, ARGV[3] period_us, ARGV[4] burst   as in the single-key scripts
    -- ARGV[5]  cost       integer -1e9..1e9 (negative: a refund)
    -- ARGV[6]  now_us     "" = Redis TIME (sec * 1e6 + usec); else an integer 0..2^53-1 (tests)
    -- ARGV[7]  id_ttl_ms  integer 1..2^31-1: how long KEYS[2] is kept (ignored without it)
    --
    -- Returns {duplicate (1/0), remaining, reset_after_us, retry_after_us, debt, now_us}: the
    -- key's state after the report (remaining and reset_after as cost 0 reports them,
    -- retry_after for cost 1), integers below 2^53.
    --
    -- Writes the state (SET with PX, or DEL once it equals a new key's) unless cost is 0 or the
    -- id is a duplicate.


    """#

    // MARK: prelude

    static let prelude = #"""
    -- ---- numbers --------------------------------------------------------------------------------
    -- Lua numbers are IEEE doubles: integers are exact below 2^53, and IEEE rounds correctly, so a
    -- sum, difference or product of such integers is exact when the result is below 2^53. Every
    -- plain number here is an integer, and every one that is used lies in [0, 2^53). Two facts:
    -- (1) Division: for integers 0 <= t < 2^53 and m >= 1, math.floor(t / m) is exactly floor(t/m).
    --     (If t/m is an integer k, it is exact. Otherwise k = floor(t/m) is representable, so the
    --     rounded quotient is >= k, and t/m is at least 1/m below k + 1 while the rounding error is
    --     at most (t/m)·2^-53 < 1/m, as t < 2^53.)
    -- (2) Guards: a sum or product of exact integers >= 0 is exact when the true result is below
    --     2^53, and rounds to a value >= 2^53 otherwise (rounding is monotonic and 2^53 is a
    --     double); by induction the same holds along a chain of + and ·. So `x < 2^53` on such an
    --     x both proves it exact and tells when it is not. The algorithms compute in plain numbers
    --     behind such guards (the fast paths); when a guard fails, the exact path (bigs) decides.
    -- MAX = 2^53 - 1 is the largest number returned; larger results clamp to it. It is written as
    -- 2^53 - 1 (Lua folds such constants when it compiles the script; a local that functions
    -- capture would cost on every call).
    local floor = math.floor

    local function ceil_div(a, m)  -- ceil(a/m) for 0 <= a < 2^53, m >= 1
      local r = a % m  -- a - floor(a/m)·m: exact (1)
      if r == 0 then return a / m end
      return (a - r) / m + 1  -- (a - r)/m = floor(a/m), an exact quotient
    end

    -- ---- exact integers of any size (the slow paths) --------------------------------------------
    -- On the exact paths, values that can pass 2^53 (now·limit, burst·period, the TAT: up to
    -- ~1e25) are "bigs": arrays of base-100 digits, least significant first, no leading zeros ({}
    -- is 0). Bigs have no size limit. A big is only multiplied or divided by a small m,
    -- 0 <= m <= 2^53/100 ≈ 9.007e13: limits, bursts, costs and counts are <= 1e9, periods
    -- <= 3.17e13, 1000, 2^40 and 2^13. Then every intermediate of mul and divmod is < 100·m <= 2^53,
    -- hence exact. bigs() creates these functions when an exact path needs them, so that a call
    -- decided on a fast path does not pay for them (a script creates its closures anew on every
    -- call, and each local of the script that a closure captures costs too: hence bigs' own locals).
    local function bigs()
      local BASE, MAX, floor = 100, 2^53 - 1, math.floor

      local function trim(a)
        while a[#a] == 0 do a[#a] = nil end
        return a
      end

      local function big(n)  -- an integer 0 <= n < 2^53 as a big (n < 0 gives 0)
        local a = {}
        while n > 0 do
          local q = floor(n / BASE)  -- exact (1)
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
          carry = floor(t / BASE)
          p[i] = t - carry * BASE
        end
        while carry > 0 do
          local q = floor(carry / BASE)
          p[#p + 1] = carry - q * BASE
          carry = q
        end
        return trim(p)
      end

      local function divmod(a, m)  -- floor(a/m) (a big) and a mod m, m small and >= 1
        local q, r = {}, 0
        for i = #a, 1, -1 do
          local t = r * BASE + a[i]  -- r <= m - 1, so t <= 100m - 1: exact
          q[i] = floor(t / m)        -- exact (1), at most 99
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

      local function big_ceil_div(a, m)
        local q, r = divmod(a, m)
        if r > 0 then q = add(q, {1}) end
        return int(q)
      end

      -- (hi·2^53 + lo)·m + r as a big, and back (r < m, lo < 2^53, hi < 2^53): how the buckets
      -- store their TAT (see gcraState). 2^53 = 2^40·2^13, in two steps as it is not small.
      local function from_parts(hi, lo, m, r)
        return add(mul(add(mul(mul(big(hi), 2^40), 2^13), big(lo)), m), big(r))
      end

      local function to_parts(a, m)
        local q, r = divmod(a, m)
        local q40, lo40 = divmod(q, 2^40)
        local hi, lo13 = divmod(q40, 2^13)
        return int(hi), lo13 * 2^40 + lo40, r  -- < 2^53: exact
      end

      return {
        big = big, cmp = cmp, add = add, sub0 = sub0, mul = mul, floor_div = floor_div,
        ceil_div = big_ceil_div, from_parts = from_parts, to_parts = to_parts,
      }
    end

    -- ---- arguments and clock -------------------------------------------------------------------
    local function int_arg(i, lo, hi)
      local n = tonumber(ARGV[i])
      if n == nil or n % 1 ~= 0 or n < lo or n > hi then  -- n % 1 is n - floor(n)
        error(string.format('sluice: ARGV[%d] must be an integer from %.0f to %.0f, got %s', i, lo, hi,
          tostring(ARGV[i])))
      end
      return n
    end

    local function flag_arg(i)
      if ARGV[i] == '1' then return true end
      if ARGV[i] == '0' then return false end
      error('sluice: ARGV[' .. i .. '] must be 1 or 0, got ' .. tostring(ARGV[i]))
    end

    -- limit, period_us, burst, cost from ARGV[i .. i+3]: int_arg's checks, inline for the four
    -- (n % 1 lies in [0, 1), and is 0 only for an integer); int_arg names the first bad one.
    local function limits_args(i)
      local limit, period = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
      local burst, cost = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
      if limit and period and burst and cost and limit >= 1 and limit <= 1e9 and period >= 1000
          and period <= 31622400000000 and burst >= 0 and burst <= 1e9 and cost >= 0 and cost <= 1e9
          and limit % 1 + period % 1 + burst % 1 + cost % 1 == 0 then
        return limit, period, burst, cost
      end
      return int_arg(i, 1, 1e9), int_arg(i + 1, 1000, 31622400000000), int_arg(i + 2, 0, 1e9),
        int_arg(i + 3, 0, 1e9)
    end

    -- now in µs: ARGV[i], or Redis TIME when it is "". Also whether the caller fixed it (tests on a
    -- virtual clock): then PX, which runs on Redis's own clock, would mean nothing (save_state).
    local function clock(i)
      if ARGV[i] ~= '' then return int_arg(i, 0, 2^53 - 1), true end
      local t = redis.call('TIME')  -- two decimal strings; arithmetic converts them (once: tonumber twice)
      return t[1] * 1000000 + t[2], false  -- < 2^53 until the year 2255: exact
    end

    -- ---- state storage ---------------------------------------------------------------------------
    -- One Redis string per key: struct.pack(STATE, code, limit, period_us, burst, x, y, z), seven
    -- little-endian fields, every one an exact integer: a byte, limit and burst (< 2^32) as 4-byte
    -- integers, the others as doubles (< 2^53); 41 bytes, so that Redis keeps the value in one
    -- allocation with its object (up to 44 bytes). x, y, z are the algorithm's state. The limits
    -- tie the state to the limits it was measured against: a state stored under other limits
    -- reads as a new key (as MemoryStore drops a changed rule's keys), and so does any other value
    -- (a value of the older text format starts with an ASCII digit, never a code 1..4). Binary,
    -- as converting numbers to and from decimal text costs more than all the arithmetic. Written
    -- with SET ... PX, so the value and its TTL change together.
    --
    -- ALGORITHMS[code] = decide(x, y, z, now, cost, limit, period, burst), x = nil for a new key;
    -- it returns allowed (1/0), remaining, reset_after, retry_after, delay and, when allowed, the
    -- new x, y, z.
    local ALGORITHMS = {}
    local STATE = '<BI4dI4ddd'

    local function load_state(value, code, limit, period, burst)  -- value: a GET reply; x, y, z or nil
      if not value or #value ~= 41 then return nil end  -- the size of STATE (a literal: cheaper)
      local c, l, p, b, x, y, z = struct.unpack('<BI4dI4ddd', value)
      if c ~= code or l ~= limit or p ~= period or b ~= burst then return nil end
      return x, y, z
    end

    -- reset_after is that of the allowed decision (cost > 0) that produced the state: exactly the
    -- time until the state is equivalent to a new key (Algorithms.isIdle). Buckets: until
    -- tat <= now·limit; fixed window: until the next window; sliding: until the one after. The
    -- TTL is that, rounded up to ms, plus 1 ms for the Redis clock's ms rounding: never early.
    -- At least 1 s: expiring late is harmless (the state already equals a new key's), and a
    -- caller whose "now" is not Redis's clock (the tests' virtual time) is not raced by PX.
    local function save_state(key, value, reset_after, fixed_now)
      if fixed_now or reset_after >= 2^53 - 1 then  -- MAX
        redis.call('SET', key, value)  -- virtual time, or idle in 285+ years (or clamped): no TTL
        return
      end
      if reset_after <= 999000 then  -- then ceil(reset_after/1000) + 1 <= 1000: the floor (usual)
        redis.call('SET', key, value, 'PX', '1000')
        return
      end
      local ms = ceil_div(reset_after, 1000) + 1
      -- In decimal (tostring would give 1e+15): %d is the cheaper conversion, but it goes through a
      -- C long, which may have 32 bits; %.0f is exact for every integer below 2^53.
      redis.call('SET', key, value, 'PX', string.format(ms < 2147483648 and '%d' or '%.0f', ms))
    end


    """#

    static let gcraState = #"""
    -- ---- GCRA state: the TAT of token_bucket and leaky_bucket ----------------------------------
    -- State x, y, z = hi, lo, b: the theoretical arrival time (TAT) is a + b/limit µs with
    -- a = hi·2^53 + lo, 0 <= lo < 2^53, 0 <= b < limit; i.e. tat = a·limit + b in units of
    -- 1/limit µs (exact: period/limit is never rounded). hi is 0 unless the TAT is past the year
    -- 2255 (as after a burst of 1e9 × 366 days); then only the exact path reads it. The fast
    -- paths need only w = max(tat - now·limit, 0), the wait until the bucket is full again
    -- (token) or the queue is empty (leaky), and store the TAT after the request, now·limit + e.

    -- w as a plain number (0 for a new key), or nil when a or w is 2^53 or more: then the exact
    -- path decides.
    local function gcra_wait(hi, lo, b, now, limit)
      if not hi then return 0 end
      if hi > 0 then return nil end     -- a >= 2^53
      if lo < now then return 0 end     -- tat < (a + 1)·limit <= now·limit
      local w = (lo - now) * limit + b  -- lo - now exact; the rest by (2)
      if w >= 2^53 then return nil end
      return w
    end

    -- hi, lo, b of tat = now·limit + e, 0 <= e < 2^53.
    local function gcra_state(now, e, limit)
      local b = e % limit        -- exact (1)
      local q = (e - b) / limit  -- floor(e/limit): an exact quotient
      local a = now + q          -- exact when < 2^53 (2)
      if a < 2^53 then return 0, a, b end
      return 1, (now - 2^53) + q, b  -- a - 2^53 < 2^53 (now, q < 2^53): both steps exact
    end


    """#

    // MARK: algorithms

    static let tokenBucketFunction = #"""
    -- ---- token_bucket (code 1): GCRA, as Algorithms.tokenBucket ----------------------------------
    -- Emission interval = period, tolerance = burst·period (in units of 1/limit µs). Allowed iff
    -- max(tat, now) + cost·period <= now + burst·period, i.e. tokens(now) >= cost.
    --
    -- Fast path, relative to now·limit: w = tat - now·limit, tol = horizon - now·limit. When
    -- tol < 2^53, cost <= burst (so cost·period <= tol) and w < 2^53, every value lies in [0, 2^53)
    -- (w + cost·period <= tol when allowed; w - slack <= w when denied). Else the exact path.
    local function token_bucket(hi, lo, b, now, cost, limit, period, burst)
      local tol = burst * period
      local w = cost <= burst and tol < 2^53 and gcra_wait(hi, lo, b, now, limit)
      if w then
        local inc = cost * period
        local slack = tol - inc  -- the largest w that still allows the request
        if w <= slack then
          local e = w + inc  -- new_tat - now·limit
          return 1, floor((slack - w) / period), ceil_div(e, limit), 0, 0, gcra_state(now, e, limit)
        end
        local remaining = w < tol and floor((tol - w) / period) or 0  -- Wide.floorDiv: 0 when <= 0
        return 0, remaining, ceil_div(w, limit), ceil_div(w - slack, limit), 0
      end

      -- The exact path: the same, with now·limit, the TAT and the horizon as bigs.
      local X = bigs()
      local now_s = X.mul(X.big(now), limit)
      local tat = hi and X.from_parts(hi, lo, limit, b)
      if not tat or X.cmp(tat, now_s) < 0 then tat = now_s end
      local horizon = X.add(now_s, X.mul(X.big(burst), period))
      local new_tat = X.add(tat, X.mul(X.big(cost), period))
      if X.cmp(new_tat, horizon) <= 0 then
        return 1, X.floor_div(X.sub0(horizon, new_tat), period), X.ceil_div(X.sub0(new_tat, now_s), limit),
          0, 0, X.to_parts(new_tat, limit)
      end
      return 0, X.floor_div(X.sub0(horizon, tat), period), X.ceil_div(X.sub0(tat, now_s), limit),
        X.ceil_div(X.sub0(new_tat, horizon), limit), 0
    end
    ALGORITHMS[1] = token_bucket


    """#

    static let slidingWindowFunction = #"""
    -- ---- sliding_window (code 2): as Algorithms.slidingWindow ----------------------------------
    -- State x, y, z = window, current, previous: window = floor(now/period), the counts of that
    -- window and of the one before it.
    --
    -- The Swift compares previous·(period - elapsed) + used·period <= limit·period (up to ~3e22).
    -- With carried = ceil(previous·(period - elapsed)/period) = previous - floor(previous·elapsed/period)
    -- (ceil(x - y) = x - floor(y) for an integer x), and since a <= k·period <=> ceil(a/period) <= k
    -- for an integer k, that is exactly used + carried <= limit; and the Swift's remaining,
    -- floorDiv(limit·period - previous·(period - elapsed) - c·period, period) (0 when <= 0), is
    -- exactly max(limit - c - carried, 0). Only floor(previous·elapsed/period) can need a big
    -- (muldiv decides).

    -- floor(a·b/m), clamped to MAX; a < 2^53 (<= 0 gives 0), b and m small, m >= 1:
    -- exact on the fast path, else with bigs.
    local function muldiv(a, b, m)
      if a <= 0 then return 0 end
      local p = a * b
      if p < 2^53 then return floor(p / m) end  -- p exact (2), the quotient exact (1)
      local X = bigs()
      return X.floor_div(X.mul(X.big(a), b), m)
    end

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

    local function sliding_reset_after(c, previous, elapsed, period)  -- until the state is idle
      if c > 0 then return 2 * period - elapsed end
      return previous > 0 and period - elapsed or 0
    end

    local function sliding_window(stored_window, stored_current, stored_previous, now, cost, limit, period)
      local window = floor(now / period)  -- exact (1)
      local elapsed = now - window * period  -- window·period <= now: exact
      local current, previous = 0, 0
      if stored_window == window then
        current, previous = stored_current, stored_previous
      elseif stored_window == window - 1 then
        previous = stored_current
      end
      local carried = previous - muldiv(previous, elapsed, period)
      local used = current + cost
      if used + carried <= limit then
        return 1, math.max(limit - used - carried, 0), sliding_reset_after(used, previous, elapsed, period),
          0, 0, window, used, previous
      end
      return 0, math.max(limit - current - carried, 0),
        sliding_reset_after(current, previous, elapsed, period),
        sliding_retry_after(current, previous, elapsed, cost, limit, period), 0
    end
    ALGORITHMS[2] = sliding_window


    """#

    static let fixedWindowFunction = #"""
    -- ---- fixed_window (code 3): as Algorithms.fixedWindow --------------------------------------
    -- State x, y, z = window, count, 0: window = floor(now/period).
    local function fixed_window(stored_window, stored_count, _, now, cost, limit, period)
      local window = floor(now / period)  -- exact (1)
      -- (window + 1)·period - now, without forming (window + 1)·period, which may pass 2^53.
      local window_end = period - (now - window * period)
      local count = stored_window == window and stored_count or 0
      local used = count + cost
      if used <= limit then
        return 1, limit - used, used > 0 and window_end or 0, 0, 0, window, used, 0
      end
      return 0, math.max(limit - count, 0), window_end, window_end, 0  -- a report's debt: count > limit
    end
    ALGORITHMS[3] = fixed_window


    """#

    static let leakyBucketFunction = #"""
    -- ---- leaky_bucket (code 4): shaping, as Algorithms.leakyBucket -----------------------------
    -- Requests leave the queue one emission interval (period) apart; a request whose wait would
    -- exceed burst intervals is denied; an allowed one is told to wait `delay`.
    --
    -- Fast path, relative to now·limit: w = wait, tol = tolerance. When tol + cost·period < 2^53
    -- and w < 2^53, every value lies in [0, 2^53) (w + cost·period <= tol + cost·period when
    -- allowed). Else the exact path.
    local function leaky_bucket(hi, lo, b, now, cost, limit, period, burst)
      local tol, inc = burst * period, cost * period
      local w = tol + inc < 2^53 and gcra_wait(hi, lo, b, now, limit)
      if w then
        -- room(after) below: floor((tol - used)/period) + 1 unit requests, or 0 when used > tol.
        if cost == 0 then
          return 1, w <= tol and floor((tol - w) / period) + 1 or 0, ceil_div(w, limit), 0, 0
        end
        if w > tol then return 0, 0, ceil_div(w, limit), ceil_div(w - tol, limit), 0 end
        local e = w + inc  -- new_tat - now·limit
        return 1, e <= tol and floor((tol - e) / period) + 1 or 0, ceil_div(e, limit), 0, ceil_div(w, limit),
          gcra_state(now, e, limit)
      end

      -- The exact path: the same, with now·limit, the TAT and the tolerance as bigs.
      local X = bigs()
      local now_s = X.mul(X.big(now), limit)
      local tat = hi and X.from_parts(hi, lo, limit, b)
      if not tat or X.cmp(tat, now_s) < 0 then tat = now_s end
      local wait = X.sub0(tat, now_s)
      local tolerance = X.mul(X.big(burst), period)
      -- How many unit requests could still be queued after the queue drains to `after`.
      local function room(after)
        local used = X.sub0(after, now_s)
        if X.cmp(used, tolerance) > 0 then return 0 end
        return X.floor_div(X.sub0(tolerance, used), period) + 1
      end
      if cost == 0 then
        return 1, room(tat), X.ceil_div(wait, limit), 0, 0
      end
      if X.cmp(wait, tolerance) <= 0 then
        local new_tat = X.add(tat, X.mul(X.big(cost), period))
        return 1, room(new_tat), X.ceil_div(X.sub0(new_tat, now_s), limit), 0, X.ceil_div(wait, limit),
          X.to_parts(new_tat, limit)
      end
      return 0, 0, X.ceil_div(wait, limit), X.ceil_div(X.sub0(wait, tolerance), limit), 0
    end
    ALGORITHMS[4] = leaky_bucket


    """#

    static let reportFunctions = #"""
    -- ---- reports: Algorithms.report ------------------------------------------------------------
    -- Each returns the new x, y, z and the debt. Debt is capped at one capacity
    -- (Algorithms.maxDebtCapacities), so window counts stay <= 2e9: plain exact numbers. The TATs
    -- go through bigs throughout (a report is rare: no fast path).

    -- The buckets: the TAT moves by cost·period, never below now·limit and, for a charge, never
    -- above reach + cap periods past it (nor lowered by that clamp); debt = ceil((tat - horizon) /
    -- period) with horizon = now·limit + reach·period.
    local function gcra_report(hi, lo, b, now, cost, limit, period, reach, cap)
      local X = bigs()
      local now_s = X.mul(X.big(now), limit)
      local tat = hi and X.from_parts(hi, lo, limit, b)
      if not tat or X.cmp(tat, now_s) < 0 then tat = now_s end
      local horizon = X.add(now_s, X.mul(X.big(reach), period))
      local new_tat
      if cost >= 0 then
        new_tat = X.add(tat, X.mul(X.big(cost), period))
        local ceiling = X.add(horizon, X.mul(X.big(cap), period))
        if X.cmp(new_tat, ceiling) > 0 then new_tat = X.cmp(tat, ceiling) > 0 and tat or ceiling end
      else
        new_tat = X.sub0(tat, X.mul(X.big(-cost), period))
        if X.cmp(new_tat, now_s) < 0 then new_tat = now_s end
      end
      local nhi, nlo, nb = X.to_parts(new_tat, limit)
      return nhi, nlo, nb, X.ceil_div(X.sub0(new_tat, horizon), period)
    end

    -- count + cost, at least 0, and for a charge at most ceiling (or count, when already above).
    local function adjusted(count, cost, ceiling)
      if cost >= 0 then return math.min(count + cost, math.max(count, ceiling)) end
      return math.max(count + cost, 0)
    end

    local function report(code, x, y, z, now, cost, limit, period, burst)
      if code == 1 then return gcra_report(x, y, z, now, cost, limit, period, burst, burst) end
      if code == 4 then
        local cap = math.max(burst, 1)
        return gcra_report(x, y, z, now, cost, limit, period, burst + cap, cap)
      end
      local window = floor(now / period)  -- exact (1)
      if code == 3 then
        local used = adjusted(x == window and y or 0, cost, 2 * limit)
        return window, used, 0, math.max(used - limit, 0)
      end
      local elapsed = now - window * period
      local current, previous = 0, 0
      if x == window then
        current, previous = y, z
      elseif x == window - 1 then
        previous = y
      end
      local carried = previous - muldiv(previous, elapsed, period)
      local used = adjusted(current, cost, 2 * limit - carried)
      return window, used, previous, math.max(used + carried - limit, 0)
    end


    """#

    // MARK: mains

    static let singleMain = #"""
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

    """#

    static let batchMain = #"""
    -- ---- main: a batch -------------------------------------------------------------------------
    local n = #KEYS
    if n == 0 or #ARGV ~= 2 + 6 * n then error('sluice: expects N keys and 2 + 6N arguments') end
    local commit = flag_arg(1)
    local now, fixed_now = clock(2)
    local items = {}
    for i = 1, n do
      local at = 3 + 6 * (i - 1)
      local code = int_arg(at, 1, 4)
      local limit, period, burst, cost = limits_args(at + 1)
      items[i] = {
        key = KEYS[i], code = code, limit = limit, period = period, burst = burst, cost = cost,
        shadow = flag_arg(at + 5),
      }
    end

    local stored = {}  -- key -> its stored value (false: none), read once: nothing is written before the end
    for _, item in ipairs(items) do
      if stored[item.key] == nil then stored[item.key] = redis.call('GET', item.key) end
    end

    local function decide(item, value, cost)  -- value: a stored or pending value of item's key
      local x, y, z = load_state(value, item.code, item.limit, item.period, item.burst)
      return ALGORITHMS[item.code](x, y, z, now, cost or item.cost, item.limit, item.period, item.burst)
    end

    local reply = {0, now}
    local function answer(i, allowed, remaining, reset_after, retry_after, delay)  -- item i's numbers
      local at = 2 + 5 * (i - 1)
      reply[at + 1], reply[at + 2], reply[at + 3], reply[at + 4], reply[at + 5] =
        allowed, remaining, reset_after, retry_after, delay
    end

    -- In order; a repeated key sees the pending state of the earlier items (its value, so under
    -- other limits it reads as a new key).
    local pending, all = {}, true  -- key -> {value = the new value, reset_after = its reset_after}
    for i, item in ipairs(items) do
      local p = pending[item.key]
      local allowed, remaining, reset_after, retry_after, delay, x, y, z =
        decide(item, p and p.value or stored[item.key])
      all = all and (allowed == 1 or item.shadow)
      if allowed == 1 and item.cost > 0 then
        pending[item.key] = {
          value = struct.pack(STATE, item.code, item.limit, item.period, item.burst, x, y, z),
          reset_after = reset_after,
        }
      end
      answer(i, allowed, remaining, reset_after, retry_after, delay)
    end

    if all and commit then
      for _, item in ipairs(items) do  -- each key's last pending state, in item order
        local p = pending[item.key]
        if p then
          save_state(item.key, p.value, p.reset_after, fixed_now)
          pending[item.key] = nil
        end
      end
    elseif not all then
      -- Denied: nothing is stored; each item answers for itself against the unchanged state,
      -- reporting that state as it is (MemoryStore's Algorithms.unconsumed).
      for i, item in ipairs(items) do
        local allowed, _, _, retry_after = decide(item, stored[item.key])
        local _, remaining, reset_after = decide(item, stored[item.key], 0)
        answer(i, allowed, remaining, reset_after, allowed == 1 and 0 or retry_after, 0)
      end
    end
    reply[1] = all and 1 or 0
    return reply

    """#

    static let multiMain = #"""
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

    """#

    static let reportMain = #"""
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

    """#
}
