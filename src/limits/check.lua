-- One signature for one principal: GCRA rate, then a fixed-window quota, atomically.
-- Nothing is written unless both allow, so a refusal consumes nothing.
--
-- KEYS[1]  rate key: the theoretical arrival time (TAT) in microseconds
-- KEYS[2]  quota key: signatures issued in the current window
-- ARGV[1]  emission interval in microseconds (time for one signature to come back)
-- ARGV[2]  burst
-- ARGV[3]  quota max, 0 for no quota
-- ARGV[4]  quota window in seconds (epoch-aligned: 86400 ends at 00:00 UTC)
--
-- Returns {verdict, limit_rate, remaining_rate, reset_rate_ms, retry_ms,
--          remaining_quota, reset_quota_ms, repaired}, verdict 0 allowed, 1 rate, 2 quota;
-- repaired counts the keys reset below.
-- Time comes from the server, so replicas with skewed clocks still agree.
--
-- A key holding what this script never writes (another type; not a whole number; negative;
-- a TAT beyond one full bucket, a count above the quota; no expiry or one longer than the
-- state can live) is deleted and recomputed from nothing, never obeyed: a corrupt key
-- must not refuse a principal forever.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local qmax = tonumber(ARGV[3])
local qwindow = tonumber(ARGV[4])
local capacity = interval * burst

local function ms(us)
  return math.ceil(us / 1000)
end

local repaired = 0
-- The key's number if it is a whole number in [0, max] with an expiry in (0, ttl_max] ms;
-- otherwise nil, and the key is gone.
local function sane(key, max, ttl_max)
  local kind = redis.call('TYPE', key).ok
  if kind == 'none' then
    return nil
  end
  if kind == 'string' then
    local v = tonumber(redis.call('GET', key))
    local ttl = redis.call('PTTL', key)
    if v ~= nil and v == v and v >= 0 and v <= max and v % 1 == 0
        and ttl > 0 and ttl <= ttl_max then
      return v
    end
  end
  redis.call('DEL', key)
  repaired = repaired + 1
  return nil
end

-- A stored TAT is at most one bucket ahead of the clock, and expires when the bucket is full.
local tat = sane(KEYS[1], now + capacity, ms(capacity) + 1)
if tat == nil or tat < now then
  tat = now
end
local new_tat = tat + interval
if new_tat - now > capacity then
  return {1, burst, 0, ms(tat - now), ms(new_tat - capacity - now), -1, -1, repaired}
end

local qleft, qreset = -1, -1
if qmax > 0 then
  local now_ms = math.floor(now / 1000)
  local window_end_ms = (math.floor(t[1] / qwindow) + 1) * qwindow * 1000
  qreset = window_end_ms - now_ms
  local used = sane(KEYS[2], qmax, qreset + 1000) or 0
  if used >= qmax then
    return {2, burst, -1, -1, qreset, 0, qreset, repaired}
  end
  if redis.call('INCR', KEYS[2]) == 1 then
    redis.call('PEXPIREAT', KEYS[2], window_end_ms)
  end
  qleft = qmax - used - 1
end

-- The cell expires when the bucket would be full again: no state is then needed.
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ms(new_tat - now))
local left = math.floor((capacity - (new_tat - now)) / interval)
return {0, burst, left, ms(new_tat - now), 0, qleft, qreset, repaired}
