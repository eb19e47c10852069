-- KEYS: stamps to delete. Every entry that recorded one of them becomes invalid.
-- With ARGV[1], KEYS[1] is the schema stamp and ARGV[1] the token it held
-- when the writer's catalog was read: the reply is 0 when it holds another
-- now (the writer planned with an old catalog and must invalidate the whole
-- database), else 1. It is read before anything is deleted.
-- Lua's unpack is bounded by the C stack (about 8,000 values on Redis' Lua
-- 5.1), so keys are deleted in chunks: any number of KEYS works.
local unpack = unpack or table.unpack -- Lua 5.1 (Redis) or 5.4 (Dragonfly)
local first, current = 1, 1
if #ARGV > 0 then
  first = 2
  if redis.call('TYPE', KEYS[1]).ok ~= 'string' or redis.call('GET', KEYS[1]) ~= ARGV[1] then
    current = 0
  end
end
for i = first, #KEYS, 1000 do
  redis.call('DEL', unpack(KEYS, i, math.min(i + 999, #KEYS)))
end
return current
