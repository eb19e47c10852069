-- KEYS[1..n]: keys to check, n = ARGV[1]; KEYS[n+1..]: stamps to delete.
-- Every entry that recorded one of them becomes invalid.
-- ARGV[2i], ARGV[2i+1] (i = 1..n): check i. With a size of -1, KEYS[i] is a
-- schema stamp that should hold the token ARGV[2i] (the writer's catalog was
-- read under it). With a size of 0 or more, KEYS[i] is a schemes set that
-- should have that many members (0: not exist), the marker ARGV[2i] among
-- them: the writer's copy of the set is current. With -2, the writer has no
-- copy. ARGV[2n+2]: a fresh marker (it starts with a zero byte, which no
-- scheme can), given to a set that has none.
-- The reply lists the checks that fail, read before anything is deleted:
-- {i} for a schema stamp, {i, 1, members...} for a schemes set (marker
-- included; none when the set does not exist), {i, 0} for a schemes set's
-- key that holds another type. A set is identified by its marker and size:
-- members are only ever added, and a set lost and made again has no old
-- marker.
-- Lua's unpack is bounded by the C stack (about 8,000 values on Redis' Lua
-- 5.1), so keys are deleted in chunks: any number of KEYS works.
local unpack = unpack or table.unpack -- Lua 5.1 (Redis) or 5.4 (Dragonfly)
local n, failed = tonumber(ARGV[1]), {}
local function schemes(i, k)
  local t = redis.call('TYPE', k).ok
  if t == 'none' then
    return {i, 1}
  elseif t ~= 'set' then
    return {i, 0}
  end
  local members = redis.call('SMEMBERS', k)
  local out = {i, 1}
  local marked = false
  for _, m in ipairs(members) do
    marked = marked or string.byte(m, 1) == 0
    out[#out + 1] = m
  end
  if not marked then
    redis.call('SADD', k, ARGV[2 * n + 2])
    out[#out + 1] = ARGV[2 * n + 2]
  end
  return out
end
for i = 1, n do
  local want, size = ARGV[2 * i], tonumber(ARGV[2 * i + 1])
  if size == -1 then
    if redis.pcall('GET', KEYS[i]) ~= want then
      failed[#failed + 1] = {i}
    end
  elseif size < 0 or redis.pcall('SCARD', KEYS[i]) ~= size or
      (size > 0 and redis.pcall('SISMEMBER', KEYS[i], want) ~= 1) then
    failed[#failed + 1] = schemes(i, KEYS[i])
  end
end
for i = n + 1, #KEYS, 1000 do
  redis.call('DEL', unpack(KEYS, i, math.min(i + 999, #KEYS)))
end
return failed
