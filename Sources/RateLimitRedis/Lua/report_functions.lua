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
  if code == 3 then
    local window = floor(now / period)  -- exact (1)
    local used = adjusted(x == window and y or 0, cost, 2 * limit)
    return window, used, 0, math.max(used - limit, 0)
  end
  local window, _, current, previous, carried = sliding_counts(x, y, z, now, period)
  local used = adjusted(current, cost, 2 * limit - carried)
  return window, used, previous, math.max(used + carried - limit, 0)
end
