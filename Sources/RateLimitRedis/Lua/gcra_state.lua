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
