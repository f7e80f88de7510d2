#include "darwin_glue.h"
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include "darwin_support.h"

static darwin_dispatch_fn dispatcher = NULL;

void darwin_set_dispatcher(darwin_dispatch_fn fn) { dispatcher = fn; }

/* Allocation failure is a Lua error ("not enough memory") only while Lua code runs inside a protected call started
   by the host: then the error unwinds to that lua_pcall, through C and Lua frames only. While Swift owns the state
   (between protected calls, and inside every Swift function called from Lua) a failure still aborts, because the
   error would otherwise longjmp out of an API call made from Swift. */
typedef struct { int swift_owns; } alloc_context;

static void *state_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    alloc_context *ctx = (alloc_context *)ud;
    if (nsize == 0) { free(ptr); return NULL; }
    void *p = realloc(ptr, nsize);
    if (p == NULL) {
        if (ptr != NULL && nsize <= osize) return ptr;  /* Lua assumes shrinking never fails */
        if (!ctx->swift_owns) return NULL;
        fprintf(stderr, "darwinhost: out of memory (Lua allocation of %zu bytes)\n", nsize);
        abort();
    }
    return p;
}

static alloc_context *context_of(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return (alloc_context *)ud;
}

/* Runs lua_pcall with Lua (not Swift) owning the state, so allocation failures become catchable errors. */
static int pcall_lua_owned(lua_State *L, int nargs, int nresults, int handler) {
    alloc_context *ctx = context_of(L);
    int outer = ctx->swift_owns;
    ctx->swift_owns = 0;
    int status = lua_pcall(L, nargs, nresults, handler);
    ctx->swift_owns = outer;
    return status;
}

static int panic_handler(lua_State *L) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "darwinhost: unprotected Lua error: %s\n", msg ? msg : "(error object is not a string)");
    abort();
    return 0;
}

lua_State *darwin_newstate(void) {
    alloc_context *ctx = malloc(sizeof(alloc_context));
    if (ctx == NULL) return NULL;
    ctx->swift_owns = 1;
    lua_State *L = lua_newstate(state_alloc, ctx);
    if (L == NULL) { free(ctx); return NULL; }
    lua_atpanic(L, panic_handler);
    luaL_openlibs(L);
    return L;
}

/* Every Swift function reaches Lua through this closure. The Swift frame has fully returned before
   lua_error runs, so Swift's cleanup (ARC releases, defer) is never skipped. */
static int darwin_trampoline(lua_State *L) {
    lua_Integer id = lua_tointeger(L, lua_upvalueindex(1));
    alloc_context *ctx = context_of(L);
    int outer = ctx->swift_owns;
    ctx->swift_owns = 1;
    int n = dispatcher(L, id);
    ctx->swift_owns = outer;
    if (n < 0) {
        /* Prefix "chunk:line:" of the calling Lua code, like luaL_error does. */
        if (lua_type(L, -1) == LUA_TSTRING) {
            luaL_where(L, 1);
            lua_insert(L, -2);
            lua_concat(L, 2);
        }
        return lua_error(L);
    }
    return n;
}

void darwin_push_swift_function(lua_State *L, lua_Integer function_id) {
    lua_pushinteger(L, function_id);
    lua_pushcclosure(L, darwin_trampoline, 1);
}

static int traceback_handler(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int darwin_pcall_traceback(lua_State *L, int nargs, int nresults) {
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, traceback_handler);
    lua_insert(L, base);
    int status = pcall_lua_owned(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

int darwin_load(lua_State *L, const char *code, size_t length, const char *chunkname) {
    return luaL_loadbufferx(L, code, length, chunkname, "t");
}

static int tostring_body(lua_State *L) {
    luaL_tolstring(L, 1, NULL);
    return 1;
}

int darwin_tostring_protected(lua_State *L, int index) {
    index = lua_absindex(L, index);
    lua_pushcfunction(L, tostring_body);
    lua_pushvalue(L, index);
    return pcall_lua_owned(L, 1, 1, 0);
}

/* Ctrl-C handling, as in lua.c: the signal handler only installs a hook; the hook raises the error. */
static lua_State *interrupt_state = NULL;

static void interrupt_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    darwin_interrupt_clear();
    luaL_error(L, "interrupted!");
}

static void interrupt_action(int sig) {
    (void)sig;
    int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
    signal(SIGINT, SIG_DFL);  /* a second Ctrl-C kills the process */
    darwin_interrupt_request();  /* long Swift work polls this (database build, training, forward passes) */
    if (interrupt_state) lua_sethook(interrupt_state, interrupt_hook, flag, 1);
}

void darwin_interrupt_guard_begin(lua_State *L) {
    interrupt_state = L;
    signal(SIGINT, interrupt_action);
    darwin_unblock_sigint();
}

void darwin_interrupt_guard_end(void) {
    signal(SIGINT, SIG_DFL);
    darwin_interrupt_clear();
    if (interrupt_state) lua_sethook(interrupt_state, NULL, 0, 0);
    interrupt_state = NULL;
}

void darwin_close(lua_State *L) {
    alloc_context *ctx = context_of(L);
    lua_close(L);
    free(ctx);
}
