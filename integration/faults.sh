#!/usr/bin/env bash
# make faults: make each system call of `hull create` fail in turn (strace
# fault injection: an errno, or SIGKILL, at its 1st, 2nd, 3rd, 5th, 10th
# and last occurrence), then `delete --force`, and check what is left.
# Fails if any run leaves a state dir, cgroup, mount or process, hangs,
# panics, or fails with anything but one `hull: error: <step>: ...` line.
#
#   integration/faults.sh HULL [full|sample]
#
# sample: the first and the last occurrence only (for CI's time budget).
# Needs root, strace and a static busybox (make deps installs both).
set -uo pipefail

HULL=$(realpath "${1:?usage: faults.sh HULL [full|sample]}")
MODE=${2:-full}
WORK=$(mktemp -d /tmp/hull-faults.XXXXXX)
ROOT=$WORK/state
BUNDLE=$WORK/bundle
CGROUP_PARENT=hull-faults-$$
TIMEOUT=20

cleanup() {
    # Only what this run made: processes naming our dir, our cgroups, mounts.
    for pid in $(grep -l -s -a "$WORK" /proc/[0-9]*/cmdline | cut -d/ -f3); do
        [ "$pid" != $$ ] && kill -9 "$pid" 2>/dev/null
    done
    for d in /sys/fs/cgroup/*/"$CGROUP_PARENT" /sys/fs/cgroup/"$CGROUP_PARENT"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    grep -F "$WORK" /proc/self/mountinfo | awk '{print $5}' | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# A busybox rootfs and a config with a cgroup of its own per container.
mkdir -p "$BUNDLE/rootfs/bin" "$BUNDLE/rootfs/proc" "$BUNDLE/rootfs/dev" "$BUNDLE/rootfs/sys"
cp /bin/busybox "$BUNDLE/rootfs/bin/"
for app in sh sleep true; do ln -s busybox "$BUNDLE/rootfs/bin/$app"; done
(cd "$BUNDLE" && "$HULL" spec) || exit 1
python3 - "$BUNDLE/config.json" <<'EOF'
import json, sys
path = sys.argv[1]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["sleep", "100"]
json.dump(c, open(path, "w"))
EOF

config_for() { # ID: the bundle's config with cgroupsPath /$CGROUP_PARENT/ID
    python3 - "$BUNDLE/config.json" "/$CGROUP_PARENT/$1" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["linux"]["cgroupsPath"] = sys.argv[2]
json.dump(c, open(sys.argv[1], "w"))
EOF
}

# Live processes of hull's under our state root (their command line names
# it), not counting this script or its commands.
processes() {
    local f pid cmd
    for f in /proc/[0-9]*/cmdline; do
        pid=${f#/proc/}
        pid=${pid%/cmdline}
        [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] && continue
        cmd=$(tr '\0' ' ' 2>/dev/null <"$f") || continue
        case $cmd in
            *"$HULL --root $ROOT "*)
                [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] && echo "$pid" ;;
        esac
    done
}

# What is left of container ID after delete --force: one word per kind.
leftovers() {
    local id=$1 left=""
    [ -e "$ROOT/$id" ] && left+=" state-dir"
    compgen -G "/sys/fs/cgroup/*/$CGROUP_PARENT/$id" >/dev/null && left+=" cgroup"
    [ -d "/sys/fs/cgroup/$CGROUP_PARENT/$id" ] && left+=" cgroup"
    grep -qF "$BUNDLE/rootfs" /proc/self/mountinfo && left+=" mount"
    [ -n "$(processes)" ] && left+=" process"
    echo "$left"
}

# `hull create ID` under strace with strace's extra arguments; sets rc to
# create's exit status (124 if it hangs) and its stderr in $WORK/err. strace
# -f follows the init too, which outlives create: what ends is read from
# the trace (create's is the first pid in it), not from strace's exit.
traced_create() { # ID STRACE-ARGS...
    local id=$1 first="" i
    shift
    rm -f "$WORK/trace"
    # In a subshell: strace dies of the signal its tracee got, and the
    # shell would report that job's death.
    (strace -f -q -o "$WORK/trace" "$@" "$HULL" --root "$ROOT" create --bundle "$BUNDLE" "$id" \
        >/dev/null 2>"$WORK/err"; true) 2>/dev/null &
    STRACE=$!
    rc=124
    for ((i = 0; i < TIMEOUT * 50; i++)); do
        [ -z "$first" ] && first=$(head -1 "$WORK/trace" 2>/dev/null | awk '{print $1}')
        if [ -n "$first" ]; then
            local end
            end=$(grep -E "^$first +\+\+\+ (exited with|killed by)" "$WORK/trace" | head -1)
            if [ -n "$end" ]; then
                case $end in
                    *"exited with"*) rc=$(sed -E 's/.*exited with ([0-9]+).*/\1/' <<<"$end") ;;
                    *) rc=137 ;;
                esac
                break
            fi
        fi
        sleep 0.02
    done
}

# Once the container is deleted, strace (following its init) must end too.
strace_done() {
    local i
    for ((i = 0; i < TIMEOUT * 50; i++)); do
        kill -0 "$STRACE" 2>/dev/null || { wait "$STRACE" 2>/dev/null; return 0; }
        sleep 0.02
    done
    kill "$STRACE" 2>/dev/null
    wait "$STRACE" 2>/dev/null
    return 1
}

# The system calls of one clean create, with how often each is made.
config_for probe
traced_create probe
[ "$rc" = 0 ] || { echo "faults: a clean create failed: $(cat "$WORK/err")"; exit 1; }
cp "$WORK/trace" "$WORK/probe.trace"
"$HULL" --root "$ROOT" delete --force probe
strace_done
# Calls that cannot fail are left out (a failing exit_group returns), and
# so are the C library's own start-up calls, made before hull's first
# (fcntl(0, F_GETFD), main's stdio check): failing them tests libc.
# calls: NAME COUNT CALLS-BEFORE-MAIN
first=$(head -1 "$WORK/probe.trace" | awk '{print $1}')
awk -v first="$first" '$1 == first && /fcntl\(0, F_GETFD\)/ { exit } $1 == first { print }' \
    "$WORK/probe.trace" | sed -E -n 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' | sort | uniq -c |
    awk '{print $2, $1}' >"$WORK/premain"
sed -E -n 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$WORK/probe.trace" |
    grep -v -x -E 'exit|exit_group|rt_sigreturn|restart_syscall' | sort | uniq -c |
    awk '{print $2, $1}' |
    awk 'NR == FNR { pre[$1] = $2; next } { print $1, $2, pre[$1] + 0 }' "$WORK/premain" - |
    awk '$2 > $3' >"$WORK/calls"
echo "faults: $(wc -l <"$WORK/calls") system calls, $(awk '{n += $2 - $3} END {print n}' "$WORK/calls") calls in one create after libc's start-up"

# The errno each call fails with; none for brk, which the kernel never
# fails with an errno (it returns the old break: libc misreads -ENOMEM).
errno_for() {
    case $1 in
        brk) ;;
        mmap | munmap | mprotect | mremap | clone | clone3) echo ENOMEM ;;
        *) echo EIO ;;
    esac
}

runs=0 failed=0 clean=0 leaks=0 hangs=0 panics=0 badmsg=0
declare -a problems

one() { # SYSCALL WHEN ACTION(errno|KILL)
    local sc=$1 when=$2 action=$3 id=f$runs inject out
    runs=$((runs + 1))
    config_for "$id"
    if [ "$action" = KILL ]; then inject="inject=$sc:signal=KILL:when=$when"; else inject="inject=$sc:error=$action:when=$when"; fi
    traced_create "$id" -e "$inject"
    out=$(cat "$WORK/err")
    local what="$sc when=$when $action"
    if [ $rc -eq 124 ]; then
        hangs=$((hangs + 1)); problems+=("hang (create): $what")
    elif [ $rc -ne 0 ]; then
        failed=$((failed + 1))
        if grep -q -e 'panicked' -e 'internal error' <<<"$out" || [ $rc -eq 134 ]; then
            panics=$((panics + 1)); problems+=("panic: $what: $out")
        elif [ "$action" != KILL ]; then
            # One line, `hull: error: <step>: <why>`.
            local lines; lines=$(grep -c . <<<"$out")
            if [ "$lines" -ne 1 ] || ! grep -qE '^hull: error: .+: .+' <<<"$out"; then
                badmsg=$((badmsg + 1)); problems+=("message: $what: $(head -c 300 <<<"$out")")
            fi
        fi
    fi
    if ! timeout $TIMEOUT "$HULL" --root "$ROOT" delete --force "$id" >/dev/null 2>"$WORK/delete.err"; then
        [ $? -eq 124 ] && { hangs=$((hangs + 1)); problems+=("hang (delete --force): $what"); }
    fi
    strace_done || { hangs=$((hangs + 1)); problems+=("an init outlived delete --force: $what"); }
    # An init whose create died exits by itself: give it a moment.
    local left i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        left=$(leftovers "$id")
        [ -z "$left" ] && break
        sleep 0.2
        timeout $TIMEOUT "$HULL" --root "$ROOT" delete --force "$id" >/dev/null 2>&1
    done
    if [ -n "$left" ]; then
        leaks=$((leaks + 1)); problems+=("left:$left after $what (create said: $(head -c 200 <<<"$out"))")
    elif [ $rc -ne 0 ] && [ $rc -ne 124 ]; then
        clean=$((clean + 1))
    fi
}

while read -r sc count pre; do
    # Occurrences counted from hull's first call of it.
    if [ "$MODE" = sample ]; then nths="1"; else nths="1 2 3 5 10"; fi
    whens=$(for n in $nths; do echo $((pre + n)); done; echo "$count")
    errno=$(errno_for "$sc")
    for when in $(sort -nu <<<"$whens"); do
        [ "$when" -le "$count" ] && [ -n "$errno" ] || continue
        one "$sc" "$when" "$errno"
    done
    # SIGKILL at the first and last occurrence of every call.
    for when in $(printf '%s\n%s\n' $((pre + 1)) "$count" | sort -nu); do
        one "$sc" "$when" KILL
    done
done <"$WORK/calls"

for p in "${problems[@]}"; do echo "  $p"; done
printf '%-12s %8s %8s %8s %9s %6s %7s %12s\n' runs failed clean leftover hangs panics badmsg mode
printf '%-12s %8s %8s %8s %9s %6s %7s %12s\n' "$runs" "$failed" "$clean" "$leaks" "$hangs" "$panics" "$badmsg" "$MODE"
[ $((leaks + hangs + panics + badmsg)) -eq 0 ]
