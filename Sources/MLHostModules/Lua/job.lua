--- The job object every job body receives, and record handling with its audit trail. Loaded by the host into
--- each VM with the store natives it needs; scripts never see those natives directly.
local natives, json = ...

local handler_for = natives.handler_for
local commit_record = natives.commit_record
local mapping_get = natives.mapping_get
local cursor_get = natives.cursor_get
local cursor_set = natives.cursor_set
local enqueue = natives.enqueue
local now = natives.now

local type, tostring, setmetatable, getmetatable = type, tostring, setmetatable, getmetatable
local xpcall, pcall, error = xpcall, pcall, error
local lock, unlock = mlhost.lock, mlhost.unlock

---@class mlhost.Job
---@field name string
---@field id integer
---@field run_id string
---@field trigger string
---@field attempt integer
local Job = {}
Job.__index = Job

---@class mlhost.Record
---@field kind string
---@field key string
local Record = {}
Record.__index = Record

-- The error a handler raises with rec:reject(): caught by job:record, never a failure of the job.
local Reject = {}
Reject.__index = Reject

--- The record is parked as *rejected* (needs a human) with `reason`; a replay runs it again.
---@param reason string
function Record:reject(reason)
  error(setmetatable({ reason = tostring(reason), at = natives.where(2) }, Reject), 0)
end

local function outcome(rec, kind, system, id, details)
  if type(system) ~= "string" then
    error("bad argument #1 to '" .. kind .. "' (the target system's name expected)", 3)
  end
  rec.outcome, rec.system, rec.target_id_value, rec.details = kind, system, id ~= nil and tostring(id) or nil, details
  return id
end

--- The record was created in `system` as `id`; the host remembers the mapping for later runs.
---@param system string
---@param id string|integer
---@param details table? shown in the audit trail (a GL allocation)
---@return string|integer id
function Record:created(system, id, details) return outcome(self, "created", system, id, details) end

--- The record updated `id` in `system`.
---@param system string
---@param id string|integer
---@param details table? shown in the audit trail
function Record:updated(system, id, details) return outcome(self, "updated", system, id, details) end

--- Nothing needed writing (`id`: the target's existing id, if any).
---@param system string?
---@param id string|integer?
---@param details table? shown in the audit trail
function Record:unchanged(system, id, details) return outcome(self, "unchanged", system or "", id, details) end

--- The id this record got in `system` on an earlier run, or nil: check it before creating anything.
---@param system string
---@return string?
function Record:target_id(system)
  return mapping_get(self.kind .. ":" .. self.key, system)
end

-- A string error is a mistake in the script (structured errors come from the script's own checks and the system
-- clients): it is not retried on its own, and runs again after a reload.
local function traceback(err)
  if type(err) == "table" then return err end
  return { message = tostring(err), traceback = natives.traceback(tostring(err)), script = true }
end

-- Fills the audit row from how the handler ended. The error object comes from the script and may be anything.
local function classify(row, rec, ok, err)
  if ok then
    row.outcome = rec.outcome or "unchanged"
    row.target_system, row.target_id = rec.system, rec.target_id_value
    if rec.details ~= nil then
      -- The write has happened: details that cannot be encoded must not lose its mapping.
      local encoded, details = pcall(json.encode, rec.details)
      row.details = encoded and details or json.encode({ unencodable = tostring(details) })
    end
  elseif getmetatable(err) == Reject then
    row.outcome, row.error, row.error_at = "rejected", err.reason, err.at
  else
    row.error = tostring(err.message or err)
    row.outcome = err.retryable == false and "rejected" or "failed"
    row.retry_after = err.retry_after
    row.traceback = err.traceback
    if err.script == true then row.error_kind = "script" end
  end
end

--- Processes one record with the handler declared for `kind` and writes its audit row before returning.
--- A handler that raises leaves the record *failed* (retried on its own with backoff, its input kept) or, for an
--- error marked `retryable = false` or a `rec:reject`, *rejected* (waits for a replay): either way the job goes on.
---@param kind string the record type, e.g. "shopify.order"
---@param key string|integer the record's key in its source system
---@param input any the record, kept in the audit row for replay
---@return string outcome created, updated, unchanged, rejected or failed
---@return string? target_id
---@return string? error_kind "script" when the handler failed with a mistake in the script
function Job:record(kind, key, input, replay_of)
  if type(kind) ~= "string" then error("bad argument #1 to 'record' (a record kind expected)", 2) end
  if key == nil then error("bad argument #2 to 'record' (a record key expected)", 2) end
  key = tostring(key)
  local handler = handler_for(kind)
  local rec = setmetatable({ kind = kind, key = key, job = self }, Record)
  local snapshot = json.encode(input)
  local row = { kind = kind, key = key, input = snapshot, replay_of = replay_of }
  -- A webhook and a poll that meet on one record take turns, so they cannot both find "no invoice yet" and both
  -- create one. Nothing between lock and unlock raises; if the job is stopped there, the lock goes with its
  -- coroutine.
  local id = "mlhost.record\0" .. kind .. "\0" .. key
  lock(id)
  row.started_at = now()
  local ok, err = xpcall(handler, traceback, rec, input)
  local read, unreadable = pcall(classify, row, rec, ok, err)
  if not read then
    row.outcome, row.error = "failed", "the handler's error could not be read: " .. tostring(unreadable)
  end
  row.duration_ms = (now() - row.started_at) * 1000
  local committed, failure = pcall(commit_record, row)
  unlock(id)
  if not committed then error(failure, 0) end
  return row.outcome, row.target_id, row.error_kind
end

--- The cursor `name` as last advanced (a string), or nil before the first run.
---@param name string
---@return string?
function Job:cursor(name) return cursor_get(name) end

--- Moves cursor `name` to `value`. Call it after the records it covers: each job:record has already committed.
---@param name string
---@param value string|number
function Job:advance_cursor(name, value) cursor_set(name, tostring(value)) end

--- Queues job `name` of this connector with `input`; `opts.key` orders jobs that share it, `opts.delay` waits.
---@param name string
---@param input any
---@param opts {key: string?, delay: number?}?
---@return integer job_id
function Job:enqueue(name, input, opts)
  return enqueue(name, input ~= nil and json.encode(input) or nil, opts and opts.key, opts and opts.delay)
end

--- Runs a replay: the stored record again, on the current script version.
local function replay(job, row)
  local input = json.decode(row.input, { decimals = true })
  local result, target_id, error_kind = job:record(row.kind, row.key, input, row.id)
  if result == "failed" then
    -- The audit row is written; failing the job lets the queue retry it with backoff, then dead-letter it. A
    -- script error is not retried: the next reload runs the record again.
    error({ message = "record " .. row.kind .. " " .. row.key .. " failed again", retryable = error_kind ~= "script" })
  end
  return result, target_id
end

return { meta = Job, replay = replay }
