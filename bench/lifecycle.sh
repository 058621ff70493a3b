#!/usr/bin/env bash
# bench/lifecycle.sh - container lifecycle benchmark: hull vs other OCI runtimes,
# on the configs engines really send, against the floor
#
# Usage: bench/lifecycle.sh [-n N] [--quick] [--configs LIST] [RUNTIME...]
#   RUNTIME   a path to a binary (relative to the current directory) or a name
#             on $PATH; it must take runc's CLI (--root DIR create --bundle B
#             --pid-file F ID, start ID, exec ID CMD, delete [--force] ID). The
#             first one is the numerator of the ratio rows. Default:
#             make build's hull (target/x86_64-unknown-linux-musl/release/hull
#             on x86_64) runc crun.
#   -n N      measured lifecycle rounds per config (default 100)
#   --quick   a fast look: 10 rounds, 1 batch of 10, 5 execs, 3 RSS samples
#   --configs LIST  a comma-separated subset of the configs, in that order:
#             bench,runc-spec,podman,docker,containerd (default: all five)
#   -h        this text
#   Example:  sudo bash bench/lifecycle.sh --quick --configs podman runc crun
#
# The configs, each rewritten for the bench (rewrite_config says how and why;
# the costs being measured stay: seccomp, masked and read-only paths, the
# cgroup mount, devices, capabilities, rlimits, sysctls):
#   bench       the bench's own (write_config_template): runc-spec-like, root
#               not read-only, no /sys/fs/cgroup mount, no seccomp
#   runc-spec   `runc spec`'s default, generated at run time: read-only root,
#               the /sys/fs/cgroup mount, no seccomp
#   podman, docker, containerd   what those engines sent their runtime on this
#               machine kind (bench/configs/, see its README): seccomp (podman,
#               docker), the cgroup mount (podman, docker), bind-mounted
#               /etc/hosts and friends, sysctls (docker), pids limit (podman)
#
# What it measures, per config, for each runtime and for the floor, all of
# them interleaved (in every round each one in turn, in an order shuffled
# anew for every round, so that a drifting machine speed hits all alike and
# none always runs right after the same other one, whose teardown (network
# namespaces, cgroups) the kernel may still be finishing):
#   * N rounds of the full lifecycle of a /bin/true container:
#       create --pid-file   (timed until `create` returns)
#       start               (timed until `start` returns)
#       wait                (start returned -> the container's init process is
#                            gone or a zombie; polled in /proc/PID/stat)
#       delete              (timed until `delete` returns)
#     reported as medians of the whole lifecycle and of each phase, in ms
#     ($EPOCHREALTIME, microsecond resolution, no fork for the clock).
#   * 10 at once: 10 such lifecycles started together, each in a subshell of
#     its own; the wall time until the last is deleted; median of B batches.
#   * exec: `exec ID /bin/true` (in the foreground: until it has exited) into
#     a running container of the same config (args /bin/sleep); median.
#   * create_rss: the peak RSS of `create`, GNU `/usr/bin/time -f %M`
#     (ru_maxrss from wait4): the largest RSS of the create process and of the
#     helper processes it waited for; not the container's init, which outlives
#     it. init_rss: VmRSS of that init while it waits for `start` (what a
#     created container costs the host). Medians over M separate, untimed
#     lifecycles, so /usr/bin/time never inflates the timings.
#   * the floor (bench/floor.c, compiled here): one process that only clones
#     into new mount, pid, uts, ipc and net namespaces, pivots into the rootfs,
#     mounts /proc and execs /bin/true, and waits for it. Its lifecycle is
#     that one run; 10 at once and create_rss as for the runtimes.
#
# Environment and fairness:
#   * Every runtime gets its own --root state dir, its own bundle dirs and a
#     unique linux.cgroupsPath per container (/hull-bench-XXXX/<id>), so all of
#     them put the container in the same kind of place (the cgroupfs driver).
#     All share one busybox rootfs.
#   * The whole measurement runs, for every runtime alike, in one private mount
#     namespace (unshare --mount --propagation private). On a host with the
#     hybrid cgroup layout (v1 controllers + cgroup2 at /sys/fs/cgroup/unified),
#     which crun 1.8 refuses, the cgroup2 mount is lazily unmounted in that
#     namespace only; the host's mounts are never touched.
#   * The measuring shell is made a child subreaper (prctl via perl, which is
#     essential on Debian), so the containers' init processes, orphaned when
#     `create` exits, are reparented to it and reaped by it, not by pid 1.
#   * Every runtime's binary (and the floor's) is dropped from the page cache
#     at the start (uncache says why), then read back by its own execs.
#   * Per config, one untimed warm-up lifecycle of each (under `timeout`),
#     which also catches a runtime that cannot run that config: it is left
#     out of that config's table (FAILED, with the reason) and the run exits 1.
#
# Prerequisites (checked; installed with apt-get when missing): root, bash >= 5,
# a static busybox at /bin/busybox (busybox-static), jq, /usr/bin/time (time),
# unshare (util-linux), perl, gcc (for the floor; without one the floor is
# left out). A missing comparison runtime (runc, crun) is installed with
# apt-get if possible, else skipped with a warning; without runc, the
# runc-spec config is left out.
#
# Cleanup (always, also on Ctrl-C): delete --force of any container left, kill
# of the processes still in this run's cgroups and of orphans adopted by the
# benchmark, rmdir of this run's cgroups in every hierarchy, removal of the
# temp dir (rootfs, bundles, state dirs, the floor).
#
# Output: one table per config on stdout, each runtime's row then the ratio
# rows (the first runtime's value divided by each other's), and a summary of
# the lifecycle ratios; lines starting with # are comments. Progress and
# warnings on stderr. Default run: about 2 minutes on 2 cores. Exit status 1
# if a runtime failed on a config (its output is printed), 2 on a usage or
# setup error.

set -uo pipefail
export LC_ALL=C

SELF=$(readlink -f "${BASH_SOURCE[0]}")
REPO=$(dirname "$(dirname "$SELF")")
BUSYBOX=/bin/busybox
ALL_CONFIGS=bench,runc-spec,podman,docker,containerd

warn() { echo "lifecycle.sh: $*" >&2; }
die() { warn "$*"; exit 2; }
usec() { REPLY=${EPOCHREALTIME//[!0-9]/}; } # microseconds, without a fork

###########################################################################
# Setup (outside the private mount namespace)
###########################################################################

# make build's binary (the Makefile's TARGET: musl on x86_64)
default_hull() {
	local t=target/release/hull
	[[ $(uname -m) == x86_64 ]] && t=target/x86_64-unknown-linux-musl/release/hull
	echo "$REPO/$t"
}

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
	# libc6-dev: gcc without recommends has no libc headers
	command -v gcc >/dev/null || missing+=(gcc libc6-dev)
	if ((${#missing[@]})); then
		apt_install "${missing[@]}" || warn "could not install: ${missing[*]}"
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
		# display name: the basename, made unique and safe for container ids;
		# "floor" is the floor's
		name=${arg##*/}
		name=${name//[!A-Za-z0-9_.-]/_}
		local base=$name n=2
		while [[ " ${RT_NAME[*]-} floor " == *" $name "* ]]; do name=$base-$((n++)); done
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

# The bench's own config.json template; @CGROUPS_PATH@ is replaced for every
# container. (hot-order.sh traces a lifecycle of this one.)
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

# rewrite_config SOURCE NAME: the bench's version of a config, written to
# $HB_TMP/configs/NAME.json (args /bin/true, for the lifecycles) and
# NAME.exec.json (args /bin/sleep, the running container that exec enters).
# Changed, because the captured value cannot work here or would not measure
# the same container for every runtime:
#   * root.path: the bench's rootfs (the engines' overlay mounts are gone);
#     root.readonly is kept.
#   * process.args: /bin/true; process.terminal: false (no console socket
#     here; the captured configs had none either), consoleSize dropped.
#   * linux.cgroupsPath: a unique /hull-bench-XXXX/<id> per container, the
#     cgroupfs form the engines sent too.
#   * hooks: dropped. The only ones captured are docker's prestart
#     `/proc/<dockerd pid>/exe libnetwork-setkey`, which needs that dockerd.
#   * namespaces with a path (a pod's or the host's netns, joined): made new
#     ones instead; the captured configs have none, a pod sandbox would.
#   * bind mounts whose source does not exist here (podman's userdata shm,
#     .containerenv, hostname, hosts; docker's resolv.conf, hostname, hosts):
#     the source is replaced by a file the bench makes under
#     $HB_TMP/files/NAME (a directory for /dev/shm or where the rootfs has a
#     directory; podman's shm is a tmpfs it mounts itself, which costs the
#     runtime nothing), so the mount, and its cost, stays. The first container
#     creates the missing targets (/run/.containerenv, /etc/hostname, ...)
#     in the shared rootfs, as a runtime does in an image that lacks them;
#     the warm-up does it, untimed.
#   * rlimits RLIMIT_NOFILE and RLIMIT_NPROC: capped at the bench's own hard
#     limits, since raising a hard limit needs CAP_SYS_RESOURCE, which some
#     hosts lack (this project's development VMs, where podman's 20000 is
#     the hard limit itself).
#   * seccomp: a listener (listenerPath, SCMP_ACT_NOTIFY rules) dropped, as
#     nobody would answer it; none was captured. The profile itself is kept.
#   * process.apparmorProfile, process.selinuxLabel, linux.mountLabel:
#     dropped, since they name a profile or context loaded on the engine's
#     host; none was captured (that host had neither LSM enabled).
rewrite_config() {
	local src=$1 name=$2 files=$HB_TMP/files/$2 s d new kind map='{}' lim nofile=null nproc=null
	mkdir -p "$HB_TMP/configs" || return 1
	while IFS=$'\t' read -r s d; do
		[[ -e $s ]] && continue
		kind="file"
		[[ $d == /dev/shm || -d $HB_TMP/rootfs/$d ]] && kind=dir
		new=$files/${d//\//_}
		mkdir -p "$files" || return 1
		if [[ $kind == dir ]]; then
			mkdir -p "$new" || return 1
		else
			case $d in
			*/hostname) echo bench ;;
			*/hosts) echo "127.0.0.1 localhost bench" ;;
			*/resolv.conf) echo "nameserver 127.0.0.1" ;;
			esac >"$new" || return 1
		fi
		map=$(jq -c --arg from "$s" --arg to "$new" '. + { ($from): $to }' <<<"$map") || return 1
	done < <(jq -r '.mounts[]? | select(.type == "bind" or ((.options // []) | any(. == "bind" or . == "rbind")))
		| [.source, .destination] | @tsv' "$src")
	lim=$(ulimit -Hn) && [[ $lim =~ ^[0-9]+$ ]] && nofile=$lim
	lim=$(ulimit -Hu) && [[ $lim =~ ^[0-9]+$ ]] && nproc=$lim
	jq --arg root "$HB_TMP/rootfs" --argjson map "$map" --argjson nofile "$nofile" --argjson nproc "$nproc" '
		def cap($lim): if $lim == null then . else .hard = ([.hard, $lim] | min) | .soft = ([.soft, .hard] | min) end;
		.root.path = $root
		| .process.args = ["/bin/true"]
		| .process.terminal = false
		| del(.process.consoleSize, .process.apparmorProfile, .process.selinuxLabel, .linux.mountLabel, .hooks)
		| .linux.cgroupsPath = "@CGROUPS_PATH@"
		| if .linux.namespaces then .linux.namespaces |= map(del(.path)) else . end
		| if .mounts then .mounts |= map(if $map[.source] then .source = $map[.source] else . end) else . end
		| if .process.rlimits then .process.rlimits |= map(
			if .type == "RLIMIT_NOFILE" then cap($nofile) elif .type == "RLIMIT_NPROC" then cap($nproc) else . end)
		  else . end
		| if .linux.seccomp then .linux.seccomp |= (del(.listenerPath, .listenerMetadata)
			| if .syscalls then .syscalls |= map(select(.action != "SCMP_ACT_NOTIFY")) else . end)
		  else . end' "$src" >"$HB_TMP/configs/$name.json" || return 1
	jq '.process.args = ["/bin/sleep", "100000"]' "$HB_TMP/configs/$name.json" >"$HB_TMP/configs/$name.exec.json"
}

# prepare_configs LIST: the rewritten configs, and $HB_TMP/configs.list (one
# "NAME<TAB>description" line per config, in the order of LIST).
prepare_configs() {
	local c src desc runc= e
	: >"$HB_TMP/configs.list" || return 1
	for c in ${1//,/ }; do
		case $c in
		bench)
			src=$HB_TMP/bench.json
			write_config_template "$HB_TMP/rootfs" "$src" || return 1
			desc="the bench's own config (no cgroup mount, no seccomp)" ;;
		runc-spec)
			for ((e = 0; e < ${#RT_NAME[@]}; e++)); do [[ ${RT_NAME[e]} == runc ]] && runc=${RT_BIN[e]}; done
			[[ -n $runc ]] || runc=$(command -v runc) ||
				{ warn "WARNING: no runc for \`runc spec\`; leaving out the runc-spec config"; continue; }
			mkdir -p "$HB_TMP/spec" && (cd "$HB_TMP/spec" && "$runc" spec) || return 1
			src=$HB_TMP/spec/config.json
			desc="\`runc spec\` of $("$runc" --version | head -n 1) (read-only root, cgroup mount, no seccomp)" ;;
		podman | docker | containerd)
			src=$REPO/bench/configs/$c-config.json
			[[ -f $src ]] || { warn "$src not found"; return 1; }
			desc="bench/configs/$c-config.json, what $c sent runc (see bench/configs/README.md)" ;;
		*) die "unknown config: $c (known: $ALL_CONFIGS)" ;;
		esac
		rewrite_config "$src" "$c" || { warn "cannot rewrite the $c config"; return 1; }
		printf '%s\t%s\n' "$c" "$desc" >>"$HB_TMP/configs.list"
	done
	[[ -s $HB_TMP/configs.list ]]
}

# uncache FILE: FILE's pages out of the page cache (written back first),
# so that they come back as the kernel reads them for an exec, alike for
# every runtime. A binary just written (a build, a cp) sits in folios of
# the sizes that write made, and the kernel's fault-around maps a whole
# large folio: the same binary's create_rss moved by up to 250 KiB with it.
uncache() {
	sync "$1" && dd if="$1" iflag=nocache count=0 status=none ||
		warn "WARNING: could not drop $1 from the page cache"
}

# The floor program, built here so that it suits this machine; static if the
# C library allows (no dynamic loader at its start, like a static runtime).
build_floor() {
	command -v gcc >/dev/null || { warn "WARNING: no gcc, leaving out the floor"; return 1; }
	gcc -O2 -static -o "$HB_TMP/floor" "$REPO/bench/floor.c" 2>/dev/null ||
		gcc -O2 -o "$HB_TMP/floor" "$REPO/bench/floor.c" ||
		{ warn "WARNING: cannot compile bench/floor.c, leaving out the floor"; return 1; }
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
	local rounds= quick=0 configs=$ALL_CONFIGS args=()
	while (($#)); do
		case $1 in
		-n) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "-n needs a positive number"; rounds=$2; shift ;;
		--quick) quick=1 ;;
		--configs) [[ -n ${2:-} ]] || die "--configs needs a list"; configs=$2; shift ;;
		--configs=*) configs=${1#*=} ;;
		-h | --help) usage; exit 0 ;;
		--) shift; args+=("$@"); break ;;
		-*) die "unknown option: $1 (see -h)" ;;
		*) args+=("$1") ;;
		esac
		shift
	done
	((${#args[@]})) || args=("$(default_hull)" runc crun)
	# Rounds, batches of 10, execs, RSS samples, per config. The default
	# keeps a run of all five configs at about 2 minutes on 2 cores.
	if ((quick)); then
		rounds=${rounds:-10} HB_BATCHES=1 HB_EXECS=5 HB_RSS=3
	else
		rounds=${rounds:-100} HB_BATCHES=5 HB_EXECS=30 HB_RSS=10
	fi
	local c
	for c in ${configs//,/ }; do
		[[ ,$ALL_CONFIGS, == *,$c,* ]] || die "unknown config: $c (known: $ALL_CONFIGS)"
	done

	[[ $(id -u) == 0 ]] || die "must run as root"
	((BASH_VERSINFO[0] >= 5)) || die "needs bash >= 5 (for \$EPOCHREALTIME)"
	ensure_tools
	resolve_runtimes "${args[@]}"

	HB_TMP=$(mktemp -d /tmp/hull-bench.XXXXXX) || die "mktemp failed"
	trap outer_cleanup EXIT
	trap 'exit 130' INT TERM HUP
	local uniq=${HB_TMP##*.}
	uniq=${uniq,,}
	export HB_TMP HB_ROUNDS=$rounds HB_BATCHES HB_EXECS HB_RSS HB_OUTER_PID=$$
	export HB_ID=hb$uniq HB_CGROUP=hull-bench-$uniq HB_FLOOR=

	build_rootfs "$HB_TMP/rootfs" || die "cannot build the busybox rootfs"
	prepare_configs "$configs" || die "cannot prepare the configs"
	build_floor && HB_FLOOR=$HB_TMP/floor
	local i
	for ((i = 0; i < ${#RT_BIN[@]}; i++)); do
		printf '%s\t%s\n' "${RT_NAME[i]}" "${RT_BIN[i]}"
	done >"$HB_TMP/runtimes"
	for i in "${RT_BIN[@]}" ${HB_FLOOR:+"$HB_FLOOR"}; do uncache "$i"; done

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

# new_id E: sets NEW_ID, a container id unique in this run. Made by the
# caller before a lifecycle runs in a subshell, where SEQ++ would be lost.
new_id() { NEW_ID=$HB_ID-${RT_NAME[$1]}-$((SEQ++)); }

# write_bundle E SLOT ID: the config.json of container ID (its own cgroup) in
# E's bundle SLOT (one per concurrent container), before any clock starts.
write_bundle() {
	[[ ${KIND[$1]} == rt ]] || return 0
	printf '%s\n' "${CONFIG//@CGROUPS_PATH@//$HB_CGROUP/$3}" >"$HB_TMP/bundle.$1.$2/config.json"
}

# lifecycle E SLOT ID [RSS_FILE]: one container of entry E, create to delete,
# from bundle SLOT, written by write_bundle. On success sets PH=(create start
# wait delete) and LIFE (their sum), in microseconds, and with RSS_FILE,
# INIT_RSS (KiB). On failure returns 1 with FAILED_PHASE set and the
# command's output in $HB_TMP/out.E.SLOT.
# Commands are prefixed with "${PREFIX[@]}" (a timeout for the warm-up).
lifecycle() {
	local e=$1 slot=$2 id=$3 rssf=${4:-} out=$HB_TMP/out.$1.$2 timer=() t0 t1 t2 t3 t4 t5 pid= line
	[[ -n $rssf ]] && timer=(/usr/bin/time -f %M -o "$rssf")
	PH=() LIFE= INIT_RSS=
	if [[ ${KIND[e]} == floor ]]; then
		usec; t0=$REPLY
		"${PREFIX[@]}" "${timer[@]}" "$HB_FLOOR" "$HB_TMP/rootfs" </dev/null >"$out" 2>&1 ||
			{ FAILED_PHASE=floor; return 1; }
		usec; LIFE=$((REPLY - t0))
		return 0
	fi
	local rt=${RT_BIN[e]} root=${RT_ROOT[e]} bundle=$HB_TMP/bundle.$e.$slot
	rm -f "$bundle/pid"
	LIVE[e]=$id

	usec; t0=$REPLY
	"${PREFIX[@]}" "${timer[@]}" "$rt" --root "$root" create --bundle "$bundle" --pid-file "$bundle/pid" "$id" \
		</dev/null >"$out" 2>&1 || { FAILED_PHASE="create $id"; return 1; }
	usec; t1=$REPLY
	{ read -r pid <"$bundle/pid" || [[ -n $pid ]]; } 2>/dev/null
	[[ $pid =~ ^[1-9][0-9]*$ ]] || { FAILED_PHASE="create $id: no valid --pid-file"; return 1; }
	if [[ -n $rssf ]]; then
		while read -r line; do
			[[ $line == VmRSS:* ]] && INIT_RSS=${line//[!0-9]/}
		done <"/proc/$pid/status"
	fi
	usec; t2=$REPLY # reading the pid file is nobody's phase
	"${PREFIX[@]}" "$rt" --root "$root" start "$id" </dev/null >"$out" 2>&1 ||
		{ FAILED_PHASE="start $id"; return 1; }
	usec; t3=$REPLY
	wait_exit "$pid" || { FAILED_PHASE="wait: init $pid of $id still running after 10 s"; return 1; }
	usec; t4=$REPLY
	"${PREFIX[@]}" "$rt" --root "$root" delete "$id" </dev/null >"$out" 2>&1 ||
		{ FAILED_PHASE="delete $id"; return 1; }
	usec; t5=$REPLY
	LIVE[e]=
	PH=($((t1 - t0)) $((t3 - t2)) $((t4 - t3)) $((t5 - t4)))
	LIFE=$((PH[0] + PH[1] + PH[2] + PH[3]))
	return 0
}

# fail_entry E WHAT OUTPUT_FILE: E is left out for the rest of this config.
fail_entry() {
	local e=$1
	OK[e]=0 FAILED_ANY=1
	WHY[e]="$2: $(grep -m 1 . "$3" 2>/dev/null)"
	warn "FAILED: ${RT_NAME[e]} (${RT_BIN[e]}) on config $CFG: $2; its output:"
	sed 's/^/    /' "$3" >&2
}

# run E [RSS_FILE]: one lifecycle in slot 0; a failed runtime is reported,
# cleaned up and left out of this config from then on.
run() {
	local e=$1
	new_id "$e"
	write_bundle "$e" 0 "$NEW_ID"
	lifecycle "$e" 0 "$NEW_ID" "${2:-}" && return 0
	fail_entry "$e" "$FAILED_PHASE" "$HB_TMP/out.$e.0"
	force_delete "$e"
	return 1
}

# batch E: 10 lifecycles of E at once, each in a subshell of its own (the
# measuring shell stays the subreaper of all the inits). Sets CONC: the wall
# time from the first launch to the end of the last lifecycle.
batch() {
	local e=$1 j t0 pids=() bids=() bad=()
	for ((j = 0; j < 10; j++)); do
		new_id "$e"
		bids+=("$NEW_ID")
		write_bundle "$e" "$j" "$NEW_ID"
	done
	usec; t0=$REPLY
	for ((j = 0; j < 10; j++)); do
		{ lifecycle "$e" "$j" "${bids[j]}" || { echo "lifecycle.sh: $FAILED_PHASE" >>"$HB_TMP/out.$e.$j"; exit 1; }; } &
		pids+=($!)
	done
	for ((j = 0; j < 10; j++)); do wait "${pids[j]}" || bad+=("$j"); done
	usec; CONC=$((REPLY - t0))
	((${#bad[@]})) || return 0
	fail_entry "$e" "${#bad[@]} of 10 lifecycles at once" "$HB_TMP/out.$e.${bad[0]}"
	if [[ ${KIND[e]} == rt ]]; then
		for j in "${bids[@]}"; do [[ -e ${RT_ROOT[e]}/$j ]] && LIVE[e]=$j && force_delete "$e"; done
	fi
	return 1
}

# exec_setup E: creates and starts E's running container of this config
# (/bin/sleep), then execs into it once, untimed; XID[E] is its id. A runtime
# that fails here only loses its exec column.
exec_setup() {
	local e=$1 rt=${RT_BIN[$1]} root=${RT_ROOT[$1]} bundle=$HB_TMP/bundle.$1.x out=$HB_TMP/out.$1.x id
	new_id "$e"
	id=$NEW_ID XID[e]=$NEW_ID
	printf '%s\n' "${EXEC_CONFIG//@CGROUPS_PATH@//$HB_CGROUP/$id}" >"$bundle/config.json"
	timeout 30 "$rt" --root "$root" create --bundle "$bundle" "$id" </dev/null >"$out" 2>&1 &&
		timeout 30 "$rt" --root "$root" start "$id" </dev/null >"$out" 2>&1 &&
		timeout 30 "$rt" --root "$root" exec "$id" /bin/true </dev/null >"$out" 2>&1 && return 0
	exec_failed "$e" "create, start or a first exec of $id"
}

exec_failed() { # E WHAT
	local e=$1
	XOK[e]=0 FAILED_ANY=1
	XWHY[e]="$2: $(grep -m 1 . "$HB_TMP/out.$e.x" 2>/dev/null)"
	warn "FAILED: ${RT_NAME[e]} (${RT_BIN[e]}) on config $CFG: exec: $2; its output:"
	sed 's/^/    /' "$HB_TMP/out.$e.x" >&2
}

# exec_once E: one timed `exec ID /bin/true`; sets XT (microseconds).
exec_once() {
	local e=$1 t0
	usec; t0=$REPLY
	"${RT_BIN[e]}" --root "${RT_ROOT[e]}" exec "${XID[e]}" /bin/true </dev/null >"$HB_TMP/out.$e.x" 2>&1 ||
		{ exec_failed "$e" "exec into ${XID[e]}"; return 1; }
	usec; XT=$((REPLY - t0))
}

exec_teardown() {
	local e=$1
	[[ -n ${XID[e]:-} ]] || return 0
	LIVE[e]=${XID[e]} XID[e]=
	force_delete "$e"
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
	for ((e = 0; e < NR; e++)); do
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

# Leftovers of the lifecycles that a runtime should have removed: cgroup
# dirs, state dirs, mounts. Warnings only.
check_leftovers() {
	local e mp n d
	for ((e = 0; e < NR; e++)); do
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
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2fx\n", a / b }'; }

# The columns of a config's table: the sample array, its divisor (us -> ms,
# KiB as is) and decimals.
COLS=(LIFE CREATE START WAIT DELETE CONC EXEC RSS INIT)
COL_HEAD=(lifecycle create start wait delete 10_at_once exec create_rss init_rss)
COL_DIV=(1000 1000 1000 1000 1000 1000 1000 1 1)
COL_DEC=(2 2 2 2 2 1 2 0 0)

row() { printf "%-${W}s %9s %7s %6s %6s %7s %10s %6s %10s %8s\n" "$@"; }

# report_config: the table of the config just measured.
report_config() {
	local e o k ref cells
	local -A M=()
	for ((e = 0; e < NE; e++)); do
		for k in "${COLS[@]}"; do
			ref="S_${k}[$e]"
			M[$e,$k]=-
			((OK[e])) || continue
			[[ $k == EXEC ]] && ((!XOK[e])) && continue
			M[$e,$k]=$(median "${!ref-}")
		done
	done
	echo
	echo "== $CFG: $CFG_DESC =="
	row runtime "${COL_HEAD[@]}"
	for ((e = 0; e < NE; e++)); do
		if ((!OK[e])); then
			row "${RT_NAME[e]}" FAILED - - - - - - - -
			continue
		fi
		cells=()
		for ((k = 0; k < ${#COLS[@]}; k++)); do
			cells+=("$(fmt "${M[$e,${COLS[k]}]}" "${COL_DIV[k]}" "${COL_DEC[k]}")")
		done
		row "${RT_NAME[e]}" "${cells[@]}"
	done
	for ((o = 1; o < NE; o++)); do
		cells=()
		for k in "${COLS[@]}"; do cells+=("$(ratio "${M[0,$k]}" "${M[$o,$k]}")"); done
		row "${RT_NAME[0]}/${RT_NAME[o]}" "${cells[@]}"
		SUMMARY[o]+=" $(ratio "${M[0,LIFE]}" "${M[$o,LIFE]}")"
	done
	for ((e = 0; e < NE; e++)); do
		((OK[e])) || echo "# ${RT_NAME[e]} FAILED on $CFG: ${WHY[e]}"
		((e < NR && OK[e] && !XOK[e])) && echo "# ${RT_NAME[e]}'s exec FAILED on $CFG: ${XWHY[e]}"
	done
	return 0
}

# shuffle N: ORDER = 0..N-1 in a random order (Fisher-Yates; bash's RANDOM,
# seeded once per run from the clock).
shuffle() {
	local n=$1 k j t
	ORDER=()
	for ((k = 0; k < n; k++)); do ORDER[k]=$k; done
	for ((k = n - 1; k > 0; k--)); do
		j=$((RANDOM % (k + 1)))
		t=${ORDER[k]} ORDER[k]=${ORDER[j]} ORDER[j]=$t
	done
}

# bench_config NAME DESCRIPTION: every measurement of one config.
bench_config() {
	local e i k rssf=$HB_TMP/rss line kb
	CFG=$1 CFG_DESC=$2
	CONFIG=$(<"$HB_TMP/configs/$CFG.json")
	EXEC_CONFIG=$(<"$HB_TMP/configs/$CFG.exec.json")
	OK=() XOK=() WHY=() XWHY=() XID=()
	S_LIFE=() S_CREATE=() S_START=() S_WAIT=() S_DELETE=() S_CONC=() S_EXEC=() S_RSS=() S_INIT=()
	for ((e = 0; e < NE; e++)); do OK[e]=1 XOK[e]=1; done

	warn "config $CFG: warm-up, $HB_ROUNDS rounds, $HB_BATCHES x 10 at once, $HB_EXECS execs, $HB_RSS RSS samples"
	# warm-up: one lifecycle each, under a timeout
	PREFIX=(timeout 30)
	for ((e = 0; e < NE; e++)); do run "$e"; done
	PREFIX=()

	for ((i = 0; i < HB_ROUNDS; i++)); do
		shuffle "$NE"
		for e in "${ORDER[@]}"; do
			((OK[e])) || continue
			run "$e" || continue
			S_LIFE[e]+=" $LIFE"
			((${#PH[@]})) || continue # the floor has no phases
			S_CREATE[e]+=" ${PH[0]}" S_START[e]+=" ${PH[1]}" S_WAIT[e]+=" ${PH[2]}" S_DELETE[e]+=" ${PH[3]}"
		done
	done
	for ((i = 0; i < HB_BATCHES; i++)); do
		shuffle "$NE"
		for e in "${ORDER[@]}"; do
			((OK[e])) || continue
			batch "$e" && S_CONC[e]+=" $CONC"
		done
	done
	# exec: one running container per runtime, all up during the rounds
	for ((e = 0; e < NR; e++)); do ((OK[e])) && exec_setup "$e"; done
	for ((e = NR; e < NE; e++)); do XOK[e]=0; done # the floor has no exec
	for ((i = 0; i < HB_EXECS; i++)); do
		shuffle "$NR"
		for e in "${ORDER[@]}"; do
			((OK[e] && XOK[e])) || continue
			exec_once "$e" && S_EXEC[e]+=" $XT"
		done
	done
	for ((e = 0; e < NR; e++)); do exec_teardown "$e"; done
	# peak RSS of create and RSS of the waiting init, in untimed lifecycles
	for ((i = 0; i < HB_RSS; i++)); do
		shuffle "$NE"
		for e in "${ORDER[@]}"; do
			((OK[e])) || continue
			run "$e" "$rssf" || continue
			kb=
			while read -r line; do [[ $line =~ ^[0-9]+$ ]] && kb=$line; done <"$rssf"
			[[ -n $kb ]] && S_RSS[e]+=" $kb"
			[[ -n $INIT_RSS ]] && S_INIT[e]+=" $INIT_RSS"
		done
	done
	report_config
}

inner_main() {
	local e j name bin c desc
	RT_NAME=() RT_BIN=() RT_ROOT=() KIND=() LIVE=()
	while IFS=$'\t' read -r name bin; do
		e=${#RT_NAME[@]}
		RT_NAME+=("$name") RT_BIN+=("$bin") RT_ROOT+=("$HB_TMP/root.$e") KIND+=(rt) LIVE+=("")
	done <"$HB_TMP/runtimes"
	NR=${#RT_NAME[@]} # the runtimes, then the floor if there is one
	[[ -n $HB_FLOOR ]] && RT_NAME+=(floor) RT_BIN+=("$HB_FLOOR") KIND+=(floor) LIVE+=("")
	NE=${#RT_NAME[@]}
	for ((e = 0; e < NE; e++)); do
		mkdir -p "$HB_TMP/root.$e" "$HB_TMP/bundle.$e.x"
		for ((j = 0; j < 10; j++)); do mkdir -p "$HB_TMP/bundle.$e.$j"; done
	done
	SEQ=0 PREFIX=() FAILED_ANY=0 SUMMARY=()
	W=7
	for ((e = 1; e < NE; e++)); do
		((${#RT_NAME[0]} + 1 + ${#RT_NAME[e]} > W)) && W=$((${#RT_NAME[0]} + 1 + ${#RT_NAME[e]}))
	done
	trap inner_cleanup EXIT
	trap 'exit 130' INT TERM HUP

	# Only ever unmount in a mount namespace that is not the caller's.
	[[ $(readlink /proc/self/ns/mnt) != "$(readlink "/proc/$HB_OUTER_PID/ns/mnt")" ]] ||
		die "not in a private mount namespace; refusing to unmount anything"
	if [[ $(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null) == cgroup2fs ]]; then
		umount -l /sys/fs/cgroup/unified || die "umount -l /sys/fs/cgroup/unified failed"
	fi
	exec {SLEEP_FD}<> <(:) # a pipe nobody writes to: read -t on it is a sleep

	echo "# per config, medians: lifecycle (create+start+wait+delete of /bin/true, $HB_ROUNDS interleaved rounds) and its"
	echo "# phases, ms; 10_at_once: wall ms of 10 concurrent lifecycles (median of $HB_BATCHES); exec: \`exec ID /bin/true\`"
	echo "# into a running container, ms (median of $HB_EXECS); create_rss: peak RSS of \`create\` (GNU time %M), init_rss: VmRSS of the"
	echo "# created, not started, init, KiB (medians of $HB_RSS); ratio rows: ${RT_NAME[0]}'s value / the other's"
	echo "# $(date -u +%FT%TZ), $(uname -r), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
	for ((e = 0; e < NR; e++)); do
		echo "# ${RT_NAME[e]} = ${RT_BIN[e]} ($("${RT_BIN[e]}" --version 2>/dev/null | head -n 1)), $(fmt "$(stat -L -c %s "${RT_BIN[e]}")" 1024 0) KiB"
	done
	[[ -n $HB_FLOOR ]] && echo "# floor = bench/floor.c: clone (mnt, pid, uts, ipc, net), pivot_root, mount /proc, exec /bin/true"

	while IFS=$'\t' read -r c desc; do bench_config "$c" "$desc"; done <"$HB_TMP/configs.list"

	echo
	echo "# summary: ${RT_NAME[0]}'s lifecycle / the other's, per config ($(cut -d' ' -f1-3 /proc/loadavg) load at the end)"
	local o ref
	printf '%-10s' config
	for ((o = 1; o < NE; o++)); do printf ' %9s' "/${RT_NAME[o]}"; done
	echo
	for ((o = 1; o < NE; o++)); do read -r -a "col$o" <<<"${SUMMARY[o]-}"; done
	j=0
	while IFS=$'\t' read -r c _; do
		printf '%-10s' "$c"
		for ((o = 1; o < NE; o++)); do
			ref="col${o}[$j]"
			printf ' %9s' "${!ref--}"
		done
		echo
		((j++))
	done <"$HB_TMP/configs.list"

	check_leftovers
	exit $((FAILED_ANY ? 1 : 0))
}

# Sourced (by hot-order.sh) for its functions only.
[[ ${BASH_SOURCE[0]} == "$0" ]] || return 0

case ${1:-} in
--inner) inner_main ;;
*) outer_main "$@" ;;
esac
