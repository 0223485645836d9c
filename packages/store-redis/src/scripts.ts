/**
 * The Lua scripts of RedisStore. All but the two rotate scripts touch one key
 * only, so each call hashes to one slot and runs unchanged on Redis Cluster.
 * ROTATE_LUA and ROTATE_CAS_LUA take the old and the new session key: they run
 * on a single node (or Sentinel) only; on a Cluster `rotate` swaps the old key
 * for a rotated mark (CAS_LUA) and then writes the new key instead, each a
 * one-key call.
 *
 * A rotated mark (`ROTATED_MARK` of @sess/core: any JSON object with the own
 * key "sess:rotated") is what `rotate` leaves under the old id for
 * min(60 s, ttl): every script reads it as absent, and UPDATE_LUA and ROTATE_LUA
 * report it (moved = 1) so an overlapping update of the old id learns the
 * session moved rather than was destroyed.
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

-- Whether a stored text that is no record is a rotated mark: a JSON object
-- with the member "sess:rotated" (written by JSON.stringify or these scripts,
-- so the key is never escaped).
local function is_mark(raw)
  if not raw then return false end
  local ok, m = pcall(parse_object, raw)
  return ok and m.seen['"sess:rotated"'] == true
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
 * The change applied to a stored record, shared by `update` and `rotate`: one
 * function that mirrors `applyChange` of @sess/core step by step.
 * `apply(rec, change)`: rec the stored record's members (read_record) or nil;
 * change the change's members (fields). Returns the new record's JSON, the
 * consumed flash (JSON), the consumed tokens (JSON), the stored record's user
 * (JSON text or nil) and the new record's user (JSON text or nil).
 */
const APPLY_LUA = `${JSON_LUA}
local function list(raw)
  if raw == nil or raw == 'null' then return {} end
  return parse_array(raw)
end
local function object(raw)
  if raw == nil or raw == 'null' then return new_map() end
  return parse_object(raw)
end

local function apply(rec, change)
  local data, flash, tokens, created, last, user, meta
  local old_user = rec and rec.user
  if old_user == 'null' then old_user = nil end
  if rec and change.reset ~= 'true' then
    data = parse_object(rec.data)
    flash = parse_object(rec.flash)
    tokens = parse_array(rec.tokens)
    created, last, user, meta = rec.createdAt, rec.lastSeen, rec.user, rec.meta
  else
    -- absent, or reset: an empty record created now
    data, flash, tokens = new_map(), new_map(), {}
    created, last = change.lastSeen, change.lastSeen
  end
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
    -- a null amount adds 0, as applyChange does with a non-number
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

  -- the member order of serialise() in redis-store.ts
  local out = {}
  if user ~= nil then out[#out + 1] = '"user":' .. user end
  if meta ~= nil then out[#out + 1] = '"meta":' .. meta end
  out[#out + 1] = '"createdAt":' .. created
  out[#out + 1] = '"lastSeen":' .. last
  out[#out + 1] = '"tokens":[' .. concat(tokens, ',') .. ']'
  out[#out + 1] = '"flash":' .. encode_map(flash)
  out[#out + 1] = '"data":' .. encode_map(data)
  return '{' .. concat(out, ',') .. '}', encode_map(consumed_flash), '[' .. concat(consumed_tokens, ',') .. ']', old_user, user
end
`;

/**
 * `update`: KEYS[1] the session key; ARGV[1] the change as JSON; ARGV[2] the ttl
 * in ms (0 or less: the result is computed and the key deleted). Returns
 * { existed, written, consumedFlash JSON, old user JSON or '', new user JSON or '',
 * consumedTokens JSON, the record's JSON as stored ('' when nothing was written),
 * moved }. Anything that is not a session record (absent, corrupt, a rotated
 * mark) reads as absent: with ifExists nothing is written, and moved is 1 when
 * the key holds a rotated mark; without ifExists a new record replaces it.
 */
export const UPDATE_LUA = `${APPLY_LUA}
local change = fields(ARGV[1])
local ttl = tonumber(ARGV[2])
local raw = redis.call('GET', KEYS[1])
local rec = read_record(raw)
if not rec and change.ifExists == 'true' then return { 0, 0, '{}', '', '', '[]', '', is_mark(raw) and 1 or 0 } end
local json, consumed_flash, consumed_tokens, old_user, user = apply(rec, change)
if ttl > 0 then
  redis.call('SET', KEYS[1], json, 'PX', ttl)
else
  redis.call('DEL', KEYS[1])
end
return { rec and 1 or 0, 1, consumed_flash, old_user or '', user or '', consumed_tokens, json, 0 }
`;

/**
 * `rotate` on one node, the whole regeneration in one script: KEYS[1] the old
 * session key, KEYS[2] the new one (both keys in one script: never used on a
 * Cluster, where they hash to different slots); ARGV[1] the change as JSON
 * (ifExists implied); ARGV[2] the ttl in ms; ARGV[3] the rotated mark's text;
 * ARGV[4] the mark's ttl in ms (0 or less: the old key is deleted instead).
 * Reads the old record; absent or unreadable: writes nothing, returns existed 0
 * (and moved 1 when the old key holds a rotated mark: rotated already). A taken
 * new key: writes nothing, returns written -1. Else writes the changed record
 * under the new key, replaces the old one with the mark and returns what
 * UPDATE_LUA returns.
 */
export const ROTATE_LUA = `${APPLY_LUA}
local change = fields(ARGV[1])
local ttl = tonumber(ARGV[2])
local mark_ttl = tonumber(ARGV[4])
local raw = redis.call('GET', KEYS[1])
local rec = read_record(raw)
if not rec then return { 0, 0, '{}', '', '', '[]', '', is_mark(raw) and 1 or 0 } end
if redis.call('EXISTS', KEYS[2]) == 1 then return { 1, -1, '{}', '', '', '[]', '', 0 } end
local json, consumed_flash, consumed_tokens, old_user, user = apply(rec, change)
if ttl > 0 then redis.call('SET', KEYS[2], json, 'PX', ttl) end
if mark_ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', mark_ttl)
else
  redis.call('DEL', KEYS[1])
end
return { 1, 1, consumed_flash, old_user or '', user or '', consumed_tokens, json, 0 }
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
 * Compare-and-set: KEYS[1] a session key; when it still holds ARGV[1] (the text
 * the caller read: the version), replace it with ARGV[2] expiring after ARGV[3] ms.
 * Returns 1 when swapped, 0 when the key holds anything else (or nothing).
 * The fast path of `update` (ARGV[2] the record the caller computed with
 * applyChange: a string compare instead of the JSON walk of UPDATE_LUA, about a
 * tenth of Redis's time; on 0 the caller runs UPDATE_LUA), and on a Cluster the
 * linearisation point of `rotate` (ARGV[2] a rotated mark with a nonce) and its
 * undo when the new id turns out to be taken.
 */
export const CAS_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
`;

/**
 * Compare-and-set of `rotate` on one node: KEYS[1] the old session key, KEYS[2]
 * the new one; ARGV[1] the text the caller read under the old key; ARGV[2] the
 * record the caller computed with applyChange; ARGV[3] the ttl in ms (> 0);
 * ARGV[4] the rotated mark's text; ARGV[5] the mark's ttl in ms (> 0).
 * When the old key still holds ARGV[1] and the new key is free: writes the new
 * key, replaces the old one with the mark, returns 1. Returns 0 when the old
 * record changed (the caller then runs ROTATE_LUA), -1 when the new key is taken.
 */
export const ROTATE_CAS_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
return 1
`;

/**
 * Delete-if-equal: KEYS[1] a key; ARGV[1] a text. Deletes the key only while it
 * still holds that text (a Cluster rotation's own mark, not a record written
 * since): used by a rotation with a ttl of 0 or less, which leaves no mark.
 * Returns 1 when deleted.
 */
export const DEL_IF_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
