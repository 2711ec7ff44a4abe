#!/usr/bin/env bats
# The command-line contract of the seven fcsnap commands: --help and
# --version on stdout with exit 0, a bad option or operand exit 2 with the
# --help hint, and a bad id refused before any state is created.

load helpers/common

CMDS=(fcsnap-create fcsnap-restore fcsnap-list fcsnap-delete fcsnap-verify fcsnap-export
	fcsnap-import)

setup() {
	sk_setup
	FRESH=$BATS_TEST_TMPDIR/fresh
	printf '[state]\ndir = %s\n' "$FRESH" >"$CONF"
}

@test "fcsnap-*: --help and --version print to stdout and exit 0" {
	for c in "${CMDS[@]}"; do
		run --separate-stderr "$c" --help
		assert_success
		assert_equal "$stderr" ""
		[[ $output == Usage:*"$c"*"Exit status:"*"See $c(1)."* ]] || fail "$c --help: $output"
		run --separate-stderr "$c" --version
		assert_success
		assert_equal "$stderr" ""
		assert_output "$c (statekit) $(sed -n 's/^VERSION *:= *//p' "$REPO/Makefile")"
	done
	[[ ! -e $FRESH ]] || fail "--help created the state directory"
}

@test "fcsnap-*: a bad option or a wrong number of operands is exit 2 with the --help hint" {
	for c in "${CMDS[@]}"; do
		run --separate-stderr "$c" --no-such-option
		assert_failure 2
		[[ $stderr == *"Try '$c --help' for more information."* ]] || fail "$c: $stderr"
	done
	for args in "fcsnap-create vm1" "fcsnap-restore s1" "fcsnap-list a b" "fcsnap-delete" \
		"fcsnap-verify" "fcsnap-verify --all s1" "fcsnap-export" "fcsnap-import x" \
		"fcsnap-list --json --ids"; do
		run --separate-stderr $args
		assert_failure 2
		[[ $stderr == *"Try '"* ]] || fail "$args: $stderr"
	done
	[[ ! -e $FRESH ]] || fail "a usage error created the state directory"
}

@test "fcsnap-*: ids outside [A-Za-z0-9_-] are usage errors before anything is touched" {
	for args in "fcsnap-create vm1 ../s" "fcsnap-create a/b s1" "fcsnap-restore s1 .x" \
		"fcsnap-delete s..1" "fcsnap-verify -s" "fcsnap-list ../m" "fcsnap-export s/1"; do
		run --separate-stderr $args
		assert_failure 2
		[[ $stderr == *"invalid"* || $stderr == *"id"* ]] || fail "$args: $stderr"
	done
	run --separate-stderr fcsnap-import --as 'a b' </dev/null
	assert_failure 2
	run --separate-stderr fcsnap-restore --tap eth0 s1 vm1
	assert_failure 2
	[[ $stderr == *"invalid --tap"* ]] || fail "$stderr"
	run --separate-stderr fcsnap-restore --tap eth0=waytoolongtapname0 s1 vm1
	assert_failure 2
	[[ ! -e $FRESH ]] || fail "a bad id created the state directory"
}

@test "fcsnap-*: an unknown config key is exit 2 naming file, line and key" {
	printf '[firecracker]\nbogus = 1\n' >>"$CONF"
	for c in fcsnap-list "fcsnap-delete s1" "fcsnap-verify --all"; do
		run --separate-stderr $c
		assert_failure 2
		[[ $stderr == *"$CONF:4"*"bogus"* ]] || fail "$c: $stderr"
	done
}

@test "fcsnap-list: --ids on a host with no index prints nothing and creates nothing" {
	run --separate-stderr fcsnap-list --ids
	assert_success
	assert_output ""
	[[ ! -e $FRESH ]] || fail "fcsnap-list --ids created the state directory"
}
