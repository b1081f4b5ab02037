# green: make builds libgreen.a, libgreen.so and the Lua module; make test
# runs the C tests and the Lua specs.
# Variants build into their own directory: make asan, make valgrind,
# make test SWITCH=ucontext, make check (all of them), make bench.

CC       ?= cc
PREFIX   ?= /usr/local
BUILD    ?= build/default
ARCH     := $(shell uname -m)
SWITCH   ?= $(if $(filter x86_64 aarch64,$(ARCH)),asm,ucontext)
CFLAGS   ?= -O2 -g
RUNNER   ?=
PKG_CONFIG ?= pkg-config
LUA      ?= lua5.4
LUA_INC  ?= $(shell $(PKG_CONFIG) --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUA_LIB  ?= $(shell $(PKG_CONFIG) --libs lua5.4 2>/dev/null || echo -llua5.4)
BUSTED   ?= $(shell command -v busted)
# What runs the specs: lua5.4 running busted's own script, so that a
# RUNNER (valgrind) or SPEC_ENV (a sanitizer runtime) applies to it.
SPEC_ENV ?=
RUN_SPECS ?= yes

# Lua's warning list, and a few more.
WARNINGS = -Wall -Wextra -Werror -Wshadow -Wsign-compare -Wundef \
           -Wwrite-strings -Wredundant-decls -Wdisabled-optimization \
           -Wdouble-promotion -Wmissing-prototypes -Wstrict-prototypes \
           -Wmissing-declarations -Wpointer-arith -Wcast-qual

EV_CFLAGS ?=
EV_LIBS   ?= -lev
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden \
             -DGREEN_BUILDING $(WARNINGS) $(CFLAGS) -Iruntime $(EV_CFLAGS)
LIBS       = $(EV_LIBS) -lpthread -lm

RUNTIME_C = $(filter-out runtime/switch_ucontext.c,$(wildcard runtime/*.c))
ifeq ($(SWITCH),ucontext)
  ALL_CFLAGS += -DGREEN_SWITCH_UCONTEXT
  RUNTIME_OBJ = $(RUNTIME_C:runtime/%.c=$(BUILD)/%.o) $(BUILD)/switch_ucontext.o
else
  RUNTIME_OBJ = $(RUNTIME_C:runtime/%.c=$(BUILD)/%.o) $(BUILD)/switch_$(ARCH).o
endif

BINDINGS_OBJ = $(patsubst bindings/%.c,$(BUILD)/bindings/%.o,$(wildcard bindings/*.c))
LUA_MODULE   = $(BUILD)/green/core.so

TESTS   = $(patsubst spec/c/%.c,$(BUILD)/test/%,$(wildcard spec/c/test_*.c))
BENCHES = $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
EXAMPLES = $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))

.PHONY: all test test-aarch64 asan tsan install-rock valgrind check fuzz bench demo install clean
all: $(BUILD)/libgreen.a $(BUILD)/libgreen.so $(LUA_MODULE)

$(BUILD)/%.o: runtime/%.c runtime/*.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(BUILD)/%.o: runtime/%.S
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
# The bindings call the runtime in libgreen.so.0 and Lua in the host through
# the GOT, without a PLT stub between.
$(BUILD)/bindings/%.o: bindings/%.c bindings/*.h runtime/green.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fno-plt $(LUA_INC) -Ibindings -c $< -o $@

$(BUILD)/libgreen.a: $(RUNTIME_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^
$(BUILD)/libgreen.so: $(RUNTIME_OBJ)
	$(CC) $(ALL_CFLAGS) -shared -Wl,-z,noexecstack -Wl,-soname,libgreen.so.0 \
	    -o $@ $^ $(LIBS)
# The name the library is found by at run time, in the build tree too.
$(BUILD)/libgreen.so.0: $(BUILD)/libgreen.so
	ln -sf libgreen.so $@

# The Lua module uses the process's libgreen: it needs libgreen.so.0, so a
# host that linked libgreen and then requires the module shares one
# runtime (one hub per thread, one set of greenlets) with it. The library
# is found beside the module's directory (the build directory, or the
# rock's lib directory, where install-rock puts it) unless the process has
# it already. Lua's own symbols come from the host.
$(LUA_MODULE): $(BINDINGS_OBJ) $(BUILD)/libgreen.so.0
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -shared -Wl,-z,noexecstack -o $@ $(BINDINGS_OBJ) \
	    -L$(BUILD) -l:libgreen.so.0 -Wl,-rpath,'$$ORIGIN/..' $(LIBS)

$(BUILD)/test/%: spec/c/%.c spec/c/check.h $(BUILD)/libgreen.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ispec/c $< -o $@ $(BUILD)/libgreen.a $(LIBS)
# Tests of green in a C host's lua_State link the Lua module's objects too.
$(BUILD)/test/test_lua_%: spec/c/test_lua_%.c spec/c/check.h $(BUILD)/libgreen_lua.a $(BUILD)/libgreen.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LUA_INC) -Ispec/c -Ibindings $< -o $@ \
	    $(BUILD)/libgreen_lua.a $(BUILD)/libgreen.a $(LUA_LIB) $(LIBS)
# A host that links libgreen.so and then requires the Lua module built
# here: one runtime between them.
$(BUILD)/test/test_shared_host: spec/c/test_shared_host.c spec/c/check.h $(BUILD)/libgreen.so.0 $(LUA_MODULE)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LUA_INC) -Ispec/c -DGREEN_BUILD_DIR='"$(BUILD)"' \
	    $< -o $@ -L$(BUILD) -l:libgreen.so.0 -Wl,-rpath,'$$ORIGIN/..' \
	    $(LUA_LIB) $(LIBS)
$(BUILD)/bench/%: bench/%.c $(BUILD)/libgreen.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iruntime $< -o $@ $(BUILD)/libgreen.a $(LIBS)
# The cpu benchmark embeds Lua to time green.cpu_bound beside its C figures.
$(BUILD)/bench/cpu: bench/cpu.c $(BUILD)/libgreen_lua.a $(BUILD)/libgreen.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LUA_INC) -Iruntime -Ibindings $< -o $@ \
	    $(BUILD)/libgreen_lua.a $(BUILD)/libgreen.a $(LUA_LIB) $(LIBS)
# Examples that embed Lua link the Lua module's objects and liblua too.
$(BUILD)/libgreen_lua.a: $(BINDINGS_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^
$(BUILD)/examples/lua_%: examples/lua_%.c $(BUILD)/libgreen_lua.a $(BUILD)/libgreen.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LUA_INC) -Ibindings $< -o $@ $(BUILD)/libgreen_lua.a \
	    $(BUILD)/libgreen.a $(LUA_LIB) $(LIBS)
$(BUILD)/examples/%: examples/%.c $(BUILD)/libgreen.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(BUILD)/libgreen.a $(LIBS)

# The environment that makes `require "green"` work from the source tree.
LUA_ENV = LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='$(BUILD)/?.so;;' GREEN_BUILD='$(BUILD)'

# Every test program prints "ok - name" or "not ok - name"; one that dies
# counts as a failure of its own. PER_TEST=1 runs each test as a process of
# its own instead of letting the program fork one child per test. Then the
# Lua specs run under busted, unless RUN_SPECS=no.
test: all $(TESTS) $(EXAMPLES)
	@status=0; for t in $(TESTS); do \
	  if [ -n "$(PER_TEST)" ]; then \
	    for n in $$($(RUNNER) $$t --list); do \
	      $(RUNNER) $$t $$n; rc=$$?; \
	      if [ $$rc = 77 ]; then echo "skip - $$n"; \
	      elif [ $$rc != 0 ]; then echo "not ok - $$n exited with status $$rc"; status=1; fi; \
	    done; \
	  else \
	    $(RUNNER) $$t || { echo "not ok - $$t exited with status $$?"; status=1; }; \
	  fi; \
	done; \
	if [ "$(RUN_SPECS)" = yes ]; then \
	  $(LUA_ENV) $(SPEC_ENV) $(RUNNER) $(LUA) $(BUSTED) -o TAP spec || status=1; \
	fi; \
	exit $$status

# aarch64 under qemu-user, which hangs in clone here: one process per test,
# and the tests that need a native process are skipped (see check.h). The
# Lua module is built but its specs are not run: they need an aarch64
# lua5.4, which cannot be installed beside the host's.
test-aarch64:
	CHECK_EMULATED=1 $(MAKE) test BUILD=build/aarch64 ARCH=aarch64 \
	  CC=aarch64-linux-gnu-gcc PER_TEST=1 RUN_SPECS=no \
	  RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"

# The Lua module is loaded by a lua5.4 built without ASan: preload its
# runtime (which carries UBSan's too).
asan:
	$(MAKE) test BUILD=build/asan CC=clang \
	  SPEC_ENV="LD_PRELOAD=$$(clang -print-file-name=libclang_rt.asan-$(ARCH).so) ASAN_OPTIONS=detect_leaks=0" \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

# ThreadSanitizer, for what crosses threads (green_hub_post). The tests
# fork, which TSan dislikes once threads exist: each runs as a process.
# TSan cannot be preloaded into a lua5.4 built without it: C tests only.
tsan:
	$(MAKE) test BUILD=build/tsan CC=clang PER_TEST=1 RUN_SPECS=no \
	  CFLAGS="-O1 -g -fsanitize=thread -fno-omit-frame-pointer"

# --fair-sched: valgrind runs one thread at a time, and without it a worker
# thread computing would keep the hub's thread from running for long spells.
valgrind:
	$(MAKE) test BUILD=build/valgrind GREEN_UNDER_VALGRIND=1 \
	  RUNNER="valgrind -q --fair-sched=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --suppressions=spec/c/valgrind.supp"

check: test asan tsan valgrind
	$(MAKE) test BUILD=build/ucontext SWITCH=ucontext
	$(MAKE) test BUILD=build/clang CC=clang CFLAGS="-O2 -g -gdwarf-4"

# libFuzzer on the codec's decoder: make fuzz FUZZ_SECONDS=60.
FUZZ_SECONDS ?= 60
FUZZ_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined
fuzz:
	$(MAKE) BUILD=build/fuzz CC=clang CFLAGS="$(FUZZ_FLAGS) -fsanitize=fuzzer-no-link" \
	  build/fuzz/libgreen_lua.a build/fuzz/libgreen.a
	clang -std=c11 -D_GNU_SOURCE $(FUZZ_FLAGS) -fsanitize=fuzzer $(LUA_INC) \
	  -Iruntime -Ibindings fuzz/codec.c -o build/fuzz/codec_fuzz \
	  build/fuzz/libgreen_lua.a build/fuzz/libgreen.a $(LUA_LIB) $(LIBS)
	@mkdir -p build/fuzz/corpus
	build/fuzz/codec_fuzz -max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus

bench: all $(BENCHES)
	@for b in $(BENCHES); do $$b || exit 1; done
	@for b in bench/*.lua; do $(LUA_ENV) $(LUA) $$b || exit 1; done

demo: all $(EXAMPLES)
	$(BUILD)/examples/host_demo
	$(LUA_ENV) $(LUA) bin/green examples/socket_demo.lua

install: all $(BUILD)/libgreen_lua.a
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 runtime/green.h bindings/green_lua.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libgreen.a $(DESTDIR)$(PREFIX)/lib/libgreen.a
	install -m 644 $(BUILD)/libgreen_lua.a $(DESTDIR)$(PREFIX)/lib/libgreen_lua.a
	install -m 755 $(BUILD)/libgreen.so $(DESTDIR)$(PREFIX)/lib/libgreen.so.0
	ln -sf libgreen.so.0 $(DESTDIR)$(PREFIX)/lib/libgreen.so
	sed -e 's|@PREFIX@|$(PREFIX)|' green.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/green.pc
	sed -e 's|@PREFIX@|$(PREFIX)|' green-lua.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/green-lua.pc
	$(MAKE) install-rock INST_LIBDIR=$(DESTDIR)$(PREFIX)/lib/lua/5.4 \
	  INST_LUADIR=$(DESTDIR)$(PREFIX)/share/lua/5.4 \
	  INST_BINDIR=$(DESTDIR)$(PREFIX)/bin

# What `luarocks make` installs: the Lua module, the runtime it uses, and
# the green command.
install-rock: all
	install -d $(INST_LIBDIR)/green $(INST_LUADIR)/green/socket $(INST_BINDIR)
	install -m 755 $(LUA_MODULE) $(INST_LIBDIR)/green/core.so
	install -m 755 $(BUILD)/libgreen.so $(INST_LIBDIR)/libgreen.so.0
	install -m 644 lua/green/*.lua $(INST_LUADIR)/green/
	install -m 644 lua/green/socket/*.lua $(INST_LUADIR)/green/socket/
	install -m 755 bin/green $(INST_BINDIR)/green

clean:
	rm -rf build
