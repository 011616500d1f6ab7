#ifndef MLH_CLUA_SHIM_H
#define MLH_CLUA_SHIM_H
// Lua 5.4's C API, with its function-like macros re-exposed as static inline functions Swift can call.
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

static const int MLH_LUA_REGISTRYINDEX = LUA_REGISTRYINDEX;
static const int MLH_LUA_RIDX_GLOBALS = LUA_RIDX_GLOBALS;
static const int MLH_LUA_MULTRET = LUA_MULTRET;

static inline int mlh_lua_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline void mlh_lua_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void mlh_lua_newtable(lua_State *L) { lua_newtable(L); }
static inline const char *mlh_lua_tostring(lua_State *L, int i, size_t *len) { return lua_tolstring(L, i, len); }
static inline lua_Number mlh_lua_tonumber(lua_State *L, int i, int *isnum) { return lua_tonumberx(L, i, isnum); }
static inline lua_Integer mlh_lua_tointeger(lua_State *L, int i, int *isnum) { return lua_tointegerx(L, i, isnum); }
static inline int mlh_lua_pcall(lua_State *L, int nargs, int nresults, int msgh) {
  return lua_pcall(L, nargs, nresults, msgh);
}
static inline void mlh_lua_insert(lua_State *L, int i) { lua_insert(L, i); }
static inline void mlh_lua_remove(lua_State *L, int i) { lua_remove(L, i); }
static inline void mlh_lua_replace(lua_State *L, int i) { lua_replace(L, i); }
static inline void *mlh_lua_newuserdata(lua_State *L, size_t size) { return lua_newuserdatauv(L, size, 1); }
static inline int mlh_lua_getmetatable_named(lua_State *L, const char *name) { return luaL_getmetatable(L, name); }
static inline int mlh_luaL_loadbuffer(lua_State *L, const char *buf, size_t size, const char *name, const char *mode) {
  return luaL_loadbufferx(L, buf, size, name, mode);
}
static inline void **mlh_lua_extraspace(lua_State *L) { return (void **)lua_getextraspace(L); }
static inline int mlh_lua_isnoneornil(lua_State *L, int i) { return lua_isnoneornil(L, i); }
static inline void mlh_lua_pushglobaltable(lua_State *L) { lua_pushglobaltable(L); }
// lua_gc is variadic in 5.4.
static inline int mlh_lua_gc_count_kb(lua_State *L) { return lua_gc(L, LUA_GCCOUNT); }
static inline int mlh_lua_gc_collect(lua_State *L) { return lua_gc(L, LUA_GCCOLLECT); }
#endif
