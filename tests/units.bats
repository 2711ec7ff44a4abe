#!/usr/bin/env bats
# make install and make uninstall, and the systemd units they install: where
# each file goes, that systemd's own checker accepts the units as installed
# (and refuses broken copies of them), that systemctl and zsh find what was
# installed where they look, and that make uninstall takes it all away.
#
# systemd need not be running: systemd-analyze verify and systemctl --root
# read unit files on their own. Both come with Debian's systemd package, and
# verify reads the units' Documentation= pages with man (man-db);
# scripts/deps.sh installs both.

load helpers/common

UNIT_FILES=(statekit-preserve@.service statekit-preserve@.timer
	statekit-preserve-all.service statekit-preserve-all.timer
	statekit-verify-all.service statekit-verify-all.timer)

setup() {
	D=$BATS_TEST_TMPDIR/dest
	# An installation that is real where it stands: PREFIX inside the test,
	# so ExecStart names commands that exist.
	P=$BATS_TEST_TMPDIR/usr/local
	U=$P/lib/systemd/system
}

need_tool() {
	command -v "$1" >/dev/null ||
		fail "$1 is not installed (Debian: apt-get install $2, or run scripts/deps.sh)"
}

# sk_make TARGET VAR=VALUE...: make TARGET (install or uninstall) in this
# tree, with the test's build directory.
sk_make() {
	run make -s -C "$REPO" B="${SK_BUILD:-build}" "$@"
	assert_success
}

# sa_verify UNIT-FILE...: systemd-analyze verify, with the installed manual
# pages for Documentation=. Prints what it said; succeeds only when it exits
# 0 and says nothing: it exits 0 after a value it cannot parse, which
# systemd then ignores. Only the named units are judged, not the host's.
sa_verify() {
	local out rc=0
	out=$(MANPATH=$P/share/man systemd-analyze verify --recursive-errors=no "$@" 2>&1) || rc=$?
	printf '%s\n' "$out"
	[[ $rc -eq 0 && -z $out ]]
}

# timer_key FILE KEY: the value of KEY in the [Timer] section of FILE.
timer_key() {
	awk -F= -v k="$2" '/^\[/ { t = ($0 == "[Timer]") } t && $1 == k { print substr($0, length(k) + 2) }' "$1"
}

# elapse_gap CALENDAR: seconds between the next two times CALENDAR names, in
# UTC; prints the hour of the first on a second line.
elapse_gap() {
	local out a b
	out=$(TZ=UTC systemd-analyze calendar --iterations=2 "$1") || fail "bad calendar '$1': $out"
	a=$(sed -n 's/^ *Next elapse: //p' <<<"$out")
	b=$(sed -n 's/^ *Iter\. #2: //p' <<<"$out")
	[[ -n $a && -n $b ]] || fail "systemd-analyze calendar said: $out"
	echo $(($(date -d "$b" +%s) - $(date -d "$a" +%s)))
	date -u -d "$a" +%H
}

@test "make install: the units go to PREFIX/lib/systemd/system, ExecStart naming BINDIR without DESTDIR" {
	sk_make install DESTDIR="$D"
	local f u=$D/usr/local/lib/systemd/system
	for f in "${UNIT_FILES[@]}"; do
		[[ -f $u/$f ]] || fail "make install did not install $u/$f"
		assert_equal "$f $(stat -c %a "$u/$f")" "$f 644"
	done
	assert_equal "$(ls "$u" | wc -l)" "${#UNIT_FILES[@]}"
	run grep -h '^ExecStart=' "$u"/*.service
	assert_equal "$(sort <<<"$output")" "$(printf '%s\n' \
		'ExecStart=/usr/local/bin/ws-preserve --all --wait 600' \
		'ExecStart=/usr/local/bin/ws-preserve --verify --all --wait 600' \
		'ExecStart=/usr/local/bin/ws-preserve --wait 600 %i' | sort)"
	run grep -rl -e '@[A-Z]*@' -e "$D" "$u"
	assert_failure 1
	# the commands themselves are where ExecStart says
	[[ -x $D/usr/local/bin/ws-preserve ]] || fail "no $D/usr/local/bin/ws-preserve"
}

@test "systemd-analyze verify: every installed unit passes, with its commands and manual pages in place" {
	need_tool systemd-analyze systemd
	need_tool man man-db
	sk_make install PREFIX="$P"
	run sa_verify "${UNIT_FILES[@]/#/$U/}"
	assert_success
	assert_output ""
	# an instance, as systemctl would start it for bot1
	run sa_verify "$U/statekit-preserve@bot1.service" "$U/statekit-preserve@bot1.timer"
	assert_success
	assert_output ""
}

@test "systemd-analyze verify: broken copies of the units are refused, each saying why" {
	need_tool systemd-analyze systemd
	need_tool man man-db
	sk_make install PREFIX="$P"
	local b=$BATS_TEST_TMPDIR/broken
	# break UNIT SED-SCRIPT WANT: a copy of the installed UNIT with SED-SCRIPT
	# applied is refused, and systemd-analyze says WANT.
	break_unit() {
		rm -rf "$b"
		mkdir -p "$b"
		cp "$U"/* "$b"/
		sed -i "$2" "$b/$1"
		run ! cmp -s "$U/$1" "$b/$1"
		run sa_verify "$b/$1"
		assert_failure
		assert_output --partial "$3"
	}
	break_unit statekit-preserve@.service "s|$P/bin/ws-preserve|$P/bin/ws-preserved|" \
		"Command $P/bin/ws-preserved is not executable"
	break_unit statekit-preserve-all.service 's|^ExecStart=|ExecStrat=|' "Unknown key 'ExecStrat'"
	break_unit statekit-verify-all.service 's|man:ws-preserve(1)|man:ws-preserved(1)|' \
		"'man ws-preserved(1)' failed"
	break_unit statekit-preserve-all.timer 's|^OnCalendar=.*|OnCalendar=*-*-* 27:15:00|' \
		"Failed to parse calendar specification"
	# systemd-analyze exits 0 here: the warning alone must fail the check.
	break_unit statekit-verify-all.timer 's|^Persistent=true|Persistent=weekly|' \
		"Failed to parse boolean value"
}

@test "units: each timer starts its service, nightly or weekly at night, persistent, with a random delay" {
	local t svc gap hour
	for t in "$REPO"/contrib/systemd/*.timer; do
		svc=$(timer_key "$t" Unit)
		[[ -n $svc ]] || svc=$(basename "$t" .timer).service
		[[ -f $REPO/contrib/systemd/$svc ]] || fail "$t starts $svc, which is not in contrib/systemd"
		assert_equal "$t: $(timer_key "$t" Persistent)" "$t: true"
		[[ $(timer_key "$t" RandomizedDelaySec) =~ ^[1-9][0-9]*(min|h)$ ]] ||
			fail "$t has no RandomizedDelaySec in minutes or hours"
		{ read -r gap; read -r hour; } < <(elapse_gap "$(timer_key "$t" OnCalendar)")
		case ${t##*/} in
		statekit-verify-all.timer) assert_equal "$t: $gap" "$t: 604800" ;;
		*) assert_equal "$t: $gap" "$t: 86400" ;;
		esac
		((10#$hour < 6)) || fail "$t runs at $hour h, not at night"
	done
	assert_equal "$(ls "$REPO"/contrib/systemd/*.timer | wc -l)" 3
}

@test "statekit-preserve@.service: its ExecStart for bot1 keeps a generation of bot1" {
	sk_setup
	sk_make install PREFIX="$P"
	make_sample bot1
	local cmd
	cmd=$(sed -n 's/^ExecStart=//p' "$U/statekit-preserve@.service")
	cmd=${cmd//%i/bot1}
	[[ $cmd == "$P/bin/ws-preserve "* ]] || fail "ExecStart=$cmd"
	# as systemd runs it: no shell, no terminal, an empty stdin
	read -ra argv <<<"$cmd"
	run --separate-stderr env -i PATH=/usr/bin:/bin STATEKIT_CONFIG="$CONF" "${argv[@]}" </dev/null
	assert_success
	assert_equal "$stderr" ""
	run ls "$ST/backups/bot1"
	assert_output gen-000001.tar.gz
	assert_equal "$(journal_rows)" 0
}

@test "systemctl --root: enables the timers from where make install put them, and disables them" {
	need_tool systemctl systemd
	sk_make install DESTDIR="$D"
	local w=$D/etc/systemd/system/timers.target.wants
	run systemctl --root="$D" enable statekit-preserve-all.timer statekit-verify-all.timer \
		statekit-preserve@bot1.timer
	assert_success
	assert_equal "$(readlink "$w/statekit-preserve-all.timer")" \
		/usr/local/lib/systemd/system/statekit-preserve-all.timer
	assert_equal "$(readlink "$w/statekit-verify-all.timer")" \
		/usr/local/lib/systemd/system/statekit-verify-all.timer
	assert_equal "$(readlink "$w/statekit-preserve@bot1.timer")" \
		/usr/local/lib/systemd/system/statekit-preserve@.timer
	run systemctl --root="$D" disable statekit-preserve-all.timer statekit-verify-all.timer \
		statekit-preserve@bot1.timer
	assert_success
	assert_equal "$(find "$D/etc" -type l)" ""
}

@test "make install: zsh finds the completions in its own search path for /usr/local" {
	need_tool zsh zsh
	sk_make install DESTDIR="$D"
	[[ -f $D/usr/local/share/zsh/site-functions/_ws-preserve ]] ||
		fail "no _ws-preserve in $D/usr/local/share/zsh/site-functions"
	# zsh's own fpath, every directory of it moved under DESTDIR ahead of the
	# real ones: compinit finds _ws-preserve only if make install put it in
	# a directory zsh searches.
	run --separate-stderr zsh -f -c '
		fpath=("$1"${^fpath} $fpath)
		autoload -Uz compinit && compinit -u -d "$2" || exit 1
		print -r -- ${_comps[ws-preserve]-none}
		autoload -Uz +X _ws-preserve && print -r -- $functions_source[_ws-preserve]
	' zsh "$D" "$BATS_TEST_TMPDIR/zcompdump"
	assert_success
	assert_equal "$output" "_ws-preserve"$'\n'"$D/usr/local/share/zsh/site-functions/_ws-preserve"
}

@test "make uninstall: removes every file make install put in place" {
	sk_make install DESTDIR="$D"
	local d
	for d in bin share/man/man1 share/man/man5 share/man/man7 share/bash-completion/completions \
		share/zsh/site-functions lib/systemd/system; do
		[[ -n $(ls -A "$D/usr/local/$d") ]] || fail "make install put nothing in $d"
	done
	# another package's file in the same directories stays
	touch "$D/usr/local/bin/other" "$D/usr/local/lib/systemd/system/other.service"
	sk_make uninstall DESTDIR="$D"
	run bash -c 'find "$1" ! -type d | sort' find "$D"
	assert_output "$(printf '%s\n' "$D/usr/local/bin/other" "$D/usr/local/lib/systemd/system/other.service" | sort)"
}
