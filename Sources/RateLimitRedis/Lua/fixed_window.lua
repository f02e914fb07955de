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
