-- The miss path, before the query runs: register the reader's schemes, then
-- read (creating where missing) the stamps it depends on.
-- KEYS: [the entry, when ARGV[4] is 1,] then n schemes sets, the table stamp
-- of each set's relation, and the stamps to read.
-- ARGV[1]: a fresh token; ARGV[2]: TTL (s); ARGV[3]: n; ARGV[4]: 1 when the
-- entry comes first; ARGV[5..4+n]: how many schemes each set gets; then the
-- schemes.
-- With the entry, this is the lookup too (for reads that mostly miss, one
-- round trip instead of two): when the entry is valid (every stamp holds
-- the token the entry recorded, in order) nothing is registered and the
-- reply is {1, entry}. Otherwise the reply is {0, the stamps' tokens}.
-- A schemes set created afresh may have replaced a lost one whose schemes
-- writers no longer see: its relation's table stamp is deleted, so that no
-- entry filled under the lost set survives. A key holding a value of the
-- wrong type (not written by cacheops) is deleted and taken as missing.
local function kind(k)
  return redis.call('TYPE', k).ok
end
local n, e, len = tonumber(ARGV[3]), tonumber(ARGV[4]), #ARGV[1]
local first = e + 2 * n + 1 -- the first stamp
if e == 1 then
  local v = redis.pcall('GET', KEYS[1])
  if type(v) == 'string' and #v >= (#KEYS - first + 1) * len then
    local valid = true
    for i = first, #KEYS do
      local at = (i - first) * len
      if redis.pcall('GET', KEYS[i]) ~= string.sub(v, at + 1, at + len) then
        valid = false
        break
      end
    end
    if valid then
      return {1, v}
    end
  end
end
local pos = 5 + n
for i = 1, n do
  local set, count = KEYS[e + i], tonumber(ARGV[4 + i])
  local t = kind(set)
  if t ~= 'set' and t ~= 'none' then
    redis.call('DEL', set)
    t = 'none'
  end
  for j = 1, count do
    redis.call('SADD', set, ARGV[pos])
    pos = pos + 1
  end
  redis.call('EXPIRE', set, ARGV[2])
  if t == 'none' then
    redis.call('DEL', KEYS[e + n + i])
  end
end
local tokens = {}
for i = first, #KEYS do
  -- A key of another type answers GET with an error: taken as missing.
  local s = redis.pcall('GET', KEYS[i])
  if type(s) ~= 'string' or #s ~= len then
    s = false
  end
  if not s then
    s = ARGV[1]
    redis.call('SET', KEYS[i], s, 'EX', ARGV[2])
  end
  tokens[#tokens + 1] = s
end
return {0, table.concat(tokens)}
