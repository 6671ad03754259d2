-- wrk script for the scimd benchmark (bench/run.py drives it; see bench/README.md).
--
-- One script, one workload per run, chosen by the first script argument:
--
--   wrk -t T -c C -d D -s bench/wrk/scim.lua http://127.0.0.1:PORT -- \
--       MODE TOKEN PREFIX DATAFILE EXTRA NONCE FLAGS
--
--   MODE      probe | filter | filter_attr | get | list | create | patch_user | patch_group
--   TOKEN     bearer token ("-" for none)
--   PREFIX    SCIM base path, e.g. /scim/v2 (scimd) or /v2 (scim2-server)
--   DATAFILE  users file, one "id<TAB>userName" a line (get, filter, patch_user),
--             or candidate member ids, one a line (patch_group); "-" when unused
--   EXTRA     list: number of users (startIndex range); patch_group: the group id;
--             filter_attr: the attribute path compared (DATAFILE then holds "id<TAB>value")
--   NONCE     unique per run, so POSTed userNames never collide across runs
--   FLAGS     "remove_by_filter": remove a member with path members[value eq "id"] (the form
--             scim2-server accepts) instead of Entra's value list; "-" otherwise
--
-- Every request is generated in request(); response() counts status codes per thread and
-- done() prints one line "BENCH_RESULT {json}" with wrk's latency percentiles (µs) and the
-- status counts of all threads, which run.py parses.

local ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
local PATCHOP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

local threads = {}

function setup(thread)
   threads[#threads + 1] = thread
   thread:set("tid", #threads)
end

-- Per-thread state (each wrk thread has its own Lua state).
local mode, token, prefix, datafile, extra, nonce, flags
local ids, names, nusers = {}, {}, 0
counts = {} -- global: done() reads it from each thread with thread:get
local seq = 0
local pending_remove = nil
local get_headers, body_headers

local function read_lines(path, with_names)
   local f = assert(io.open(path, "r"), "cannot open " .. path)
   for line in f:lines() do
      if with_names then
         local id, name = line:match("^([^\t]+)\t(.+)$")
         if id then
            ids[#ids + 1] = id
            names[#names + 1] = name
         end
      elseif #line > 0 then
         ids[#ids + 1] = line
      end
   end
   f:close()
end

local function urlencode(s)
   return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function guid()
   return string.format("%08x-%04x-4%03x-%04x-%06x%06x",
      math.random(0, 0x7fffffff), math.random(0, 0xffff), math.random(0, 0xfff),
      math.random(0x8000, 0xbfff), math.random(0, 0xffffff), math.random(0, 0xffffff))
end

function init(args)
   mode, token, prefix, datafile, extra, nonce, flags =
      args[1], args[2], args[3], args[4], args[5], args[6], args[7] or "-"
   math.randomseed(os.time() + 7919 * (tid or 0) + (tonumber(nonce:sub(1, 6), 16) or 0))
   get_headers = { ["Accept"] = "application/scim+json" }
   if token ~= "-" then get_headers["Authorization"] = "Bearer " .. token end
   body_headers = { ["Content-Type"] = "application/scim+json" }
   for k, v in pairs(get_headers) do body_headers[k] = v end
   if mode == "filter" or mode == "filter_attr" or mode == "get" or mode == "patch_user" then
      read_lines(datafile, true)
   elseif mode == "patch_group" then
      read_lines(datafile, false)
   end
   nusers = tonumber(extra) or #ids
end

local function get(path)
   return wrk.format("GET", path, get_headers, nil)
end

local function send(method, path, body)
   return wrk.format(method, path, body_headers, body)
end

local GIVEN = { "Adele", "Alex", "Diego", "Grady", "Henrietta", "Isaiah", "Johanna", "Joni",
                "Lee", "Lidia", "Lynne", "Megan", "Miriam", "Nestor", "Patti", "Pradeep" }
local FAMILY = { "Vance", "Wilber", "Siciliani", "Archie", "Mueller", "Langer", "Lorenz",
                 "Sherman", "Gu", "Holloway", "Robbins", "Bowen", "Graham", "Wilke", "Fernandez" }
local TITLES = { "Engineer", "Senior Engineer", "Accountant", "Sales Manager", "Designer",
                 "Support Specialist", "Product Manager", "Analyst" }
local DEPTS = { "Engineering", "Finance", "Sales", "Marketing", "Operations", "Support" }

local function user_body()
   seq = seq + 1
   local g = GIVEN[math.random(#GIVEN)]
   local f = FAMILY[math.random(#FAMILY)]
   local upn = string.format("%s.%s.w5-%s-%d-%d@contoso.example", g:lower(), f:lower(), nonce, tid, seq)
   local n = math.random(100000, 999999)
   return string.format(
      '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","%s"],' ..
      '"externalId":"%s","userName":"%s","active":true,"displayName":"%s %s",' ..
      '"title":"%s","userType":"employee","preferredLanguage":"en-US",' ..
      '"emails":[{"primary":true,"type":"work","value":"%s"}],' ..
      '"meta":{"resourceType":"User"},' ..
      '"name":{"formatted":"%s %s","familyName":"%s","givenName":"%s"},' ..
      '"phoneNumbers":[{"type":"work","value":"+1 425 555 %04d"},{"type":"mobile","value":"+1 206 555 %04d"}],' ..
      '"addresses":[{"type":"work","streetAddress":"%d Main St","locality":"Redmond","region":"WA",' ..
      '"postalCode":"98052","country":"US","primary":true}],' ..
      '"roles":[],' ..
      '"%s":{"employeeNumber":"%d","department":"%s","organization":"Contoso","division":"Cloud",' ..
      '"costCenter":"CC-%d"}}',
      ENTERPRISE, guid(), upn, g, f, TITLES[math.random(#TITLES)], upn, g, f, f, g,
      n % 10000, (n * 7) % 10000, n % 9000 + 1, ENTERPRISE, n, DEPTS[math.random(#DEPTS)], n % 100)
end

function request()
   if mode == "probe" then
      -- Entra's Test Connection: a random GUID as userName, expects 200 and no hit.
      return get(prefix .. "/Users?filter=" .. urlencode('userName eq "' .. guid() .. '"'))
   elseif mode == "filter" then
      local i = math.random(#names)
      return get(prefix .. "/Users?filter=" .. urlencode('userName eq "' .. names[i] .. '"'))
   elseif mode == "filter_attr" then
      local i = math.random(#names)
      return get(prefix .. "/Users?filter=" .. urlencode(extra .. ' eq "' .. names[i] .. '"'))
   elseif mode == "get" then
      return get(prefix .. "/Users/" .. ids[math.random(#ids)])
   elseif mode == "list" then
      local last = nusers - 99
      if last < 1 then last = 1 end
      return get(prefix .. "/Users?startIndex=" .. math.random(1, last) .. "&count=100")
   elseif mode == "create" then
      return send("POST", prefix .. "/Users", user_body())
   elseif mode == "patch_user" then
      local i = math.random(#ids)
      seq = seq + 1
      local body = string.format(
         '{"schemas":["%s"],"Operations":[' ..
         '{"op":"Replace","path":"title","value":"%s %d"},' ..
         '{"op":"Replace","path":"emails[type eq \\"work\\"].value","value":"w6-%s-%d-%d@contoso.example"}]}',
         PATCHOP, TITLES[math.random(#TITLES)], seq, nonce, tid, seq)
      return send("PATCH", prefix .. "/Users/" .. ids[i], body)
   elseif mode == "patch_group" then
      -- Alternate: add one member (a user outside the group), then remove that same member,
      -- in Entra's shapes ("Add"/"Remove" with a value list).
      local op, member
      if pending_remove then
         op, member, pending_remove = "Remove", pending_remove, nil
      else
         member = ids[math.random(#ids)]
         op, pending_remove = "Add", member
      end
      local body
      if op == "Remove" and flags == "remove_by_filter" then
         body = string.format(
            '{"schemas":["%s"],"Operations":[{"op":"Remove","path":"members[value eq \\"%s\\"]"}]}',
            PATCHOP, member)
      else
         body = string.format(
            '{"schemas":["%s"],"Operations":[{"op":"%s","path":"members","value":[{"value":"%s"}]}]}',
            PATCHOP, op, member)
      end
      return send("PATCH", prefix .. "/Groups/" .. extra, body)
   end
   error("unknown mode " .. tostring(mode))
end

function response(status, headers, body)
   counts[status] = (counts[status] or 0) + 1
end

local function json_counts(all)
   local parts = {}
   for k, v in pairs(all) do parts[#parts + 1] = string.format('"%d":%d', k, v) end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
   local all = {}
   for _, t in ipairs(threads) do
      local c = t:get("counts") or {}
      for k, v in pairs(c) do all[k] = (all[k] or 0) + v end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f,' ..
      '"connect":%d,"read":%d,"write":%d,"timeout":%d,"status_errors":%d,"counts":%s}\n',
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max, latency.mean,
      e.connect, e.read, e.write, e.timeout, e.status, json_counts(all)))
end
