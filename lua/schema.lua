-- KEYS: schema stamps. ARGV[1]: a fresh token; ARGV[2]: TTL (s).
-- Returns the tokens the stamps hold, concatenated, creating each missing
-- one (or one holding a value of the wrong type, not written by cacheops)
-- with ARGV[1].
local out = {}
for i = 1, #KEYS do
  local v = false
  if redis.call('TYPE', KEYS[i]).ok == 'string' then
    v = redis.call('GET', KEYS[i])
    if #v ~= #ARGV[1] then
      v = false
    end
  end
  if not v then
    v = ARGV[1]
    redis.call('SET', KEYS[i], v, 'EX', ARGV[2])
  end
  out[#out + 1] = v
end
return table.concat(out)
