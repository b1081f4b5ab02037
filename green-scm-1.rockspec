rockspec_format = "3.0"
package = "green"
version = "scm-1"
source = {
   url = "git+file:///work/main",
}
description = {
   summary = "Greenlets for Lua 5.4 on libev: block anywhere, gevent's API",
   detailed = [[
      Each greenlet runs on its own C stack, switched by a small assembly
      routine, so a Lua script may block (sleep, wait for I/O, join) inside
      pcall, metamethods, table.sort comparators and C callbacks. One libev
      loop serves thousands of greenlets.
   ]],
   license = "MIT",
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
external_dependencies = {
   LIBEV = { header = "ev.h", library = "ev" },
}
build = {
   type = "make",
   build_variables = {
      CFLAGS = "-O2 -g",
      LUA_INC = "-I$(LUA_INCDIR)",
      EV_CFLAGS = "-I$(LIBEV_INCDIR)",
      EV_LIBS = "-L$(LIBEV_LIBDIR) -lev",
   },
   install_target = "install-rock",
   install_variables = {
      INST_LIBDIR = "$(LIBDIR)",
      INST_LUADIR = "$(LUADIR)",
      INST_BINDIR = "$(BINDIR)",
   },
}
