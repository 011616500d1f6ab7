#include "CBenchSupport.h"

int mlh_bench_c_noop(lua_State *L) {
  (void)L;
  return 0;
}
