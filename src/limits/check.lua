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
--          remaining_quota, reset_quota_ms}, verdict 0 allowed, 1 rate, 2 quota.
-- Time comes from the server, so replicas with skewed clocks still agree.

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

local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end
local new_tat = tat + interval
if new_tat - now > capacity then
  return {1, burst, 0, ms(tat - now), ms(new_tat - capacity - now), -1, -1}
end

local qleft, qreset = -1, -1
if qmax > 0 then
  local used = tonumber(redis.call('GET', KEYS[2]) or '0')
  local now_ms = math.floor(now / 1000)
  local window_end_ms = (math.floor(t[1] / qwindow) + 1) * qwindow * 1000
  qreset = window_end_ms - now_ms
  if used >= qmax then
    return {2, burst, -1, -1, qreset, 0, qreset}
  end
  if redis.call('INCR', KEYS[2]) == 1 then
    redis.call('PEXPIREAT', KEYS[2], window_end_ms)
  end
  qleft = qmax - used - 1
end

-- The cell expires when the bucket would be full again: no state is then needed.
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ms(new_tat - now))
local left = math.floor((capacity - (new_tat - now)) / interval)
return {0, burst, left, ms(new_tat - now), 0, qleft, qreset}
