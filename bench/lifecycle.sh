#!/usr/bin/env bash
# bench/lifecycle.sh - container lifecycle benchmark: hull vs other OCI runtimes
#
# Usage: bench/lifecycle.sh [-n N] [--quick] [RUNTIME...]
#   RUNTIME   a path to a binary (relative to the current directory) or a name
#             on $PATH; it must take runc's CLI (--root DIR create --bundle B
#             --pid-file F ID, start ID, delete [--force] ID). The first one is
#             the baseline of the ratio line. Default: target/release/hull (in
#             this repository) runc crun.
#   -n N      measured rounds (default 100)
#   --quick   20 rounds, fewer RSS samples
#   -h        this text
#   Example:  sudo bash bench/lifecycle.sh --quick runc crun
#
# What it measures, for each runtime, on the same busybox bundle:
#   * N rounds, interleaved: in every round each runtime in turn (the order
#     rotates from round to round, so that a drifting machine speed hits all
#     alike) runs the full lifecycle of a /bin/true container:
#       create --pid-file   (timed until `create` returns)
#       start               (timed until `start` returns)
#       wait                (start returned -> the container's init process is
#                            gone or a zombie; polled in /proc/PID/stat)
#       delete              (timed until `delete` returns)
#     reported as medians of the whole lifecycle and of each phase, in ms
#     ($EPOCHREALTIME, microsecond resolution, no fork for the clock).
#   * peak RSS of `create`: GNU `/usr/bin/time -f %M` (ru_maxrss from wait4):
#     the largest RSS of the create process and of the helper processes it
#     waited for; the container's init, which outlives create, is not counted.
#     Median over separate, untimed lifecycles, so /usr/bin/time never inflates
#     the timings.
#   * the runtime binary's size (after following symlinks).
#
# Environment and fairness:
#   * Every runtime gets its own --root state dir, its own bundle dir and a
#     unique linux.cgroupsPath per container (/hull-bench-XXXX/<id>), so all of
#     them put the container in the same kind of place (the cgroupfs driver).
#   * The whole measurement runs, for every runtime alike, in one private mount
#     namespace (unshare --mount --propagation private). On a host with the
#     hybrid cgroup layout (v1 controllers + cgroup2 at /sys/fs/cgroup/unified),
#     which crun 1.8 refuses, the cgroup2 mount is lazily unmounted in that
#     namespace only; the host's mounts are never touched.
#   * The measuring shell is made a child subreaper (prctl via perl, which is
#     essential on Debian), so the containers' init processes, orphaned when
#     `create` exits, are reparented to it and reaped by it, not by pid 1.
#   * config.json is written by this script: a runc-spec-like default (pid,
#     mount, ipc, uts, network namespaces; /proc, /dev, /dev/pts, /dev/shm,
#     /dev/mqueue, /sys ro; runc's maskedPaths/readonlyPaths, capabilities,
#     rlimits, noNewPrivileges), no terminal, root not read-only, a deny-all
#     device cgroup plus the usual allows, args ["/bin/true"].
#   * One untimed warm-up lifecycle per runtime first (under `timeout`), which
#     also catches a runtime that does not work at all.
#
# Prerequisites (checked; installed with apt-get when missing): root, bash >= 5,
# a static busybox at /bin/busybox (busybox-static), jq, /usr/bin/time (time),
# unshare (util-linux), perl. A missing comparison runtime (runc, crun) is
# installed with apt-get if possible, else skipped with a warning.
#
# Cleanup (always, also on Ctrl-C): delete --force of any container left, kill
# of the processes still in this run's cgroups and of orphans adopted by the
# benchmark, rmdir of this run's cgroups in every hierarchy, removal of the
# temp dir (bundles, state dirs).
#
# Output: a table on stdout (lines starting with # are comments); progress and
# warnings on stderr. Exit status 1 if a runtime failed a lifecycle (its
# stderr is printed), 2 on a usage or setup error.

set -uo pipefail
export LC_ALL=C

SELF=$(readlink -f "${BASH_SOURCE[0]}")
REPO=$(dirname "$(dirname "$SELF")")
BUSYBOX=/bin/busybox

warn() { echo "lifecycle.sh: $*" >&2; }
die() { warn "$*"; exit 2; }
usec() { REPLY=${EPOCHREALTIME//[!0-9]/}; } # microseconds, without a fork

###########################################################################
# Setup (outside the private mount namespace)
###########################################################################

usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$SELF"; }

APT_UPDATED=0
apt_install() { # PACKAGE... ; returns non-zero if it could not
	command -v apt-get >/dev/null || return 1
	warn "installing with apt-get: $*"
	if ((!APT_UPDATED)); then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
		APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

is_static() { # FILE: true if not dynamically linked
	local out
	out=$(ldd "$1" 2>&1)
	[[ $out == *"not a dynamic executable"* || $out == *"statically linked"* ]]
}

# Tools the benchmark itself needs; dies if they cannot be had.
ensure_tools() {
	local missing=()
	[[ -x $BUSYBOX ]] || missing+=(busybox-static)
	command -v jq >/dev/null || missing+=(jq)
	[[ -x /usr/bin/time ]] || missing+=(time)
	command -v unshare >/dev/null || missing+=(util-linux)
	command -v perl >/dev/null || missing+=(perl-base)
	if ((${#missing[@]})); then
		apt_install "${missing[@]}" || die "could not install: ${missing[*]}"
	fi
	[[ -x $BUSYBOX ]] || die "$BUSYBOX not found (apt-get install busybox-static)"
	is_static "$BUSYBOX" || die "$BUSYBOX is dynamically linked; install busybox-static"
	command -v jq >/dev/null || die "jq not found"
	[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install time)"
	command -v unshare >/dev/null || die "unshare not found"
	command -v perl >/dev/null || die "perl not found"
}

# Resolves the runtime arguments into RT_NAME[] / RT_BIN[]. The first runtime
# is mandatory; a missing comparison runtime is installed or skipped.
resolve_runtimes() {
	local arg bin name i=0
	RT_NAME=() RT_BIN=()
	for arg; do
		bin=
		if [[ $arg == */* ]]; then
			[[ -x $arg && -f $arg ]] && bin=$(readlink -f "$arg")
		else
			bin=$(command -v -- "$arg") ||
				{ [[ $arg == runc || $arg == crun ]] && apt_install "$arg" && bin=$(command -v -- "$arg"); }
			[[ -n $bin ]] && bin=$(readlink -f "$bin")
		fi
		if [[ -z $bin ]]; then
			((i == 0)) && die "runtime not found: $arg (for hull: cargo build --release)"
			warn "WARNING: runtime $arg not found, skipping it"
			continue
		fi
		# display name: the basename, made unique and safe for container ids
		name=${arg##*/}
		name=${name//[!A-Za-z0-9_.-]/_}
		local base=$name n=2
		while [[ " ${RT_NAME[*]-} " == *" $name "* ]]; do name=$base-$((n++)); done
		RT_NAME+=("$name") RT_BIN+=("$bin")
		((i++))
	done
	((${#RT_BIN[@]})) || die "no runtime to run"
}

# The rootfs: the static busybox and a symlink per applet.
build_rootfs() {
	local rootfs=$1 applet
	mkdir -p "$rootfs"/{bin,dev,etc,proc,sys,tmp,root} || return 1
	cp "$BUSYBOX" "$rootfs/bin/busybox" || return 1
	for applet in $("$BUSYBOX" --list); do
		[[ -e $rootfs/bin/$applet ]] || ln -s busybox "$rootfs/bin/$applet" || return 1
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$rootfs/etc/passwd"
	echo "root:x:0:" >"$rootfs/etc/group"
	[[ -x $rootfs/bin/true ]]
}

# The config.json template; @CGROUPS_PATH@ is replaced for every container.
write_config_template() {
	local rootfs=$1 out=$2
	jq --arg root "$rootfs" '.root.path = $root' >"$out" <<'EOF'
{
	"ociVersion": "1.0.2",
	"process": {
		"terminal": false,
		"user": { "uid": 0, "gid": 0 },
		"args": [ "/bin/true" ],
		"env": [
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TERM=xterm"
		],
		"cwd": "/",
		"capabilities": {
			"bounding": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
			"effective": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
			"permitted": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
			"ambient": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ]
		},
		"rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
		"noNewPrivileges": true
	},
	"root": { "path": "rootfs", "readonly": false },
	"hostname": "bench",
	"mounts": [
		{ "destination": "/proc", "type": "proc", "source": "proc" },
		{ "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
		  "options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ] },
		{ "destination": "/dev/pts", "type": "devpts", "source": "devpts",
		  "options": [ "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" ] },
		{ "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
		  "options": [ "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" ] },
		{ "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
		  "options": [ "nosuid", "noexec", "nodev" ] },
		{ "destination": "/sys", "type": "sysfs", "source": "sysfs",
		  "options": [ "nosuid", "noexec", "nodev", "ro" ] }
	],
	"linux": {
		"cgroupsPath": "@CGROUPS_PATH@",
		"resources": {
			"devices": [
				{ "allow": false, "access": "rwm" },
				{ "allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm" },
				{ "allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm" },
				{ "allow": true, "type": "c", "major": 1, "minor": 7, "access": "rwm" },
				{ "allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm" },
				{ "allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm" },
				{ "allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm" },
				{ "allow": true, "type": "c", "major": 5, "minor": 2, "access": "rwm" },
				{ "allow": true, "type": "c", "major": 136, "access": "rwm" }
			]
		},
		"namespaces": [
			{ "type": "pid" }, { "type": "network" }, { "type": "ipc" },
			{ "type": "uts" }, { "type": "mount" }
		],
		"maskedPaths": [
			"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
			"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
			"/proc/sched_debug", "/sys/firmware", "/proc/scsi"
		],
		"readonlyPaths": [
			"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
		]
	}
}
EOF
}

# Mount points of all cgroup hierarchies (v1 and v2) visible here.
cgroup_mounts() {
	awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i+1) ~ /^cgroup2?$/) print $5; break } }' \
		/proc/self/mountinfo
}

# Removes this run's cgroup dirs (deepest first) in every hierarchy visible.
remove_cgroups() {
	local mp
	[[ -n ${HB_CGROUP:-} ]] || return 0
	while read -r mp; do
		[[ -d $mp/$HB_CGROUP ]] || continue
		find "$mp/$HB_CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null
		[[ -d $mp/$HB_CGROUP ]] && warn "could not remove cgroup $mp/$HB_CGROUP"
	done < <(cgroup_mounts)
	return 0
}

outer_cleanup() {
	# The inner part removes its cgroups; this catches what it could not see
	# (e.g. the cgroup2 mount it had unmounted) or an inner part that was killed.
	remove_cgroups
	if [[ -n ${HB_TMP:-} && -d $HB_TMP ]]; then
		if grep -qF " $HB_TMP/" /proc/self/mountinfo; then
			warn "mounts left under $HB_TMP, not removing it"
		else
			rm -rf -- "$HB_TMP"
		fi
	fi
}

outer_main() {
	local rounds= quick=0 args=()
	while (($#)); do
		case $1 in
		-n) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "-n needs a positive number"; rounds=$2; shift ;;
		--quick) quick=1 ;;
		-h | --help) usage; exit 0 ;;
		--) shift; args+=("$@"); break ;;
		-*) die "unknown option: $1 (see -h)" ;;
		*) args+=("$1") ;;
		esac
		shift
	done
	((${#args[@]})) || args=("$REPO/target/release/hull" runc crun)
	if ((quick)); then rounds=${rounds:-20}; HB_RSS=5; else rounds=${rounds:-100}; HB_RSS=10; fi

	[[ $(id -u) == 0 ]] || die "must run as root"
	((BASH_VERSINFO[0] >= 5)) || die "needs bash >= 5 (for \$EPOCHREALTIME)"
	ensure_tools
	resolve_runtimes "${args[@]}"

	HB_TMP=$(mktemp -d /tmp/hull-bench.XXXXXX) || die "mktemp failed"
	trap outer_cleanup EXIT
	trap 'exit 130' INT TERM HUP
	local uniq=${HB_TMP##*.}
	uniq=${uniq,,}
	export HB_TMP HB_ROUNDS=$rounds HB_RSS HB_OUTER_PID=$$
	export HB_ID=hb$uniq HB_CGROUP=hull-bench-$uniq

	build_rootfs "$HB_TMP/rootfs" || die "cannot build the busybox rootfs"
	write_config_template "$HB_TMP/rootfs" "$HB_TMP/config.template" || die "cannot write config.json"
	local i
	for ((i = 0; i < ${#RT_BIN[@]}; i++)); do
		printf '%s\t%s\n' "${RT_NAME[i]}" "${RT_BIN[i]}"
	done >"$HB_TMP/runtimes"

	# Subreaper: prctl(PR_SET_CHILD_SUBREAPER = 36, 1); it survives the exec.
	local nr_prctl=
	case $(uname -m) in
	x86_64) nr_prctl=157 ;;
	aarch64) nr_prctl=167 ;;
	esac
	export HB_PRCTL=$nr_prctl
	# The inner part runs in the background (so it ignores SIGINT, as do the
	# runtimes it starts); a signal to this shell is passed on as SIGTERM, on
	# which the inner part stops after the runtime command in progress and
	# cleans up; this shell then removes the temp dir.
	unshare --mount --propagation private -- \
		perl -e 'syscall($ENV{HB_PRCTL}, 36, 1, 0, 0, 0) if $ENV{HB_PRCTL}; exec @ARGV or die "exec: $!\n"' \
		bash "$SELF" --inner &
	local inner=$! rc stop=0
	trap 'stop=1; kill -TERM "$inner" 2>/dev/null' INT TERM HUP
	while :; do
		wait "$inner"
		rc=$?
		kill -0 "$inner" 2>/dev/null || break # else wait was cut short by a signal
	done
	((stop)) && { warn "interrupted"; exit 130; }
	return "$rc"
}

###########################################################################
# Measurement (inside the private mount namespace)
###########################################################################

# Waits until PID is gone or a zombie; 1 after 10 s.
wait_exit() {
	local pid=$1 line st deadline
	usec; deadline=$((REPLY + 10000000))
	while :; do
		{ read -r line <"/proc/$pid/stat"; } 2>/dev/null || return 0
		line=${line##*) }
		st=${line%% *}
		[[ $st == Z || $st == X ]] && return 0
		usec
		((REPLY > deadline)) && return 1
		read -r -t 0.0001 -u "$SLEEP_FD" # sleep 100 us without a fork
	done
}

# lifecycle E [RSS_FILE]: one container of runtime E, create to delete.
# On success sets PH=(create start wait delete) in microseconds. On failure
# returns 1 with FAILED_PHASE set and the runtime's output in OUT[E].
# Commands are prefixed with "${PREFIX[@]}" (a timeout for the warm-up).
lifecycle() {
	local e=$1 rssf=${2:-} id rt=${RT_BIN[$1]} root=${RT_ROOT[$1]}
	local bundle=$HB_TMP/bundle.$1 out=${OUT[$1]} pid= t0 t1 t2 t3 t4
	local timer=()
	[[ -n $rssf ]] && timer=(/usr/bin/time -f %M -o "$rssf")
	id=$HB_ID-${RT_NAME[e]}-$((SEQ++))
	printf '%s\n' "${CONFIG//@CGROUPS_PATH@//$HB_CGROUP/$id}" >"$bundle/config.json"
	rm -f "$bundle/pid"
	LIVE[e]=$id

	usec; t0=$REPLY
	"${PREFIX[@]}" "${timer[@]}" "$rt" --root "$root" create --bundle "$bundle" --pid-file "$bundle/pid" "$id" \
		</dev/null >"$out" 2>&1 || { FAILED_PHASE="create $id"; return 1; }
	usec; t1=$REPLY
	"${PREFIX[@]}" "$rt" --root "$root" start "$id" </dev/null >"$out" 2>&1 ||
		{ FAILED_PHASE="start $id"; return 1; }
	usec; t2=$REPLY
	{ read -r pid <"$bundle/pid" || [[ -n $pid ]]; } 2>/dev/null
	[[ $pid =~ ^[1-9][0-9]*$ ]] || { FAILED_PHASE="create $id: no valid --pid-file"; return 1; }
	wait_exit "$pid" || { FAILED_PHASE="wait: init $pid of $id still running after 10 s"; return 1; }
	usec; t3=$REPLY
	"${PREFIX[@]}" "$rt" --root "$root" delete "$id" </dev/null >"$out" 2>&1 ||
		{ FAILED_PHASE="delete $id"; return 1; }
	usec; t4=$REPLY
	LIVE[e]=
	PH=($((t1 - t0)) $((t2 - t1)) $((t3 - t2)) $((t4 - t3)))
	return 0
}

# run E [RSS_FILE]: lifecycle with failure handling; a failed runtime is
# reported, cleaned up and left out from then on.
run() {
	local e=$1
	lifecycle "$@" && return 0
	OK[e]=0
	warn "FAILED: ${RT_NAME[e]} (${RT_BIN[e]}): $FAILED_PHASE; its output:"
	sed 's/^/    /' "${OUT[e]}" >&2
	force_delete "$e"
	return 1
}

force_delete() {
	local e=$1 id=${LIVE[$1]}
	[[ -n $id ]] || return 0
	timeout 20 "${RT_BIN[e]}" --root "${RT_ROOT[e]}" delete --force "$id" </dev/null >/dev/null 2>&1 ||
		warn "could not delete --force container $id of ${RT_NAME[e]}"
	LIVE[e]=
}

# Kills only processes this run started: those in this run's cgroups, and
# orphans that were reparented to this shell (the subreaper).
kill_ours() {
	local mp f pid line ppid
	while read -r mp; do
		[[ -d $mp/$HB_CGROUP ]] || continue
		while read -r f; do
			while read -r pid; do kill -KILL "$pid" 2>/dev/null; done <"$f"
		done < <(find "$mp/$HB_CGROUP" -name cgroup.procs)
	done < <(cgroup_mounts)
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		line=${line##*) }
		read -r _ ppid _ <<<"$line"
		pid=${f#/proc/}
		pid=${pid%/stat}
		[[ $ppid == "$$" ]] && kill -KILL "$pid" 2>/dev/null
	done
	return 0
}

inner_cleanup() {
	local e d
	trap '' INT TERM HUP
	for ((e = 0; e < ${#RT_BIN[@]}; e++)); do
		force_delete "$e"
		# anything else a runtime still has in its state dir
		for d in "${RT_ROOT[e]}"/*/; do
			[[ -d $d ]] || continue
			LIVE[e]=$(basename "$d")
			force_delete "$e"
		done
	done
	kill_ours
	remove_cgroups
}

# Leftovers of a lifecycle that a runtime should have removed: cgroup dirs,
# state dirs, mounts. Warnings only.
check_leftovers() {
	local e mp n d
	for ((e = 0; e < ${#RT_BIN[@]}; e++)); do
		local -A ids=()
		while read -r mp; do
			for d in "$mp/$HB_CGROUP/$HB_ID-${RT_NAME[e]}"-*/; do [[ -d $d ]] && ids[$(basename "$d")]=1; done
		done < <(cgroup_mounts)
		((${#ids[@]})) && warn "WARNING: ${RT_NAME[e]} left the cgroups of ${#ids[@]} containers behind after delete"
		unset ids
		n=0
		for d in "${RT_ROOT[e]}"/*; do [[ -e $d ]] && ((n++)); done
		((n)) && warn "WARNING: ${RT_NAME[e]} left $n entries in its --root dir after delete"
	done
	if grep -qF " $HB_TMP/" /proc/self/mountinfo; then
		warn "WARNING: mounts left under $HB_TMP:"
		grep -F " $HB_TMP/" /proc/self/mountinfo >&2
	fi
	return 0
}

# median of the integers in $1 (space separated); "-" if none
median() {
	[[ -n ${1// /} ]] || { echo -; return; }
	printf '%s\n' $1 | sort -n |
		awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
# fmt VALUE DIVISOR DECIMALS
fmt() { awk -v v="$1" -v d="$2" -v p="$3" 'BEGIN { if (v == "-") print "-"; else printf "%.*f\n", p, v / d }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "n/a"; else printf "%.2fx\n", a / b }'; }

report() {
	local e k w=7 life rss size cells ref
	for ((e = 0; e < ${#RT_NAME[@]}; e++)); do ((${#RT_NAME[e]} > w)) && w=${#RT_NAME[e]}; done
	local -a MLIFE MRSS MSIZE
	echo "# lifecycle of /bin/true (create, start, wait for exit, delete): median of $HB_ROUNDS interleaved rounds;"
	echo "# peak_rss = max RSS of \`create\` (GNU time %M), median of $HB_RSS; $(date -u +%FT%TZ), $(uname -r), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
	for ((e = 0; e < ${#RT_NAME[@]}; e++)); do
		echo "# ${RT_NAME[e]} = ${RT_BIN[e]} ($("${RT_BIN[e]}" --version 2>/dev/null | head -n 1))"
	done
	printf "%-${w}s %12s %9s %8s %7s %9s %12s %10s\n" runtime lifecycle_ms create_ms start_ms wait_ms delete_ms peak_rss_KiB binary_KiB
	for ((e = 0; e < ${#RT_NAME[@]}; e++)); do
		size=$(stat -L -c %s "${RT_BIN[e]}")
		MSIZE[e]=$size
		if ((!OK[e])); then
			MLIFE[e]=- MRSS[e]=-
			printf "%-${w}s %12s %9s %8s %7s %9s %12s %10s\n" "${RT_NAME[e]}" FAILED - - - - - "$(fmt "$size" 1024 0)"
			continue
		fi
		life=$(median "${S_LIFE[e]}")
		rss=$(median "${S_RSS[e]}")
		MLIFE[e]=$life MRSS[e]=$rss
		cells=()
		for k in CREATE START WAIT DELETE; do
			ref="S_$k[$e]"
			cells+=("$(fmt "$(median "${!ref}")" 1000 2)")
		done
		printf "%-${w}s %12s %9s %8s %7s %9s %12s %10s\n" "${RT_NAME[e]}" "$(fmt "$life" 1000 2)" "${cells[@]}" \
			"$(fmt "$rss" 1 0)" "$(fmt "$size" 1024 0)"
	done
	local line= sep=
	for ((e = 1; e < ${#RT_NAME[@]}; e++)); do
		line+="$sep${RT_NAME[0]}/${RT_NAME[e]} lifecycle $(ratio "${MLIFE[0]}" "${MLIFE[e]}")"
		line+=" rss $(ratio "${MRSS[0]}" "${MRSS[e]}") binary $(ratio "${MSIZE[0]}" "${MSIZE[e]}")"
		sep=" ; "
	done
	[[ -n $line ]] && echo "ratios: $line"
	return 0
}

inner_main() {
	local e i k name bin
	RT_NAME=() RT_BIN=() RT_ROOT=() OK=() LIVE=() OUT=()
	S_LIFE=() S_CREATE=() S_START=() S_WAIT=() S_DELETE=() S_RSS=()
	while IFS=$'\t' read -r name bin; do
		e=${#RT_NAME[@]}
		RT_NAME+=("$name") RT_BIN+=("$bin") RT_ROOT+=("$HB_TMP/root.$e") OK+=(1) LIVE+=("") OUT+=("$HB_TMP/out.$e")
		mkdir -p "$HB_TMP/root.$e" "$HB_TMP/bundle.$e"
	done <"$HB_TMP/runtimes"
	local NE=${#RT_NAME[@]}
	CONFIG=$(<"$HB_TMP/config.template")
	SEQ=0 PREFIX=()
	trap inner_cleanup EXIT
	trap 'exit 130' INT TERM HUP

	# Only ever unmount in a mount namespace that is not the caller's.
	[[ $(readlink /proc/self/ns/mnt) != "$(readlink "/proc/$HB_OUTER_PID/ns/mnt")" ]] ||
		die "not in a private mount namespace; refusing to unmount anything"
	if [[ $(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null) == cgroup2fs ]]; then
		umount -l /sys/fs/cgroup/unified || die "umount -l /sys/fs/cgroup/unified failed"
	fi
	exec {SLEEP_FD}<> <(:) # a pipe nobody writes to: read -t on it is a sleep

	# warm-up: one lifecycle each, under a timeout
	PREFIX=(timeout 30)
	for ((e = 0; e < NE; e++)); do run "$e"; done
	PREFIX=()

	warn "$HB_ROUNDS rounds x $NE runtimes..."
	for ((i = 0; i < HB_ROUNDS; i++)); do
		for ((k = 0; k < NE; k++)); do
			e=$(((i + k) % NE))
			((OK[e])) || continue
			run "$e" || continue
			S_CREATE[e]+=" ${PH[0]}" S_START[e]+=" ${PH[1]}" S_WAIT[e]+=" ${PH[2]}" S_DELETE[e]+=" ${PH[3]}"
			S_LIFE[e]+=" $((PH[0] + PH[1] + PH[2] + PH[3]))"
		done
	done
	# peak RSS of create, in untimed lifecycles
	local rssf=$HB_TMP/rss line kb
	for ((i = 0; i < HB_RSS; i++)); do
		for ((k = 0; k < NE; k++)); do
			e=$(((i + k) % NE))
			((OK[e])) || continue
			run "$e" "$rssf" || continue
			kb=
			while read -r line; do [[ $line =~ ^[0-9]+$ ]] && kb=$line; done <"$rssf"
			[[ -n $kb ]] && S_RSS[e]+=" $kb"
		done
	done

	check_leftovers
	report
	for ((e = 0; e < NE; e++)); do ((OK[e])) || exit 1; done
	exit 0
}

# Sourced (by hot-order.sh) for its functions only.
[[ ${BASH_SOURCE[0]} == "$0" ]] || return 0

case ${1:-} in
--inner) inner_main ;;
*) outer_main "$@" ;;
esac
