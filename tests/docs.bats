#!/usr/bin/env bats
# The documentation layer: the man pages lint clean and carry the sections and
# exit codes every page must have, statekit.ini(5) documents exactly the keys
# and defaults the code knows, and the man pages and shell completions agree
# with what each command's --help says.
#
# The --help checks need build/bin/<cmd>; without it they fail, saying so.

bats_require_minimum_version 1.5.0

CMDS=(ws-export ws-import ws-preserve
    fcsnap-create fcsnap-restore fcsnap-list fcsnap-delete fcsnap-verify
    fcsnap-export fcsnap-import fcsnap-push fcsnap-pull)
MANPAGES=(man/man1/ws-export.1 man/man1/ws-import.1 man/man1/ws-preserve.1
    man/man1/fcsnap-create.1 man/man1/fcsnap-restore.1 man/man1/fcsnap-list.1
    man/man1/fcsnap-delete.1 man/man1/fcsnap-verify.1
    man/man1/fcsnap-export.1 man/man1/fcsnap-import.1
    man/man1/fcsnap-push.1 man/man1/fcsnap-pull.1
    man/man5/statekit.ini.5 man/man7/statekit.7)

# Every section.key=default of statekit.ini, as the CLI spec of issue 2 lists
# them. statekit.ini.5 must document exactly these, with these defaults.
INI_KEYS=(
    'state.dir=/var/lib/statekit'
    'workspace.backend=dir'
    'workspace.path=/var/lib/statekit/workspaces/%s'
    'workspace.stop_command='
    'workspace.start_command='
    'workspace.legacy_dir=/var/lib/statekit/bots'
    'workspace.keep=3'
    'workspace.keep_hourly=0'
    'workspace.keep_daily=0'
    'workspace.keep_weekly=0'
    'workspace.keep_monthly=0'
    'workspace.keep_yearly=0'
    'workspace.keep_within='
    'containerd.address=/run/containerd/containerd.sock'
    'containerd.namespace=default'
    'containerd.container=workspace-%s'
    'containerd.data_path=/data'
    'containerd.stop_timeout=10'
    'containerd.ctr=ctr'
    'archive.compression=gzip'
    'archive.level=0'
    'archive.threads=0'
    'archive.max_entries=1000000'
    'archive.max_bytes=1T'
    'archive.max_path=4096'
    'archive.max_depth=256'
    'firecracker.binary=firecracker'
    'firecracker.jailer='
    'firecracker.socket=/srv/jailer/firecracker/%s/root/run/firecracker.socket'
    'firecracker.chroot=/srv/jailer/firecracker/%s/root'
    'firecracker.clone=auto'
    'firecracker.snapshot=auto'
    'remote.endpoint='
    'remote.region='
    'remote.addressing=path'
    'remote.concurrency=0'
    'remote.credentials_file='
)

setup()
{
    load '/usr/lib/bats/bats-support/load.bash'
    load '/usr/lib/bats/bats-assert/load.bash'
    ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
    cd "$ROOT" || return 1
}

# need_tool TOOL PACKAGE: fail with a clear message when TOOL is missing.
need_tool()
{
    command -v "$1" >/dev/null ||
        fail "$1 is not installed (Debian: apt-get install $2)"
}

# help_options CMD: run build/bin/CMD --help and set HELP_LONG to the long
# options it names and HELP_SHORT to the short options of its "-x, --xxx" lines.
help_options()
{
    local bin=${SK_BUILD:-build}/bin/$1

    [[ -x $bin ]] ||
        fail "$ROOT/$bin does not exist: build the commands with 'make' first"
    run --separate-stderr "$bin" --help
    assert_success
    assert_equal "$stderr" ""
    mapfile -t HELP_LONG < <(grep -oE -- '--[a-z][a-z0-9-]*' <<<"$output" | sort -u)
    mapfile -t HELP_SHORT < <(grep -oE -- '^ *-[A-Za-z],' <<<"$output" |
        tr -d ' ,-' | sort -u)
    ((${#HELP_LONG[@]} > 0)) || fail "'$1 --help' names no long option"
}

# options_items PAGE: the .It lines of the OPTIONS section of PAGE.
options_items()
{
    awk '/^\.Sh /{ on = ($0 == ".Sh OPTIONS") } on && /^\.It /' "$1"
}

# man_has_item PAGE OPTION: an .It line in the OPTIONS section of PAGE
# documents OPTION (--foo is written "Fl -foo", -f "Fl f").
man_has_item()
{
    options_items "$1" | grep -qE -e "Fl ${2#-}( |\$)"
}

# zsh_options FILE: the long options the _arguments specs of a zsh completion
# file offer (exclusion lists in (...) and descriptions in [...] set aside).
zsh_options()
{
    grep -E "^[[:space:]]*['\"(]" "$1" |
        sed -E -e "s/^[[:space:]]*['\"]?\([^)]*\)//" -e 's/\[[^]]*\]//g' |
        grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

# bash_options CMD: the long options completions/bash/CMD offers for "--".
bash_options()
{
    complete_bash "$1" --
    BASH_LONG=("${lines[@]}")
}

# man_items PAGE: the long options that .It lines of the OPTIONS section of
# PAGE document.
man_items()
{
    options_items "$1" | grep -oE 'Fl -[a-z][a-z0-9-]*' |
        sed 's/^Fl -/--/' | sort -u
}

# in_list WORD LIST...: WORD is one of LIST.
in_list()
{
    local w=$1
    shift
    printf '%s\n' "$@" | grep -qxFe "$w"
}

check_help_in_docs()
{
    local cmd=$1 o missing=() zsh_long

    help_options "$cmd"
    bash_options "$cmd"
    mapfile -t zsh_long < <(zsh_options "completions/zsh/_$cmd")
    for o in "${HELP_LONG[@]}"; do
        man_has_item "man/man1/$cmd.1" "$o" ||
            missing+=("man/man1/$cmd.1 has no .It for $o")
        in_list "$o" "${BASH_LONG[@]}" ||
            missing+=("completions/bash/$cmd does not offer $o")
        in_list "$o" "${zsh_long[@]}" ||
            missing+=("completions/zsh/_$cmd does not offer $o")
    done
    for o in "${HELP_SHORT[@]}"; do
        man_has_item "man/man1/$cmd.1" "-$o" ||
            missing+=("man/man1/$cmd.1 has no .It for -$o")
        grep -qE -e "[{(' ]-${o}[+,=)' ]" "completions/zsh/_$cmd" ||
            missing+=("completions/zsh/_$cmd does not offer -$o")
    done
    ((${#missing[@]} == 0)) || fail "$(printf '%s\n' "${missing[@]}")"
}

check_docs_in_help()
{
    local cmd=$1 o extra=()

    help_options "$cmd"
    bash_options "$cmd"
    for o in $(man_items "man/man1/$cmd.1"); do
        in_list "$o" "${HELP_LONG[@]}" ||
            extra+=("man/man1/$cmd.1 documents $o, which '$cmd --help' does not name")
    done
    for o in "${BASH_LONG[@]}"; do
        in_list "$o" "${HELP_LONG[@]}" ||
            extra+=("completions/bash/$cmd offers $o, which '$cmd --help' does not name")
    done
    for o in $(zsh_options "completions/zsh/_$cmd"); do
        in_list "$o" "${HELP_LONG[@]}" ||
            extra+=("completions/zsh/_$cmd offers $o, which '$cmd --help' does not name")
    done
    ((${#extra[@]} == 0)) || fail "$(printf '%s\n' "${extra[@]}")"
}

# complete_bash CMD WORD...: complete the last WORD of the command line
# "CMD WORD..." with completions/bash/CMD in a fresh bash, as bash would on
# Tab; print COMPREPLY one per line.
complete_bash()
{
    run --separate-stderr bash -c '
        source "completions/bash/$1" || exit 1
        fn=$(complete -p "$1" | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
        [[ -n $fn ]] || { echo "no complete -F for $1" >&2; exit 1; }
        COMP_WORDS=("$@")
        COMP_CWORD=$(($# - 1))
        "$fn" || exit 1
        printf "%s\n" "${COMPREPLY[@]}"
    ' bash "$@"
    assert_success
    assert_equal "$stderr" ""
}

# fake_preserve: put on PATH a ws-preserve whose --list-ids prints two ids and
# records its arguments in $BATS_TEST_TMPDIR/args.
fake_preserve()
{
    mkdir -p "$BATS_TEST_TMPDIR/bin"
    printf '#!/bin/sh\necho "$*" >"%s/args"\nprintf "bot-a\\nbot_b\\n"\n' \
        "$BATS_TEST_TMPDIR" >"$BATS_TEST_TMPDIR/bin/ws-preserve"
    chmod +x "$BATS_TEST_TMPDIR/bin/ws-preserve"
    export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
}

@test "ws-export: every --help option is in the man page and both completions" {
    check_help_in_docs ws-export
}

@test "ws-import: every --help option is in the man page and both completions" {
    check_help_in_docs ws-import
}

@test "ws-preserve: every --help option is in the man page and both completions" {
    check_help_in_docs ws-preserve
}

@test "ws-export: the man page and completions name no option --help lacks" {
    check_docs_in_help ws-export
}

@test "ws-import: the man page and completions name no option --help lacks" {
    check_docs_in_help ws-import
}

@test "ws-preserve: the man page and completions name no option --help lacks" {
    check_docs_in_help ws-preserve
}

@test "fcsnap-create: every --help option is in the man page and both completions" {
    check_help_in_docs fcsnap-create
}

@test "fcsnap-restore: every --help option is in the man page and both completions" {
    check_help_in_docs fcsnap-restore
}

@test "fcsnap-list: every --help option is in the man page and both completions" {
    check_help_in_docs fcsnap-list
}

@test "fcsnap-delete: every --help option is in the man page and both completions" {
    check_help_in_docs fcsnap-delete
}

@test "fcsnap-verify: every --help option is in the man page and both completions" {
    check_help_in_docs fcsnap-verify
}

@test "fcsnap-export: every --help option is in the man page and both completions" {
    check_help_in_docs fcsnap-export
}

@test "fcsnap-import: every --help option is in the man page and both completions" {
    check_help_in_docs fcsnap-import
}

@test "fcsnap-push: every --help option is in the man page and both completions" {
    check_help_in_docs fcsnap-push
}

@test "fcsnap-pull: every --help option is in the man page and both completions" {
    check_help_in_docs fcsnap-pull
}

@test "fcsnap-create: the man page and completions name no option --help lacks" {
    check_docs_in_help fcsnap-create
}

@test "fcsnap-restore: the man page and completions name no option --help lacks" {
    check_docs_in_help fcsnap-restore
}

@test "fcsnap-list: the man page and completions name no option --help lacks" {
    check_docs_in_help fcsnap-list
}

@test "fcsnap-delete: the man page and completions name no option --help lacks" {
    check_docs_in_help fcsnap-delete
}

@test "fcsnap-verify: the man page and completions name no option --help lacks" {
    check_docs_in_help fcsnap-verify
}

@test "fcsnap-export: the man page and completions name no option --help lacks" {
    check_docs_in_help fcsnap-export
}

@test "fcsnap-import: the man page and completions name no option --help lacks" {
    check_docs_in_help fcsnap-import
}

@test "fcsnap-push: the man page and completions name no option --help lacks" {
    check_docs_in_help fcsnap-push
}

@test "fcsnap-pull: the man page and completions name no option --help lacks" {
    check_docs_in_help fcsnap-pull
}

@test "man pages: mandoc -Tlint -W warning reports nothing" {
    need_tool mandoc mandoc
    run mandoc -Tlint -W warning "${MANPAGES[@]}"
    assert_success
    assert_output ""
}

@test "man pages: every page has the sections in order" {
    local page want got
    want='NAME SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT FILES EXIT_STATUS EXAMPLES SEE_ALSO'
    for page in "${MANPAGES[@]}"; do
        got=$(sed -n 's/^\.Sh //p' "$page" | tr ' ' _ | tr '\n' ' ')
        assert_equal "$page: ${got% }" "$page: $want"
    done
}

@test "man pages: every EXIT STATUS section lists the codes 0 to 5" {
    local page n codes
    for page in "${MANPAGES[@]}"; do
        codes=$(awk '/^\.Sh /{ on = ($0 == ".Sh EXIT STATUS") } on && /^\.It [0-9]+$/{ print $2 }' "$page" |
            tr '\n' ' ')
        assert_equal "$page: ${codes% }" "$page: 0 1 2 3 4 5"
    done
}

@test "statekit.ini.5: documents exactly the keys of the spec, with their defaults" {
    local want got
    want=$(printf '%s\n' "${INI_KEYS[@]}" | sort)
    # .Ss Bq SECTION opens a section; .It Cm KEY No = [Macro] DEFAULT
    # documents a key.
    got=$(awk '
        /^\.Sh /         { sect = "" }
        /^\.Ss Bq /      { sect = $3 }
        sect != "" && /^\.It Cm [a-z_]+ No =/ {
            def = ""
            if (NF >= 6)
                def = (NF >= 7) ? $7 : $6
            print sect "." $3 "=" def
        }' man/man5/statekit.ini.5 | sort)
    # A diff names just the keys that differ: - as the spec says, + as the page.
    run diff <(echo "$want") <(echo "$got")
    assert_success
}

@test "statekit.ini.5: the examples use only documented keys" {
    local want got
    want=$(printf '%s\n' "${INI_KEYS[@]%%=*}" | sort)
    got=$(awk '
        /^\.Sh EXAMPLES/          { on = 1; next }
        /^\.Sh /                  { on = 0 }
        on && /^\[[a-z]+\]$/      { sect = substr($0, 2, length($0) - 2) }
        on && /^[a-z_]+ = /       { print sect "." $1 }' man/man5/statekit.ini.5 |
        sort -u)
    [[ -n $got ]] || fail "no example keys found in statekit.ini.5"
    run comm -23 <(echo "$got") <(echo "$want")
    assert_success
    assert_output ""
}

@test "statekit.7: the fault injection subsection names tests/crash.bats" {
    run grep -A 20 '^\.Ss Fault injection$' man/man7/statekit.7
    assert_success
    assert_output --partial 'STATEKIT_FAULT'
    assert_output --partial 'tests/crash.bats'
}

# fault_points: every fault point of the source, one per line, sorted.
fault_points()
{
    grep -ohE 'fault_(point|wanted)\("[a-z0-9-]+"' lib/*.c | sed -E 's/^[^"]*"//; s/"$//' | sort -u
}

@test "statekit.7: the fault injection subsection lists every fault point of the source, and no other" {
    local src doc
    src=$(fault_points)
    [[ -n $src ]] || fail "no fault_point(\"...\") in lib/*.c"
    # .It Cm NAME [, NAME]... items of the subsection
    doc=$(awk '/^\.S[hs] / { on = ($0 == ".Ss Fault injection") }
        on && /^\.It Cm / { sub(/^\.It Cm /, ""); gsub(/ , /, "\n"); print }' man/man7/statekit.7 |
        sort -u)
    # - in the source only, + in the page only
    run diff <(echo "$src") <(echo "$doc")
    assert_success
}

@test "man pages: the fault points are in statekit.7 alone; a man1 page's STATEKIT_FAULT entry is one line pointing there" {
    local page p entry bad=()
    for page in man/man1/*.1 man/man5/*.5; do
        for p in $(fault_points); do
            ! grep -qwF -e "$p" "$page" || bad+=("$page names the fault point $p")
        done
        grep -q 'STATEKIT_FAULT' "$page" || continue
        # the entry as a reader sees it: the lines under its tag in ENVIRONMENT
        entry=$(mandoc -Tascii "$page" | col -b | awk '
            /^[A-Z]/ { sect = $0 }
            sect == "ENVIRONMENT" && $1 == "STATEKIT_FAULT" && NF == 1 { on = 1; next }
            on && NF == 0 { exit }
            on { sub(/^[ \t]+/, ""); print }')
        [[ -n $entry ]] || bad+=("$page has STATEKIT_FAULT outside an ENVIRONMENT entry of its own")
        [[ $entry != *$'\n'* ]] || bad+=("$page: the STATEKIT_FAULT entry is more than one line: $entry")
        [[ $entry == *'statekit(7).' ]] || bad+=("$page: the STATEKIT_FAULT entry does not point to statekit(7): $entry")
    done
    ((${#bad[@]} == 0)) || fail "$(printf '%s\n' "${bad[@]}")"
}

@test "bash completions: bash -n accepts every file" {
    local cmd
    for cmd in "${CMDS[@]}"; do
        run bash -n "completions/bash/$cmd"
        assert_success
        assert_output ""
    done
}

@test "bash completions: every command registers a completion function" {
    local cmd
    for cmd in "${CMDS[@]}"; do
        run bash -c 'source "completions/bash/$1" && complete -p "$1"' bash "$cmd"
        assert_success
        assert_output --regexp "^complete -F _[a-z_]+ $cmd\$"
    done
}

@test "ws-export: bash completes --comp to --compression" {
    complete_bash ws-export --comp
    assert_line -- --compression
}

@test "ws-export: bash completes the codecs after -z" {
    complete_bash ws-export -z ''
    assert_equal "$(sort <<<"$output" | tr '\n' ' ')" "gzip none zstd "
    complete_bash ws-export --compression = z
    assert_output zstd
}

@test "ws-export: bash completes file names after -o" {
    mkdir "$BATS_TEST_TMPDIR/out"
    touch "$BATS_TEST_TMPDIR/out/bot1.tar.gz"
    complete_bash ws-export -o "$BATS_TEST_TMPDIR/out/bo"
    assert_output "$BATS_TEST_TMPDIR/out/bot1.tar.gz"
}

@test "ws-import: bash completes file names after --input" {
    mkdir "$BATS_TEST_TMPDIR/in"
    touch "$BATS_TEST_TMPDIR/in/bot1.tar.zst"
    complete_bash ws-import --input "$BATS_TEST_TMPDIR/in/bo"
    assert_output "$BATS_TEST_TMPDIR/in/bot1.tar.zst"
}

@test "ws-import: bash completes bot ids from ws-preserve --list-ids" {
    fake_preserve
    complete_bash ws-import bot-
    assert_output bot-a
    assert_equal "$(cat "$BATS_TEST_TMPDIR/args")" "--list-ids"
}

@test "ws-export: bash passes -c and --config on to ws-preserve --list-ids" {
    fake_preserve
    complete_bash ws-export -c /etc/x.ini ''
    assert_equal "$(printf '%s ' $output)" "bot-a bot_b "
    assert_equal "$(cat "$BATS_TEST_TMPDIR/args")" "--config /etc/x.ini --list-ids"
    complete_bash ws-export --config=/etc/y.ini -q ''
    assert_equal "$(cat "$BATS_TEST_TMPDIR/args")" "--config /etc/y.ini --list-ids"
    complete_bash ws-export --config = /etc/z.ini ''
    assert_equal "$(cat "$BATS_TEST_TMPDIR/args")" "--config /etc/z.ini --list-ids"
}

@test "ws-preserve: bash completes modes and no bot after --list-ids" {
    fake_preserve
    complete_bash ws-preserve --li
    assert_equal "$(sort <<<"$output" | tr '\n' ' ')" "--list --list-ids "
    complete_bash ws-preserve --list-ids ''
    assert_output ""
    complete_bash ws-preserve --restore bot_
    assert_output bot_b
}

@test "zsh completions: zsh -n accepts every file and each starts with #compdef" {
    if ! command -v zsh >/dev/null; then
        [[ ${CI:-} != true ]] || fail "zsh is not installed (Debian: apt-get install zsh)"
        skip "zsh is not installed"
    fi
    local cmd
    for cmd in "${CMDS[@]}"; do
        run zsh -n "completions/zsh/_$cmd"
        assert_success
        assert_output ""
        assert_equal "$(head -n 1 "completions/zsh/_$cmd")" "#compdef $cmd"
    done
}
