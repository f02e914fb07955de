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

-- For the state x, y, z at now: the window, the time into it, the current and previous windows'
-- counts (Algorithms.slidingCounts) and carried, the previous window's weight in whole units.
local function sliding_counts(stored_window, stored_current, stored_previous, now, period)
  local window = floor(now / period)  -- exact (1)
  local elapsed = now - window * period  -- window·period <= now: exact
  local current, previous = 0, 0
  if stored_window == window then
    current, previous = stored_current, stored_previous
  elseif stored_window == window - 1 then
    previous = stored_current
  end
  return window, elapsed, current, previous, previous - muldiv(previous, elapsed, period)
end

local function sliding_window(x, y, z, now, cost, limit, period)
  local window, elapsed, current, previous, carried = sliding_counts(x, y, z, now, period)
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
