#include "CLuaBridge.h"
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>

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

static int mlh_trampoline(lua_State *L) {
  mlh_native_fn fn = (mlh_native_fn)lua_touserdata(L, lua_upvalueindex(1));
  void *ud;
  lua_getallocf(L, &ud);
  mlh_memory *mem = (mlh_memory *)ud;
  int enforce = mem->enforce;
  mem->enforce = 0;
  int n = fn(L);
  if (enforce && mem->limit && mem->used > mem->limit) lua_gc(L, LUA_GCCOLLECT);
  if (enforce && mem->limit && mem->used > mem->limit) {
    lua_pushfstring(L, "memory limit of %d MiB exceeded", (int)(mem->limit >> 20));
    mem->enforce = enforce;
    return lua_error(L);
  }
  mem->enforce = enforce;
  if (n >= 0) return n;
  if (n == MLH_SUSPEND) return lua_yieldk(L, 0, (lua_KContext)lua_gettop(L), mlh_continue);
  return lua_error(L);
}

void mlh_push_native(lua_State *L, mlh_native_fn fn, int nup) {
  lua_pushlightuserdata(L, (void *)fn);
  if (nup > 0) lua_insert(L, -(nup + 1));
  lua_pushcclosure(L, mlh_trampoline, nup + 1);
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
  if (nsize > old && mem->enforce && mem->limit && mem->used - old + nsize > mem->limit) return NULL;
  void *p = realloc(ptr, nsize);
  if (!p) return NULL;
  mem->used = mem->used - old + nsize;
  if (mem->used > mem->peak) mem->peak = mem->used;
  return p;
}

static int mlh_panic(lua_State *L) {
  // Reached only by an error outside any protected call, which the host never makes: fail loudly.
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "mlhost: unprotected Lua error: %s\n", msg ? msg : "?");
  abort();
}

static int mlh_hook_granularity = 1000;

static void mlh_budget_hook(lua_State *L, lua_Debug *ar) {
  mlh_budget *b = (*(mlh_vmctx **)lua_getextraspace(L))->current;
  if (!b || b->limit == 0) return;
  b->remaining -= mlh_hook_granularity;
  if (b->remaining <= 0) {
    // From here on every instruction of this thread raises, so a script cannot swallow the stop with pcall in a
    // loop; the host resets the hook when it resumes another job on this thread.
    lua_sethook(L, mlh_budget_hook, LUA_MASKCOUNT, 1);
    // Inside a hook the running function is level 0 (luaL_error would blame its caller).
    lua_getinfo(L, "Sl", ar);
    if (ar->currentline > 0) lua_pushfstring(L, "%s:%d: ", ar->short_src, ar->currentline);
    else lua_pushliteral(L, "");
    lua_pushfstring(L, "instruction budget of %I instructions exhausted (a loop that never ends?)", (lua_Integer)b->limit);
    lua_concat(L, 2);
    lua_error(L);
  }
}

lua_State *mlh_newstate(mlh_memory *mem, mlh_vmctx *ctx, int granularity) {
  lua_State *L = lua_newstate(mlh_alloc, mem);
  if (!L) return NULL;
  lua_atpanic(L, mlh_panic);
  *(mlh_vmctx **)lua_getextraspace(L) = ctx;
  mlh_hook_granularity = granularity;
  lua_sethook(L, mlh_budget_hook, LUA_MASKCOUNT, granularity);
  return L;
}

void mlh_reset_hook(lua_State *L) { lua_sethook(L, mlh_budget_hook, LUA_MASKCOUNT, mlh_hook_granularity); }

mlh_vmctx *mlh_context(lua_State *L) { return *(mlh_vmctx **)lua_getextraspace(L); }

int mlh_c_noop(lua_State *L) {
  (void)L;
  return 0;
}
