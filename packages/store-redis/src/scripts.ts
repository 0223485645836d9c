/**
 * The Lua scripts of RedisStore. Each touches one key only, so every script call
 * hashes to one slot and runs unchanged on Redis Cluster.
 *
 * Why a hand-written JSON scanner instead of cjson.decode + cjson.encode: cjson
 * prints numbers with 14 significant digits (a double needs 17), and it decodes
 * `{}` and `[]` to the same empty table, so a re-encoded record would not be the
 * record JavaScript wrote (and it refuses lone surrogates such as "\ud800").
 * The scanner splits the record and the change into members and keeps every key
 * and value as its original JSON text; only the numbers an increment computes
 * are printed here. cjson is not used at all.
 */

/** Shared Lua: the JSON scanner and the record reader. */
const JSON_LUA = `
local find, byte, sub, concat = string.find, string.byte, string.sub, table.concat

local function ws(s, i)
  return find(s, '[^ \\t\\r\\n]', i) or (#s + 1)
end

-- Plain find of the next quote (memchr speed, where a pattern class goes byte by
-- byte), then an odd run of backslashes before it means it is escaped.
local function skip_string(s, i)
  local j = i + 1
  while true do
    local k = find(s, '"', j, true)
    if not k then error('json: unterminated string') end
    local b = k - 1
    while byte(s, b) == 92 do b = b - 1 end
    if (k - 1 - b) % 2 == 0 then return k + 1 end
    j = k + 1
  end
end

local function skip_value(s, i)
  local c = byte(s, i)
  if c == 34 then return skip_string(s, i) end
  if c == 123 or c == 91 then
    local depth, j = 0, i
    while true do
      local k = find(s, '[%[%]{}"]', j)
      if not k then error('json: unterminated value') end
      local b = byte(s, k)
      if b == 34 then
        j = skip_string(s, k)
      elseif b == 123 or b == 91 then
        depth = depth + 1
        j = k + 1
      else
        depth = depth - 1
        j = k + 1
        if depth == 0 then return j end
      end
    end
  end
  local k = find(s, '[,}%] \\t\\r\\n]', i) or (#s + 1)
  if k == i then error('json: value expected') end
  return k
end

-- An object as an ordered map: keys (JSON string texts) in first-seen order,
-- val[k] the value as JSON text (nil: removed). Keys stay JSON text: every
-- writer is JSON.stringify (or this script, which copies its text), which
-- escapes a given string one way only, so equal texts are equal strings.
local function new_map()
  return { keys = {}, seen = {}, val = {} }
end

local function map_set(m, k, v)
  if not m.seen[k] then
    m.seen[k] = true
    m.keys[#m.keys + 1] = k
  end
  m.val[k] = v
end

local function parse_object(s)
  local m = new_map()
  local i = ws(s, 1)
  if byte(s, i) ~= 123 then error('json: object expected') end
  i = ws(s, i + 1)
  if byte(s, i) == 125 then return m end
  while true do
    if byte(s, i) ~= 34 then error('json: key expected') end
    local e = skip_string(s, i)
    local rk = sub(s, i, e - 1)
    i = ws(s, e)
    if byte(s, i) ~= 58 then error('json: colon expected') end
    i = ws(s, i + 1)
    local ve = skip_value(s, i)
    map_set(m, rk, sub(s, i, ve - 1))
    i = ws(s, ve)
    local c = byte(s, i)
    if c == 125 then return m end
    if c ~= 44 then error('json: comma expected') end
    i = ws(s, i + 1)
  end
end

-- A top-level object (record, change) by plain field name: its field names
-- are ASCII identifiers, never escaped.
local function fields(s)
  local m = parse_object(s)
  local t = {}
  for _, k in ipairs(m.keys) do t[sub(k, 2, -2)] = m.val[k] end
  return t
end

-- An array as a list of its items' JSON texts.
local function parse_array(s)
  local items = {}
  local i = ws(s, 1)
  if byte(s, i) ~= 91 then error('json: array expected') end
  i = ws(s, i + 1)
  if byte(s, i) == 93 then return items end
  while true do
    local ve = skip_value(s, i)
    items[#items + 1] = sub(s, i, ve - 1)
    i = ws(s, ve)
    local c = byte(s, i)
    if c == 93 then return items end
    if c ~= 44 then error('json: comma expected') end
    i = ws(s, i + 1)
  end
end

local function encode_map(m)
  local parts = {}
  for _, k in ipairs(m.keys) do
    local v = m.val[k]
    if v ~= nil then parts[#parts + 1] = k .. ':' .. v end
  end
  return '{' .. concat(parts, ',') .. '}'
end

local function is_number(raw)
  if raw == nil then return false end
  local b = byte(raw, 1)
  return b == 45 or (b ~= nil and b >= 48 and b <= 57)
end

local function finite(raw)
  if not is_number(raw) then return nil end
  local n = tonumber(raw)
  if n == nil or n ~= n or n == math.huge or n == -math.huge then return nil end
  return n
end

-- Shortest text that reads back as the same double (what JSON.stringify prints
-- may differ in form, never in value).
local function format_number(n)
  if n ~= n or n == math.huge or n == -math.huge then return 'null' end
  if n == 0 then return '0' end
  if n == math.floor(n) and math.abs(n) < 1e15 then return string.format('%d', n) end
  for p = 15, 17 do
    local s = string.format('%.' .. p .. 'g', n)
    if tonumber(s) == n then return s end
  end
  return string.format('%.17g', n)
end

local function starts(raw, b)
  return raw ~= nil and byte(raw, ws(raw, 1)) == b
end

-- The stored record split into members, or nil when absent or not a session
-- record (corrupt data reads as absent, as in every store).
local function read_record(raw)
  if not raw then return nil end
  local ok, v = pcall(fields, raw)
  if not ok then return nil end
  if not (starts(v.data, 123) and starts(v.flash, 123) and starts(v.tokens, 91)) then return nil end
  if not (is_number(v.createdAt) and tonumber(v.createdAt) and is_number(v.lastSeen) and tonumber(v.lastSeen)) then return nil end
  return v
end
`;

/**
 * `update`: KEYS[1] the session key; ARGV[1] the change as JSON; ARGV[2] the ttl
 * in ms. Mirrors `applyChange` of @sess/core step by step. Returns
 * { existed, written, consumedFlash JSON, old user JSON or '', new user JSON or '', consumedTokens JSON }.
 */
export const UPDATE_LUA = `${JSON_LUA}
local change = fields(ARGV[1])
local ttl = tonumber(ARGV[2])
local rec = read_record(redis.call('GET', KEYS[1]))
local existed = rec ~= nil
if not existed and change.ifExists == 'true' then return { 0, 0, '{}', '', '', '[]' } end

local function list(raw)
  if raw == nil or raw == 'null' then return {} end
  return parse_array(raw)
end
local function object(raw)
  if raw == nil or raw == 'null' then return new_map() end
  return parse_object(raw)
end

local data, flash, tokens, created, last, user, meta
if existed then
  data = parse_object(rec.data)
  flash = parse_object(rec.flash)
  tokens = parse_array(rec.tokens)
  created, last, user, meta = rec.createdAt, rec.lastSeen, rec.user, rec.meta
else
  data, flash, tokens = new_map(), new_map(), {}
  created, last = change.lastSeen, change.lastSeen
end
local old_user = user
if change.clear == 'true' then
  data, flash = new_map(), new_map()
end

for _, k in ipairs(list(change.remove)) do
  data.val[k] = nil
  flash.val[k] = nil
end

local put = object(change.put)
for _, k in ipairs(put.keys) do map_set(data, k, put.val[k]) end

local inc = object(change.increment)
for _, k in ipairs(inc.keys) do
  local start = finite(data.val[k]) or 0
  -- a null amount adds 0, as \`start + null\` does in JavaScript
  map_set(data, k, format_number(start + (finite(inc.val[k]) or 0)))
end

local consumed_flash = new_map()
for _, k in ipairs(list(change.consumeFlash)) do
  local v = flash.val[k]
  if v ~= nil then
    map_set(consumed_flash, k, v)
    flash.val[k] = nil
  end
end

local fl = object(change.flash)
for _, k in ipairs(fl.keys) do map_set(flash, k, fl.val[k]) end

local consumed_tokens = {}
local wanted_list = list(change.consumeTokens)
if #wanted_list > 0 then
  local wanted = {}
  for _, t in ipairs(wanted_list) do wanted[t] = true end
  local kept = {}
  for _, t in ipairs(tokens) do
    if wanted[t] then
      wanted[t] = nil -- a token listed twice in the ring is consumed once
      consumed_tokens[#consumed_tokens + 1] = t
    else
      kept[#kept + 1] = t
    end
  end
  tokens = kept
end
local added = list(change.addTokens)
if #added > 0 then
  for _, t in ipairs(added) do tokens[#tokens + 1] = t end
  local ring = {}
  for i = math.max(1, #tokens - 19), #tokens do ring[#ring + 1] = tokens[i] end
  tokens = ring
end

if change.user ~= nil then user = change.user end
if user == 'null' then user = nil end
if change.meta ~= nil then meta = change.meta end
if meta == 'null' then meta = '{}' end
if tonumber(change.lastSeen) > tonumber(last) then last = change.lastSeen end

-- user first: the touch script reads it without scanning the data.
local out = {}
if user ~= nil then out[#out + 1] = '"user":' .. user end
if meta ~= nil then out[#out + 1] = '"meta":' .. meta end
out[#out + 1] = '"createdAt":' .. created
out[#out + 1] = '"lastSeen":' .. last
out[#out + 1] = '"tokens":[' .. concat(tokens, ',') .. ']'
out[#out + 1] = '"flash":' .. encode_map(flash)
out[#out + 1] = '"data":' .. encode_map(data)
local json = '{' .. concat(out, ',') .. '}'
if ttl > 0 then
  redis.call('SET', KEYS[1], json, 'PX', ttl)
else
  redis.call('DEL', KEYS[1])
end

return { existed and 1 or 0, 1, encode_map(consumed_flash), old_user or '', user or '', '[' .. concat(consumed_tokens, ',') .. ']' }
`;

/**
 * `touch`: KEYS[1] the session key; ARGV[1] the ttl in ms. PEXPIRE only an
 * existing key; returns the record's user as JSON ('' when none), false when absent,
 * so the caller can extend the user index as far as the session.
 */
export const TOUCH_LUA = `${JSON_LUA}
if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 0 then return false end
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
-- Records this store writes put \`user\` first (or start with meta/createdAt when
-- there is none), so the data need not be scanned; anything else is parsed.
if sub(raw, 1, 8) == '{"user":' then
  local ok, e = pcall(skip_value, raw, 9)
  if ok then
    local user = sub(raw, 9, e - 1)
    if user == 'null' then return '' end
    return user
  end
  return ''
end
if sub(raw, 1, 8) == '{"meta":' or sub(raw, 1, 13) == '{"createdAt":' then return '' end
local ok, top = pcall(fields, raw)
if not ok or top.user == nil or top.user == 'null' then return '' end
return top.user
`;

/**
 * The user index: KEYS[1] the user's set; ARGV[1] a session id; ARGV[2] the
 * session's ttl in ms. Adds the id and extends the set's expiry to at least the
 * session's (never shortens it: the user's other sessions may live longer).
 */
export const INDEX_LUA = `
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
local left = redis.call('PTTL', KEYS[1])
if left < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`;

/**
 * Compare-and-set, the fast path of `update`: when the stored record is still
 * the text the caller read (ARGV[1]), replace it with the new record the caller
 * computed with applyChange (ARGV[2]). A string compare instead of the JSON walk
 * of UPDATE_LUA: Redis spends about a tenth of the time. Returns 1 when swapped,
 * 0 when the record changed (the caller then runs UPDATE_LUA).
 */
export const CAS_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
`;
