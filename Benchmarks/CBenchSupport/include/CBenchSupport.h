#ifndef MLH_CBENCHSUPPORT_H
#define MLH_CBENCHSUPPORT_H
#include <lua.h>
/// A plain C function doing nothing: the baseline the call-overhead benchmark measures Swift natives against.
int mlh_bench_c_noop(lua_State *L);
#endif
