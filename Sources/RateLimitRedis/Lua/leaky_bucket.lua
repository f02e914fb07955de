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
