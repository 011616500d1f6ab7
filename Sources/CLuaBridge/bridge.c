#include "CLuaBridge.h"
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static char mlh_raise_tag;
void *mlh_raise_marker(void) { return &mlh_raise_tag; }

// Runs when a suspended native is resumed: the stack holds the native's own values up to `base`, then whatever
// the host passed to lua_resume.
static int mlh_continue(lua_State *L, int status, lua_KContext base) {
  (void)status;
  int first = (int)base + 1;
  if (lua_gettop(L) >= first && lua_touserdata(L, first) == &mlh_raise_tag) {
    lua_settop(L, first + 1);
    return lua_error(L);
  }
  return lua_gettop(L) - (int)base;
}

// What every native's return goes through: the memory limit, suspended while the native ran (an allocation it
// makes must not fail with a longjmp through Swift), is checked now, in C; then the results, a suspension or a raise.
static inline int mlh_native_return(lua_State *L, mlh_memory *mem, int enforce, int n) {
  if (enforce && mem->limit && mem->used > mem->limit) lua_gc(L, LUA_GCCOLLECT);
  if (enforce && mem->limit && mem->used > mem->limit) {
    mlh_budget *b = mem->ctx ? mem->ctx->current : NULL;
    if (b && !b->stopped) b->stopped = MLH_STOP_MEMORY;
    lua_pushfstring(L, "memory limit of %d MiB exceeded", (int)(mem->limit >> 20));
    mem->enforce = enforce;
    return lua_error(L);
  }
  mem->enforce = enforce;
  if (n >= 0) return n;
  if (n == MLH_SUSPEND) return lua_yieldk(L, 0, (lua_KContext)lua_gettop(L), mlh_continue);
  return lua_error(L);
}

static inline mlh_memory *mlh_native_memory(lua_State *L) {
  void *ud;
  lua_getallocf(L, &ud);
  return (mlh_memory *)ud;
}

static int mlh_trampoline(lua_State *L) {
  mlh_native_fn fn = (mlh_native_fn)lua_touserdata(L, lua_upvalueindex(1));
  mlh_memory *mem = mlh_native_memory(L);
  int enforce = mem->enforce;
  mem->enforce = 0;
  return mlh_native_return(L, mem, enforce, fn(L));
}

// A typed native: the Swift dispatcher gets its native object and the VM straight from here, with no further
// call back into Lua to find them.
static int mlh_typed_trampoline(lua_State *L) {
  mlh_typed_fn fn = (mlh_typed_fn)lua_touserdata(L, lua_upvalueindex(1));
  void *native = lua_touserdata(L, lua_upvalueindex(2));
  mlh_memory *mem = mlh_native_memory(L);
  int enforce = mem->enforce;
  mem->enforce = 0;
  return mlh_native_return(L, mem, enforce, fn(L, native, (*(mlh_vmctx **)lua_getextraspace(L))->owner));
}

void mlh_push_native(lua_State *L, mlh_native_fn fn, int nup) {
  lua_pushlightuserdata(L, (void *)fn);
  if (nup > 0) lua_insert(L, -(nup + 1));
  lua_pushcclosure(L, mlh_trampoline, nup + 1);
}

void mlh_push_typed_native(lua_State *L, mlh_typed_fn dispatch, void *native) {
  lua_pushlightuserdata(L, (void *)dispatch);
  lua_pushlightuserdata(L, native);
  lua_pushcclosure(L, mlh_typed_trampoline, 2);
}

int mlh_native_upvalue(int i) { return lua_upvalueindex(i + 1); }

static void *mlh_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  mlh_memory *mem = (mlh_memory *)ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    mem->used -= old;
    return NULL;
  }
  if (nsize > old && mem->enforce && mem->limit && mem->used - old + nsize > mem->limit) {
    // The job that asked is over: a script that catches the memory error must not go on allocating.
    if (mem->ctx && mem->ctx->current && !mem->ctx->current->stopped) mem->ctx->current->stopped = MLH_STOP_MEMORY;
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (!p) return NULL;
  mem->used = mem->used - old + nsize;
  if (mem->used > mem->peak) mem->peak = mem->used;
  // Work done inside C functions (string building, table.concat, string.rep) executes few instructions but
  // allocates: charging the bytes keeps a quadratic `s = s .. x` loop inside the job's budget.
  mlh_budget *b = mem->ctx ? mem->ctx->current : NULL;
  if (b && b->limit && nsize > old) b->remaining -= (int64_t)((nsize - old) >> 3);
  return p;
}

static int mlh_panic(lua_State *L) {
  // Reached only by an error outside any protected call, which the host never makes: fail loudly.
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "mlhost: unprotected Lua error: %s\n", msg ? msg : "?");
  abort();
}

int64_t mlh_thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static mlh_vmctx *mlh_ctx(lua_State *L) { return *(mlh_vmctx **)lua_getextraspace(L); }

static void *mlh_alloc_state(lua_State *L) {
  void *ud;
  lua_getallocf(L, &ud);
  return ud;
}

static void mlh_budget_hook(lua_State *L, lua_Debug *ar) {
  mlh_vmctx *ctx = mlh_ctx(L);
  mlh_budget *b = ctx->current;
  if (!b) return;
  if (!b->stopped) {
    if (b->limit) b->remaining -= ctx->granularity;
    if (b->limit && b->remaining <= 0) b->stopped = MLH_STOP_INSTRUCTIONS;
    // The CPU clock is a system call, not a vDSO read: read it on every 16th check only.
    else if (b->deadline_ns && (++ctx->checks & 15) == 0 && mlh_thread_cpu_ns() >= b->deadline_ns)
      b->stopped = MLH_STOP_TIME;
    else return;
  }
  // From here on every instruction of this thread raises, so a script cannot swallow the stop with pcall in a
  // loop; the host resets the hook when it resumes another job on this thread.
  lua_sethook(L, mlh_budget_hook, LUA_MASKCOUNT, 1);
  // Inside a hook the running function is level 0 (luaL_error would blame its caller).
  lua_getinfo(L, "Sl", ar);
  if (ar->currentline > 0) lua_pushfstring(L, "%s:%d: ", ar->short_src, ar->currentline);
  else lua_pushliteral(L, "");
  if (b->stopped == MLH_STOP_MEMORY)
    lua_pushfstring(L, "memory limit of %d MiB exceeded", (int)(((mlh_memory *)mlh_alloc_state(L))->limit >> 20));
  else if (b->stopped == MLH_STOP_TIME)
    lua_pushfstring(L, "CPU time budget of %d s exhausted (a loop that never ends, or work too slow?)",
                    (int)(b->time_limit_ns / 1000000000));
  else
    lua_pushfstring(L, "instruction budget of %I instructions exhausted (a loop that never ends?)", (lua_Integer)b->limit);
  lua_concat(L, 2);
  lua_error(L);
}

lua_State *mlh_newstate(mlh_memory *mem, mlh_vmctx *ctx) {
  mem->ctx = ctx;
  lua_State *L = lua_newstate(mlh_alloc, mem);
  if (!L) return NULL;
  lua_atpanic(L, mlh_panic);
  *(mlh_vmctx **)lua_getextraspace(L) = ctx;
  lua_sethook(L, mlh_budget_hook, LUA_MASKCOUNT, ctx->granularity);
  return L;
}

void mlh_reset_hook(lua_State *L) { lua_sethook(L, mlh_budget_hook, LUA_MASKCOUNT, mlh_ctx(L)->granularity); }

mlh_vmctx *mlh_context(lua_State *L) { return mlh_ctx(L); }

// --- Guards over the base library -------------------------------------------------------------------------------

static int mlh_job_stopped(lua_State *L) {
  mlh_budget *b = mlh_ctx(L)->current;
  return b && b->stopped;
}

// The message handler xpcall really installs: once the job is stopped it hands the error on untouched, so a
// handler that loops (or raises, and is called again for its own error) cannot keep a stopped job alive.
static int mlh_guarded_handler(lua_State *L) {
  if (mlh_job_stopped(L)) return 1;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

static int mlh_results(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  return lua_gettop(L);
}

static int mlh_xpcall(lua_State *L) {
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 2);
  lua_pushcclosure(L, mlh_guarded_handler, 1);
  lua_replace(L, 2);
  lua_pushvalue(L, lua_upvalueindex(1));  // the real xpcall
  lua_insert(L, 1);
  lua_callk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, mlh_results);  // a continuation: the body may yield
  return lua_gettop(L);
}

static int mlh_setmetatable(lua_State *L) {
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL)
      return luaL_error(L, "__gc metamethods are not allowed in connector scripts (finalizers run where no "
                           "budget can stop them); use a to-be-closed variable (<close>) instead");
    lua_pop(L, 1);
  }
  lua_pushvalue(L, lua_upvalueindex(1));  // the real setmetatable
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

static char mlh_readonly_key;

void mlh_mark_readonly(lua_State *L) {
  lua_pushboolean(L, 1);
  lua_rawsetp(L, -2, &mlh_readonly_key);
}

static int mlh_rawset(lua_State *L) {
  if (lua_type(L, 1) == LUA_TTABLE && lua_getmetatable(L, 1)) {
    int readonly = lua_rawgetp(L, -1, &mlh_readonly_key) != LUA_TNIL;
    lua_pop(L, 2);
    if (readonly) return luaL_error(L, "this table is read-only");
  }
  lua_pushvalue(L, lua_upvalueindex(1));  // the real rawset
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

static void mlh_wrap_global(lua_State *L, const char *name, lua_CFunction guard) {
  lua_getglobal(L, name);
  lua_pushcclosure(L, guard, 1);
  lua_setglobal(L, name);
}

void mlh_install_guards(lua_State *L) {
  mlh_wrap_global(L, "xpcall", mlh_xpcall);
  mlh_wrap_global(L, "setmetatable", mlh_setmetatable);
  mlh_wrap_global(L, "rawset", mlh_rawset);
}
