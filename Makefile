# statekit: make, make check, make lint, make install. DEVELOPER=1 adds -Werror;
# SANITIZE=address,undefined builds sanitized binaries. make fuzz builds the
# libFuzzer targets of tests/fuzz with clang into build-fuzz (see
# scripts/fuzz.sh, which runs them).

VERSION    := 0.1.0
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# zsh looks in /usr/local/share/zsh/site-functions; a Debian package
# (PREFIX=/usr) sets ZSHCOMPDIR=/usr/share/zsh/vendor-completions instead.
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
# systemd looks in /usr/local/lib/systemd/system as well as /usr/lib/....
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR    ?=

CC         ?= cc
PKG_CONFIG ?= pkg-config
PKGS       := libarchive zlib inih sqlite3 libzstd libcrypto libcurl jansson

CFLAGS     ?= -O2 -g
WARNFLAGS  := -std=gnu11 -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
              -Wmissing-prototypes -Wvla
ifeq ($(DEVELOPER),1)
WARNFLAGS  += -Werror
endif
ifneq ($(SANITIZE),)
CFLAGS     += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS    += -fsanitize=$(SANITIZE)
endif

DEPCFLAGS  := $(shell $(PKG_CONFIG) --cflags $(PKGS))
DEPLIBS    := $(shell $(PKG_CONFIG) --libs $(PKGS)) -lpthread
ALLCFLAGS  = $(WARNFLAGS) $(CFLAGS) -D_GNU_SOURCE -DSK_VERSION='"$(VERSION)"' \
             -Ilib $(DEPCFLAGS) -MMD -MP

B          ?= build
LIB_SRC    := $(wildcard lib/*.c)
LIB_OBJ    := $(LIB_SRC:%.c=$(B)/%.o)
CMD_SRC    := $(wildcard cmd/*.c)
CMDS       := $(notdir $(CMD_SRC:.c=))
BINS       := $(addprefix $(B)/bin/,$(CMDS))
UNIT_SRC   := $(wildcard tests/unit/*.c)
UNITS      := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
MAN1       := $(wildcard man/man1/*.1)
MAN5       := $(wildcard man/man5/*.5)
MAN7       := $(wildcard man/man7/*.7)
SYSTEMD_UNITS := $(wildcard contrib/systemd/*.service contrib/systemd/*.timer)

.PHONY: all check lint install uninstall clean demo fuzz fuzz-targets

# The fuzz build: the library and the targets built by clang with coverage
# and sanitizers, in a build directory of its own.
FUZZ_CC     ?= clang
FUZZ_B      ?= build-fuzz
FUZZ_CFLAGS ?= -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
               -fno-sanitize-recover=all
FUZZ_SRC    := $(wildcard tests/fuzz/*.c)
FUZZERS     := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)

all: $(BINS) $(UNITS)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

# Made afresh: ar would keep the object of a source file that is gone.
$(B)/libstatekit.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/bin/%: $(B)/cmd/%.o $(B)/libstatekit.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEPLIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/libstatekit.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEPLIBS)

$(B)/fuzz/%: $(B)/tests/fuzz/%.o $(B)/libstatekit.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(DEPLIBS)

fuzz:
	$(MAKE) B=$(FUZZ_B) CC=$(FUZZ_CC) CFLAGS='$(FUZZ_CFLAGS)' DEVELOPER=0 fuzz-targets

fuzz-targets: $(FUZZERS)

check: all
	SK_BUILD=$(B) tests/run.sh

# The house rules: C formatted by .clang-format, man pages clean for mandoc,
# shell scripts clean for shellcheck. The bats suites and their helpers are
# checked at warning level, without the findings that come from bats running
# each test in a subshell and from variables the helpers set for the suites.
C_ALL      := $(wildcard lib/*.c lib/*.h cmd/*.c tests/unit/*.c tests/fuzz/*.c)
SH_SCRIPTS := $(wildcard scripts/*.sh bench/*.sh completions/bash/*) tests/run.sh \
              tests/fuzz/seeds.sh .ci/run
lint:
	clang-format --dry-run -Werror $(C_ALL)
	mandoc -Tlint -W warning $(MAN1) $(MAN5) $(MAN7)
	shellcheck $(SH_SCRIPTS)
	shellcheck -S warning -e SC2030,SC2031,SC2034,SC2154,SC2153 $(wildcard tests/*.bats)
	shellcheck -S warning -e SC2034,SC2154 $(wildcard tests/helpers/*.bash)

demo:
	scripts/demo.sh

# The systemd units name the commands by absolute path: @BINDIR@ in them
# becomes $(BINDIR), where the commands run from once installed (DESTDIR is
# only where a package is staged).
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) \
		$(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/
	install -m 0644 $(wildcard completions/bash/*) $(DESTDIR)$(BASHCOMPDIR)/
	install -m 0644 $(wildcard completions/zsh/_*) $(DESTDIR)$(ZSHCOMPDIR)/
	for u in $(SYSTEMD_UNITS); do \
		f='$(DESTDIR)$(SYSTEMDUNITDIR)'/$${u##*/}; \
		sed 's|@BINDIR@|$(BINDIR)|g' "$$u" >"$$f" && chmod 0644 "$$f" || exit 1; \
	done

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(CMDS))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7)))
	rm -f $(addprefix $(DESTDIR)$(BASHCOMPDIR)/,$(notdir $(wildcard completions/bash/*)))
	rm -f $(addprefix $(DESTDIR)$(ZSHCOMPDIR)/,$(notdir $(wildcard completions/zsh/_*)))
	rm -f $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(notdir $(SYSTEMD_UNITS)))

clean:
	rm -rf $(B) $(FUZZ_B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
