import { createHash } from 'node:crypto';
import { VERSION_TTL_MS } from './options.js';

/**
 * The Lua scripts that change a key's sessions. Each runs atomically on the one Redis (or Cluster
 * slot) that holds the key's hash and channels, so the per-key limit and the presence versions need
 * no lock, and a change and its announcement cannot be seen apart. Versions come from Redis's clock
 * (µs) and never go back: `max(last + 1, now)`, so a hash that expired and came back still orders.
 */

/** The version of a change: one more than the last, or Redis's clock in µs if that is later. */
const NEXT_VERSION = `
local t = redis.call('TIME')
local v = math.max((tonumber(redis.call('HGET', h, 'v')) or 0) + 1, tonumber(t[1]) * 1000000 + tonumber(t[2]))
local vs = string.format('%.0f', v)`;

/**
 * KEYS: the key's hash. ARGV: session id, node id, authenticated at (ms), the per-key limit, the
 * delivery channel, the presence channel. Registers the session and tells the key's other nodes on
 * the delivery channel (`{"v","j":id,"n":node}`); when the key was offline, announces it online;
 * beyond the limit, removes the oldest sessions and tells their nodes to close them
 * (`{"v","x":[[id,node]…]}`). Answers JSON: `{"v", "on": 1 if it went online, "x": replaced
 * [id,node] pairs, "s": every session now as [id,node]}`.
 */
const REGISTER = `
local h = KEYS[1]
${NEXT_VERSION}
local before = redis.call('HLEN', h) - redis.call('HEXISTS', h, 'v')
local existed = redis.call('HEXISTS', h, ARGV[1])
redis.call('HSET', h, ARGV[1], ARGV[2] .. '|' .. ARGV[3], 'v', vs)
redis.call('PERSIST', h)
local reply = { v = vs, on = 0, x = {}, s = {} }
if existed == 0 then
  redis.call('SPUBLISH', ARGV[5], cjson.encode({ v = vs, j = ARGV[1], n = ARGV[2] }))
end
if before == 0 then
  reply.on = 1
  redis.call('SPUBLISH', ARGV[6], '{"v":' .. vs .. ',"o":1}')
end
local all = redis.call('HGETALL', h)
local list = {}
for i = 1, #all, 2 do
  if all[i] ~= 'v' then
    local bar = string.find(all[i + 1], '|', 1, true)
    list[#list + 1] = { id = all[i], node = string.sub(all[i + 1], 1, bar - 1), at = tonumber(string.sub(all[i + 1], bar + 1)) }
  end
end
local max = tonumber(ARGV[4])
if #list > max then
  table.sort(list, function(a, b) if a.at ~= b.at then return a.at < b.at end return a.id < b.id end)
  for i = 1, #list - max do
    redis.call('HDEL', h, list[i].id)
    reply.x[#reply.x + 1] = { list[i].id, list[i].node }
  end
  redis.call('SPUBLISH', ARGV[5], cjson.encode({ v = vs, x = reply.x }))
  for i = #list - max + 1, #list do reply.s[#reply.s + 1] = { list[i].id, list[i].node } end
else
  for i = 1, #list do reply.s[#reply.s + 1] = { list[i].id, list[i].node } end
end
return cjson.encode(reply)`;

/**
 * KEYS: the key's hash. ARGV: session id, the node it must be on (`''`: any), the delivery channel,
 * the presence channel, how long an emptied hash keeps its version (ms). Removes the session and
 * tells the key's other nodes (`{"v","l":id}`); when it was the key's last, announces the key
 * offline. Answers `{version, wentOffline}`, `{'0', 0}` when there was no such session.
 */
const UNREGISTER = `
local h = KEYS[1]
local current = redis.call('HGET', h, ARGV[1])
if not current or (ARGV[2] ~= '' and string.sub(current, 1, #ARGV[2] + 1) ~= ARGV[2] .. '|') then return {'0', 0} end
${NEXT_VERSION}
redis.call('HDEL', h, ARGV[1])
redis.call('HSET', h, 'v', vs)
redis.call('SPUBLISH', ARGV[3], cjson.encode({ v = vs, l = ARGV[1] }))
if redis.call('HLEN', h) == 1 then
  redis.call('PEXPIRE', h, ARGV[5])
  redis.call('SPUBLISH', ARGV[4], '{"v":' .. vs .. ',"o":0}')
  return {vs, 1}
end
return {vs, 0}`;

interface Parser {
  pushKey(key: string): unknown;
  push(...args: string[]): unknown;
}

function script(source: string) {
  return {
    NUMBER_OF_KEYS: 1,
    SCRIPT: source,
    SHA1: createHash('sha1').update(source).digest('hex'),
    parseCommand(parser: Parser, key: string, args: readonly string[]) {
      parser.pushKey(key);
      parser.push(...args);
    },
    transformReply: (reply: unknown) => reply,
  };
}

/** The scripts, as node-redis's `scripts` option takes them (EVALSHA, loaded on a NOSCRIPT). */
export const CLUSTER_SCRIPTS = { register: script(REGISTER), unregister: script(UNREGISTER) };

/** What `unregister` answers: the version (a string) and 1 when the key went offline. */
export type UnregisterReply = [string, number];

/** What `register` answers, parsed. Versions are strings in Lua (µs do not fit its number format) and numbers here. */
export interface RegisterReply {
  v: string;
  on: 0 | 1;
  /** Sessions the limit removed, as [session id, node id]. An empty list comes as `{}` (cjson). */
  x: [string, string][] | Record<string, never>;
  /** Every session of the key now, as [session id, node id]. */
  s: [string, string][] | Record<string, never>;
}

interface KeyNames {
  sessions(key: string): string;
  delivery(key: string): string;
  presence(key: string): string;
}

/** The hash and ARGV of a REGISTER call: every caller builds them here, in the order the script reads. */
export function registerCall(
  names: KeyNames,
  key: string,
  session: { id: string; node: string; at: number; maxPerKey: number },
): [string, string[]] {
  return [
    names.sessions(key),
    [
      session.id,
      session.node,
      String(session.at),
      String(session.maxPerKey),
      names.delivery(key),
      names.presence(key),
    ],
  ];
}

/** The hash and ARGV of an UNREGISTER call (`node` `''`: whichever node the session is on). */
export function unregisterCall(names: KeyNames, key: string, id: string, node: string): [string, string[]] {
  return [names.sessions(key), [id, node, names.delivery(key), names.presence(key), String(VERSION_TTL_MS)]];
}

/**
 * The nodes holding the sessions of a key's hash (as REGISTER writes it: session id → `NODE|AT`, and
 * `v`), leaving out `except`'s own.
 */
export function sessionNodes(hash: Record<string, string>, except?: string): string[] {
  const nodes: string[] = [];
  for (const [id, value] of Object.entries(hash)) {
    if (id === 'v') continue;
    const node = value.slice(0, value.indexOf('|'));
    if (node !== except) nodes.push(node);
  }
  return nodes;
}
