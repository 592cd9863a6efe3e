# shellcheck shell=sh
# Helpers shared by berth's bundled providers. Sourced, never run.
#
# Why a shared file: every provider must validate its inputs the same way, speak
# the same failure JSON, and keep the same kind of ledger of what it created, so
# that `release` removes exactly that and nothing else. Getting one of these
# subtly different in four scripts is how a provider ends up deleting a host
# directory it never made.
#
# What must stay true:
# - no value that reached us from argv or the BERTH_* environment is passed to a
#   command before it was validated (no leading `-`, no control characters);
# - everything printed as JSON went through bp_json_str;
# - nothing is ever removed unless the ledger says this provider created it.

set -eu
umask 022
export LC_ALL=C

bp_prog=${0##*/}

# bp_json_str VALUE: VALUE as a JSON string. Callers only pass validated values
# (no control characters), so escaping `\` and `"` is complete.
bp_json_str() {
    printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

# bp_fail ERROR [HINT]: the protocol's failure: {"error","hint"} on stdout, the
# same text on stderr for people, exit 1. Never pass a secret value here.
bp_fail() {
    printf '%s: %s\n' "$bp_prog" "$1" >&2
    if [ $# -ge 2 ] && [ -n "$2" ]; then
        printf '%s: hint: %s\n' "$bp_prog" "$2" >&2
        printf '{"error":%s,"hint":%s}\n' "$(bp_json_str "$1")" "$(bp_json_str "$2")"
    else
        printf '{"error":%s}\n' "$(bp_json_str "$1")"
    fi
    exit 1
}

# bp_usage_fail MESSAGE: a bad argv in the host manifest.
# A release under arguments that are refused succeeds (with the complaint on
# stderr): provide refuses the same arguments before making anything, so there
# is nothing to release, and berth releases a failed provide (`provided: null`)
# during its rollback; failing would leave it pending forever.
bp_usage_fail() {
    if [ "${bp_op:-}" = release ]; then
        printf '%s: nothing to release: %s\n' "$bp_prog" "$1" >&2
        exit 0
    fi
    bp_fail "$1" "fix the provider's run: arguments in the host manifest (see docs/bundled-providers.md)"
}

# bp_no_cntrl WHAT VALUE: rejects control characters (newlines break ledgers and
# line-based formats) and empty values.
bp_no_cntrl() {
    case $2 in
        '') bp_usage_fail "$1 is empty" ;;
        *[[:cntrl:]]*) bp_usage_fail "$1 contains a control character" ;;
    esac
}

# bp_need_value OPTION COUNT: an option that takes a value must have one.
bp_need_value() {
    [ "$2" -ge 2 ] || bp_usage_fail "option $1 needs a value"
}

# bp_resource_name WHAT VALUE: berth's resource-name syntax,
# [A-Za-z0-9][A-Za-z0-9_.-]{0,127}; such a name is also a safe file name.
bp_resource_name() {
    bp_no_cntrl "$1" "$2"
    case $2 in
        [A-Za-z0-9]*) ;;
        *) bp_fail "$1 \`$2\` must start with a letter or digit" ;;
    esac
    case $2 in
        *[!A-Za-z0-9_.-]*) bp_fail "$1 \`$2\` may only hold letters, digits, \`_\`, \`.\` and \`-\`" ;;
    esac
    [ "${#2}" -le 128 ] || bp_fail "$1 is longer than 128 characters"
}

# bp_abs_path WHAT VALUE: an absolute path without control characters and
# without `.`/`..` components, so that prefix tests on it mean what they say.
bp_abs_path() {
    bp_no_cntrl "$1" "$2"
    case $2 in
        /*) ;;
        *) bp_usage_fail "$1 \`$2\` must be an absolute path" ;;
    esac
    case /$2/ in
        */./* | */../*) bp_usage_fail "$1 \`$2\` must not contain \`.\` or \`..\` components" ;;
    esac
}

# bp_ip6_prefix WHAT VALUE: rough syntax of ADDR/LEN; `ip` and berth's own
# validation of our output do the exact check. The point here is that nothing
# that looks like an option or a second argument reaches a command.
bp_ip6_prefix() {
    bp_no_cntrl "$1" "$2"
    case $2 in
        *[!0-9A-Fa-f:./]* | [!0-9A-Fa-f:]* | */*/* | *[!0-9]) bp_usage_fail "$1 \`$2\` is not an IPv6 prefix like 2001:db8::/64" ;;
        */*) ;;
        *) bp_usage_fail "$1 \`$2\` has no prefix length (like 2001:db8::/64)" ;;
    esac
    bp_len=${2#*/}
    [ "$bp_len" -le 128 ] 2>/dev/null || bp_usage_fail "$1 \`$2\` has a prefix length above 128"
}

# bp_ip6_addr WHAT VALUE.
bp_ip6_addr() {
    bp_no_cntrl "$1" "$2"
    case $2 in
        *[!0-9A-Fa-f:.]* | [!0-9A-Fa-f:]*) bp_usage_fail "$1 \`$2\` is not an IPv6 address" ;;
        *:*) ;;
        *) bp_usage_fail "$1 \`$2\` is not an IPv6 address" ;;
    esac
}

# bp_ip4_prefix / bp_ip4_addr WHAT VALUE.
bp_ip4_prefix() {
    bp_no_cntrl "$1" "$2"
    case $2 in
        *[!0-9./]* | [!0-9]* | */*/* | *[!0-9]) bp_usage_fail "$1 \`$2\` is not an IPv4 prefix like 10.0.0.0/24" ;;
        */*) ;;
        *) bp_usage_fail "$1 \`$2\` has no prefix length (like 10.0.0.0/24)" ;;
    esac
    bp_len=${2#*/}
    [ "$bp_len" -le 32 ] 2>/dev/null || bp_usage_fail "$1 \`$2\` has a prefix length above 32"
}
bp_ip4_addr() {
    bp_no_cntrl "$1" "$2"
    case $2 in
        *[!0-9.]* | [!0-9]* | *.) bp_usage_fail "$1 \`$2\` is not an IPv4 address" ;;
    esac
}

# bp_setup: common start of every provider. Checks BERTH_OP, BERTH_NAME,
# BERTH_KIND (must be $1), drains the JSON request (configuration comes from
# argv, so it is not needed; draining avoids a broken pipe on berth's side).
bp_setup() {
    bp_op=${BERTH_OP:-}
    case $bp_op in
        provide | release | check) ;;
        '') bp_fail "BERTH_OP is not set" "providers are run by berth (docs/bundled-providers.md shows how to run one by hand)" ;;
        *) bp_fail "unknown BERTH_OP \`$bp_op\` (expected provide, release or check)" ;;
    esac
    [ "${BERTH_KIND:-}" = "$1" ] || bp_fail "this provider makes a \`$1\`, not a \`${BERTH_KIND:-}\`" "declare it under a \`$1:\` providers entry"
    bp_name=${BERTH_NAME:-}
    bp_resource_name "BERTH_NAME" "$bp_name"
    if [ ! -t 0 ]; then cat >/dev/null || true; fi
}

# bp_default_dir SUB DEFAULT: a folder default that follows berth's state
# folder. berth passes its state folder as BERTH_STATE_DIR (resolved from
# --state-dir, $BERTH_STATE_DIR, the manifest's state_dir or the per-user
# default); then the folder is BERTH_STATE_DIR/SUB, so a host whose state
# lives elsewhere leaves nothing in /var/lib/berth or /run/berth. Without it
# (the provider run by hand, an older berth), DEFAULT.
bp_default_dir() {
    if [ -n "${BERTH_STATE_DIR:-}" ]; then
        printf '%s/%s' "${BERTH_STATE_DIR%/}" "$1"
    else
        printf '%s' "$2"
    fi
}

# bp_state_init DIR: this provider's ledger folder DIR/<prog>, locked for the
# rest of the run so concurrent calls do not interleave ledger edits.
bp_state_init() {
    bp_abs_path "--state-dir" "$1"
    [ -n "${1%/}" ] || bp_usage_fail "--state-dir must not be /"
    bp_state=${1%/}/$bp_prog
    # Only the last folder needs to be private; parents are ordinary folders.
    # shellcheck disable=SC2174
    mkdir -p -m 0700 -- "$bp_state" || bp_fail "cannot create state folder $bp_state"
    if command -v flock >/dev/null 2>&1; then
        exec 9<"$bp_state"
        flock 9
    fi
}

# bp_state_done: removes this provider's ledger folder when it holds nothing,
# and the state folder above it when that is empty too (its parents are left:
# they may be anyone's).
bp_state_done() {
    rmdir -- "$bp_state" 2>/dev/null || return 0
    rmdir -- "${bp_state%/*}" 2>/dev/null || true
}

# bp_ledger_has FILE LINE / bp_ledger_add FILE LINE / bp_ledger_del FILE LINE:
# a ledger is a file of lines (validated values without newlines). An empty
# ledger is removed.
bp_ledger_has() {
    [ -f "$bp_state/$1" ] && grep -qxF -- "$2" "$bp_state/$1"
}
bp_ledger_add() {
    bp_ledger_has "$1" "$2" || printf '%s\n' "$2" >>"$bp_state/$1"
}
bp_ledger_del() {
    [ -f "$bp_state/$1" ] || return 0
    grep -vxF -- "$2" "$bp_state/$1" >"$bp_state/$1.tmp" || true
    if [ -s "$bp_state/$1.tmp" ]; then
        mv -f -- "$bp_state/$1.tmp" "$bp_state/$1"
    else
        rm -f -- "$bp_state/$1.tmp" "$bp_state/$1"
    fi
}

# bp_mkdir_tracked DIR MODE: creates DIR and any missing parents, recording in
# the `dirs` ledger each folder this provider created (so release can remove
# exactly those, once empty). The last component gets MODE.
bp_mkdir_tracked() {
    bp_d=$1
    bp_missing=''
    while [ ! -e "$bp_d" ] && [ ! -L "$bp_d" ]; do
        # Prepended: the list ends up oldest ancestor first.
        bp_missing="$bp_d
$bp_missing"
        bp_d=$(dirname -- "$bp_d")
    done
    [ -d "$bp_d" ] || bp_fail "$bp_d exists and is not a folder"
    while IFS= read -r bp_d; do
        [ -n "$bp_d" ] || continue
        mkdir -m 0755 -- "$bp_d" || bp_fail "cannot create folder $bp_d"
        bp_ledger_add dirs "$bp_d"
    done <<EOF
$bp_missing
EOF
    if bp_ledger_has dirs "$1"; then chmod -- "$2" "$1"; fi
}

# bp_prune_tracked PATH: removes PATH and then each of its parents, deepest
# first, as long as the folder is empty and the `dirs` ledger says this provider
# created it. Stops at the first folder that is not ours or not empty.
bp_prune_tracked() {
    bp_d=$1
    while [ "$bp_d" != / ] && bp_ledger_has dirs "$bp_d"; do
        if [ -d "$bp_d" ]; then
            rmdir -- "$bp_d" 2>/dev/null || return 0
        fi
        bp_ledger_del dirs "$bp_d"
        bp_d=$(dirname -- "$bp_d")
    done
}
