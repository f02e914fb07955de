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
