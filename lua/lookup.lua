-- KEYS[1]: entry; KEYS[2..n]: stamps.
-- ARGV[1]: token length; ARGV[2]: a fresh token for missing stamps; ARGV[3]: stamp TTL (s).
-- Returns {1, value} on a valid hit, else {0, the current tokens concatenated},
-- creating the stamps that are missing.
local len = tonumber(ARGV[1])
local v = redis.call('GET', KEYS[1])
local ok = v and #v >= (#KEYS - 1) * len
local tokens = {}
for i = 2, #KEYS do
  local s = redis.call('GET', KEYS[i])
  if not s then
    s = ARGV[2]
    redis.call('SET', KEYS[i], s, 'EX', ARGV[3])
    ok = false
  elseif ok and s ~= string.sub(v, (i - 2) * len + 1, (i - 1) * len) then
    ok = false
  end
  tokens[i - 1] = s
end
if ok then
  return {1, v}
end
return {0, table.concat(tokens)}
