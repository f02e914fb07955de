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
