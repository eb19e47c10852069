-- KEYS[1..n]: schema stamps to check, n = ARGV[1]; KEYS[n+1..]: stamps to
-- delete. Every entry that recorded one of them becomes invalid.
-- ARGV[2..n+1]: the token each checked stamp held when the writer's catalog
-- was read. The reply is 0 when one holds another now (the writer planned
-- with an old catalog and must invalidate the whole database), else 1. They
-- are read before anything is deleted.
-- Lua's unpack is bounded by the C stack (about 8,000 values on Redis' Lua
-- 5.1), so keys are deleted in chunks: any number of KEYS works.
local unpack = unpack or table.unpack -- Lua 5.1 (Redis) or 5.4 (Dragonfly)
local n, current = tonumber(ARGV[1]), 1
for i = 1, n do
  if redis.call('TYPE', KEYS[i]).ok ~= 'string' or redis.call('GET', KEYS[i]) ~= ARGV[i + 1] then
    current = 0
  end
end
for i = n + 1, #KEYS, 1000 do
  redis.call('DEL', unpack(KEYS, i, math.min(i + 999, #KEYS)))
end
return current
