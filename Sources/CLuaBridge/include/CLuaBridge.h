#ifndef MLH_CLUABRIDGE_H
#define MLH_CLUABRIDGE_H
// The C side of the Swift<->Lua bridge. Lua's errors and yields unwind with longjmp, which must never cross a
// Swift frame: Swift natives return one of the status codes below and only these C functions call
// lua_error / lua_yield.
#include <stddef.h>
#include <stdint.h>
#include <lua.h>

/// A Swift native: returns the number of results it pushed, or MLH_RAISE / MLH_SUSPEND.
typedef int (*mlh_native_fn)(lua_State *L);

/// The value on top of the stack is the error to raise.
#define MLH_RAISE (-1)
/// The coroutine suspends; the host resumes it later with the native's results.
#define MLH_SUSPEND (-2)

/// Why a budget stopped its job.
#define MLH_STOP_NONE 0
#define MLH_STOP_INSTRUCTIONS 1
#define MLH_STOP_TIME 2
#define MLH_STOP_MEMORY 3

/// A job's budget, shared by every coroutine the job runs: instructions (memory a job allocates is charged too,
/// one instruction per 8 bytes, so work done inside C functions counts) and CPU time of the VM's thread (not wall
/// time: a job preempted by other threads on a busy machine is not charged for it).
typedef struct mlh_budget {
  int64_t remaining;    /// instructions left before the job is stopped
  int64_t limit;        /// 0: unlimited
  int64_t deadline_ns;  /// the thread's CPU clock at which the running slice must stop; 0: none. Set per resume.
  int64_t time_limit_ns;  /// the job's whole CPU-time budget, for the message
  int stopped;          /// MLH_STOP_*: once set, every instruction of the job raises and no message handler runs
} mlh_budget;

/// Per-VM context, reached through lua_getextraspace. Lua copies the main thread's extra space into every new
/// thread, so all coroutines of a VM (the host's and the script's own) point at the same context; the host sets
/// `current` to the running job's budget before each resume.
typedef struct mlh_vmctx {
  mlh_budget *current;
  void *owner;      /// the Swift VM object, unretained
  int granularity;  /// instructions between two budget checks
  unsigned checks;  /// budget checks so far: the CPU clock is read on every 16th
} mlh_vmctx;

/// Per-VM allocator state. The limit is enforced only while Lua code runs (`enforce`, set by the host around
/// lua_resume / lua_pcall): an allocation refused inside a Swift native would longjmp through Swift, so the
/// trampoline lifts the limit while a native runs and raises afterwards, in C, if the native went over it.
typedef struct mlh_memory {
  size_t used;
  size_t limit;  /// 0: unlimited
  size_t peak;
  int enforce;
  mlh_vmctx *ctx;  /// whose running job is charged for allocations
} mlh_memory;

/// The first value a host passes to lua_resume to make the suspended native raise the second value instead of
/// returning: the raise then happens in the continuation, inside Lua, never in a Swift frame.
void *mlh_raise_marker(void);

/// Pushes `fn` as a Lua C function with `nup` upvalues taken from the stack (the trampoline adds its own first).
void mlh_push_native(lua_State *L, mlh_native_fn fn, int nup);
/// The upvalue index a native sees for its own upvalue `i` (1-based), behind the trampoline's.
int mlh_native_upvalue(int i);

/// A typed native's dispatcher: called with the native's object and the owner of the state (the VM).
typedef int (*mlh_typed_fn)(lua_State *L, void *native, void *owner);
/// Pushes a Lua function that calls `dispatch` with `native`, through the same trampoline rules as any native.
void mlh_push_typed_native(lua_State *L, mlh_typed_fn dispatch, void *native);

/// A new state whose allocations are counted against `mem` and whose threads share `ctx`; NULL when out of memory.
/// Installs the count hook that enforces `ctx->current`, checked every `ctx->granularity` instructions.
lua_State *mlh_newstate(mlh_memory *mem, mlh_vmctx *ctx);
/// Replaces the base library's functions a script could use to escape its budget or the host's protections:
/// `xpcall` (a message handler never runs once the job is stopped), `setmetatable` (no `__gc`: finalizers run
/// where no hook can stop them) and `rawset` (no write into a read-only table). Call after opening the libraries.
void mlh_install_guards(lua_State *L);
/// Replaces string.find, match, gmatch and gsub with Lua's matcher under the job's budget (patterns.c).
void mlh_install_patterns(lua_State *L);
/// Marks the metatable on top of the stack as belonging to a read-only table (`rawset` refuses it).
void mlh_mark_readonly(lua_State *L);
/// The calling thread's CPU time in nanoseconds (CLOCK_THREAD_CPUTIME_ID).
int64_t mlh_thread_cpu_ns(void);
/// Restores the normal hook granularity on a thread whose budget ran out (the main thread after a failed load).
void mlh_reset_hook(lua_State *L);
/// The context of the VM that owns `L`.
mlh_vmctx *mlh_context(lua_State *L);

#endif
