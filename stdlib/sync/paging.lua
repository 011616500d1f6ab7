--- Paging and cursor helpers shared by the system clients and connectors.
local mlhost = mlhost
local json, time = mlhost.json, mlhost.time
local ipairs, tostring = ipairs, tostring

local _M = {}

--- Iterates pages: `fetch(state)` answers the items of one page and the state for the next (nil at the end).
---@generic T
---@param fetch fun(state: any): T[], any
---@param state any the first page's state
---@return fun(): T[]?
function _M.pages(fetch, state)
  local done = false
  return function()
    if done then return nil end
    local items, next_state = fetch(state)
    state = next_state
    if next_state == nil then done = true end
    if items == nil or (#items == 0 and done) then return nil end
    return items
  end
end

--- Iterates the items of every page.
---@generic T
---@param fetch fun(state: any): T[], any
---@param state any
---@return fun(): T?
function _M.items(fetch, state)
  local pages = _M.pages(fetch, state)
  local page, i = nil, 0
  return function()
    while true do
      if page and i < #page then
        i = i + 1
        return page[i]
      end
      page, i = pages(), 0
      if not page then return nil end
    end
  end
end

--- Groups an item iterator into pages of at most `size` items, for `pipeline` over a client that walks the pages
--- itself: a cursor then passes each group once its records have committed.
---@generic T
---@param items fun(): T?
---@param size integer
---@return fun(): T[]?
function _M.chunks(items, size)
  local done = false
  return function()
    if done then return nil end
    local page = {}
    while #page < size do
      local item = items()
      if item == nil then
        done = true
        break
      end
      page[#page + 1] = item
    end
    if #page == 0 then return nil end
    return page
  end
end

--- Runs `fn(item)` over every item of every page with `width` calls in flight, across page boundaries: a slow
--- item holds back only its own slot, not the next page. `page_done(items)` is called for each page, in page
--- order, once every item of it and of the pages before it is done: the moment a cursor may pass the page.
--- Pages are fetched one at a time, while the workers still have items in hand.
---@generic T
---@param pages fun(): T[]?
---@param width integer
---@param fn fun(item: T)
---@param page_done fun(items: T[])
function _M.pipeline(pages, width, fn, page_done)
  local queue, head, tail = {}, 1, 0
  local held, remaining, flushed, fetched = {}, {}, 0, 0
  local exhausted, failure, flushing = false, nil, false
  -- One worker fetches while the others wait on this lock (suspended, not polling); a fetch that raises ends the
  -- pipeline for every worker with its error, and a stopped worker's lock goes with its coroutine.
  local fetch_lock = "paging.pipeline " .. tostring(queue)

  local function flush()
    if flushing then return end  -- the coroutine already flushing sees this page when it loops
    flushing = true
    while remaining[flushed + 1] == 0 do
      flushed = flushed + 1
      page_done(held[flushed])
      held[flushed], remaining[flushed] = nil, nil
    end
    flushing = false
  end

  local function fetch()
    local ok, items = pcall(pages)
    if not ok then
      failure, exhausted = items, true
    elseif items then
      fetched = fetched + 1
      held[fetched], remaining[fetched] = items, #items
      for _, item in ipairs(items) do
        tail = tail + 1
        queue[tail] = { item = item, page = fetched }
      end
      if #items == 0 then flush() end
    else
      exhausted = true
    end
  end

  local function take()
    while true do
      if head <= tail then
        local entry = queue[head]
        queue[head], head = nil, head + 1
        return entry
      end
      if exhausted then
        if failure ~= nil then error(failure, 0) end
        return nil
      end
      mlhost.lock(fetch_lock)
      -- Another worker may have fetched while this one waited.
      if head > tail and not exhausted then fetch() end
      mlhost.unlock(fetch_lock)
    end
  end

  local workers = {}
  for i = 1, width do workers[i] = i end
  mlhost.each(workers, width, function()
    local entry = take()
    while entry do
      fn(entry.item)
      remaining[entry.page] = remaining[entry.page] - 1
      if remaining[entry.page] == 0 then flush() end
      entry = take()
    end
  end)
end

---@class stdlib.TimeCursor
---@field at string? the latest timestamp seen (ISO 8601)
---@field ids table<string, boolean> what was already handled at exactly `at`
local TimeCursor = {}
TimeCursor.__index = TimeCursor

--- A cursor for "changed since" polling with second-granularity timestamps: the next poll asks `>= at`, so
--- records that share the last second are not lost, and skips the ones it already handled, so they are not
--- repeated. Stored as JSON in the job's cursor `name`; it only moves when `save` is called, after the records it
--- covers have committed.
---@param job mlhost.Job
---@param name string
---@param start string? where a first run begins (ISO 8601); default: the beginning of time
---@return stdlib.TimeCursor
function _M.time_cursor(job, name, start)
  local stored = job:cursor(name)
  local self = setmetatable({ job = job, name = name, at = start, ids = {} }, TimeCursor)
  if stored then
    local v = json.decode(stored)
    if type(v) == "table" then
      self.at = v.at
      for _, id in ipairs(v.ids or {}) do self.ids[id] = true end
    end
  end
  return self
end

local function seconds(at) return at and time.parse(at) or -math.huge end

--- Whether the record `id` changed at `at` was already handled by an earlier poll.
---@param at string
---@param id string|integer
---@return boolean
function TimeCursor:seen(at, id)
  local t, mine = seconds(at), seconds(self.at)
  return t < mine or (t == mine and self.ids[tostring(id)] == true)
end

--- Notes that record `id` changed at `at` has been handled.
---@param at string
---@param id string|integer
function TimeCursor:advance(at, id)
  local t, mine = seconds(at), seconds(self.at)
  if t > mine then
    self.at, self.ids = at, {}
  elseif t < mine then
    return
  end
  self.ids[tostring(id)] = true
end

--- Persists the cursor: call it after the records it covers have been recorded.
function TimeCursor:save()
  if not self.at then return end
  local ids = {}
  for id in pairs(self.ids) do ids[#ids + 1] = id end
  table.sort(ids)
  self.job:advance_cursor(self.name, json.encode({ at = self.at, ids = json.array(ids) }))
end

return _M
