-- The programs suite's lua5.4 cell: table and string churn (records, string building, gsub,
-- sorting, a long-lived cache), deterministic (own LCG, sorted iteration); prints a checksum.
local rounds = tonumber(arg[1]) or 6
local state = 4242
local function rnd(n)
  state = (state * 1103515245 + 12345) % 2147483648
  return (state // 65536) % n
end
local syll = { "ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "va", "xe", "qu", "zo" }
local function word()
  local t = {}
  for i = 1, 2 + rnd(4) do t[i] = syll[1 + rnd(#syll)] end
  return table.concat(t)
end

local sum, cache, ncache = 0, {}, 0
for r = 1, rounds do
  local recs = {}
  for i = 1, 15000 do
    recs[i] = { id = i, name = word(), score = rnd(1000), tags = { word(), word() },
                text = string.format("%d:%s:%d", r, word(), rnd(100000)) }
  end
  table.sort(recs, function(a, b)
    if a.score ~= b.score then return a.score < b.score end
    return a.id < b.id
  end)
  local groups = {}
  for _, rec in ipairs(recs) do
    local g = groups[rec.name]
    if not g then g = { n = 0, parts = {} }; groups[rec.name] = g end
    g.n = g.n + 1
    g.parts[#g.parts + 1] = rec.text:gsub("[aeiou]", string.upper) .. rec.tags[1]
  end
  local names = {}
  for name in pairs(groups) do names[#names + 1] = name end
  table.sort(names)
  local out = {}
  for _, name in ipairs(names) do
    local g = groups[name]
    local head = table.concat(g.parts, ",", 1, math.min(#g.parts, 8))
    out[#out + 1] = name .. "=" .. g.n .. ":" .. head
  end
  local s = table.concat(out, "\n")
  for i = 1, #s, 61 do sum = (sum * 31 + s:byte(i)) % 4294967296 end
  -- a cache that keeps growing and is pruned: long-lived objects mixed with the churn
  for i = 1, #names, 3 do
    if not cache[names[i]] then ncache = ncache + 1 end
    cache[names[i]] = { r, s:sub(i, i + 40) }
  end
  if ncache > 8000 then
    local keys = {}
    for k in pairs(cache) do keys[#keys + 1] = k end
    table.sort(keys)
    for i = 1, #keys, 2 do cache[keys[i]] = nil; ncache = ncache - 1 end
  end
end
print(string.format("rounds %d cache %d checksum %08x", rounds, ncache, sum))
