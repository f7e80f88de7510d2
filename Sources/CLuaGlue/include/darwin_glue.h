/// C glue between the Lua 5.4 C API and Swift.
///
/// The rule this file enforces: a Lua error never longjmps through a Swift frame.
/// Swift functions are called from Lua through `darwin_trampoline`; the Swift side never raises,
/// it pushes a message and returns -1, and the trampoline raises only after the Swift frame returned.
#ifndef DARWIN_GLUE_H
#define DARWIN_GLUE_H

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

/// The Swift dispatcher: runs the Swift function with the given id on the arguments on `L`'s stack.
/// Returns the number of results pushed, or -1 after pushing an error message string.
typedef int (*darwin_dispatch_fn)(lua_State *L, lua_Integer function_id);

/// Installs the process-wide Swift dispatcher (called once, before any state is created).
void darwin_set_dispatcher(darwin_dispatch_fn fn);

/// Creates a state with an allocator that aborts on out-of-memory (so no allocation can longjmp out of
/// an API call made from Swift), a panic handler, and the standard libraries opened.
lua_State *darwin_newstate(void);
/* Closes a state made by darwin_newstate and frees its allocator context. */
void darwin_close(lua_State *L);

/// Pushes a C closure that dispatches to the Swift function `function_id`.
void darwin_push_swift_function(lua_State *L, lua_Integer function_id);

/// `lua_pcall` with a message handler that appends a traceback (`luaL_traceback`).
int darwin_pcall_traceback(lua_State *L, int nargs, int nresults);

/// Loads a chunk (text only) under the given chunk name; returns the Lua status code.
int darwin_load(lua_State *L, const char *code, size_t length, const char *chunkname);

/// Calls `tostring(v)` on the value at `index` under protection and pushes the string (or the error).
/// Returns the Lua status code.
int darwin_tostring_protected(lua_State *L, int index);

/// While the guard is on, SIGINT (Ctrl-C) makes the running Lua code raise "interrupted!" at its next
/// instruction, as in `lua.c`: the hook raises from C inside the Lua VM, never from a Swift frame.
void darwin_interrupt_guard_begin(lua_State *L);
/// Restores the default SIGINT behaviour.
void darwin_interrupt_guard_end(void);

/// The per-state pointer slot, used to find the Swift host object that owns the state.
static inline void **darwin_extraspace(lua_State *L) { return (void **)lua_getextraspace(L); }

static inline void darwin_pop(lua_State *L, int n) { lua_settop(L, -(n)-1); }
static inline int darwin_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline int darwin_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline void darwin_newtable(lua_State *L) { lua_createtable(L, 0, 0); }
static inline int darwin_isnoneornil(lua_State *L, int i) { return lua_type(L, i) <= 0; }
static inline void darwin_pushglobaltable(lua_State *L) { lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS); }
static inline void *darwin_newuserdata(lua_State *L, size_t size) { return lua_newuserdatauv(L, size, 0); }
static inline int darwin_getmetatable_named(lua_State *L, const char *name) { return luaL_getmetatable(L, name); }
static inline int darwin_gc_count_kb(lua_State *L) { return lua_gc(L, LUA_GCCOUNT, 0); }
static inline void darwin_gc_collect(lua_State *L) { lua_gc(L, LUA_GCCOLLECT, 0); }

#endif
