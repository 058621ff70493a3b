#!/usr/bin/env bash
# Runs inside the engines VM (`make test-vm-engines`: hull-test.service runs
# the payload's hull-vm/run, which runs this): docker, podman and
# containerd's ctr, each with runc and then with hull as the low-level
# runtime, all with the systemd cgroup driver, so each container is a
# transient systemd scope. One line per scenario, which vm/engines.sh on
# the host makes a table of:
#   engines: ENGINE/RUNTIME SCENARIO PASS (Ns)
#   engines: ENGINE/RUNTIME SCENARIO FAIL (Ns)
#   engines: ENGINE/RUNTIME SCENARIO | what failed, a line at a time
# Exits 1 if any scenario failed.
#
#   vm/engines-guest.sh HULL      (as root, in the VM)
#
# Nothing is pulled (the VM has no network): the image is made here from
# the VM's static busybox. Containers run with no network (--network none)
# and dockerd with no bridge: networking is not what this is about.
set -uo pipefail

hull=$(realpath "${1:?usage: vm/engines-guest.sh HULL}")
runc=$(command -v runc)
runtimes=(runc hull)
declare -A path_of=([runc]=$runc [hull]=$hull)
# Each engine command is bounded: a hung runtime fails its scenario, and
# the run goes on.
t() { timeout -k 5 120 "$@"; }

echo "engines: kernel $(uname -r); /sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup);" \
	"systemd $(systemctl --version | awk 'NR == 1 { print $2 }'); our cgroup: $(cut -d: -f3 /proc/self/cgroup)"
echo "engines: runc: $runc, $("$runc" --version | head -1); hull: $hull, $("$hull" --version | head -1)"

failed=0
# result ENGINE/RUNTIME SCENARIO START_SECONDS STATUS [OUTPUT]: the
# scenario's line, PASS if STATUS is 0; a failure's output follows, each
# line prefixed.
result() {
	if [ "$4" = 0 ]; then
		echo "engines: $1 $2 PASS ($((SECONDS - $3)) s)"
	else
		failed=1
		echo "engines: $1 $2 FAIL ($((SECONDS - $3)) s)"
		printf '%s\n' "${5:-}" | awk -v p="engines: $1 $2 | " '{ print p $0 }'
	fi
}

# No unit of systemd's holds the container's ID any more (its scope, and
# podman's conmon scope): polled for a while, as the engine may return from
# stop or rm a moment before the runtime's delete has stopped the unit.
# Prints what is left on a failure.
no_unit_left() {
	local id=$1 i left
	for ((i = 0; i < 20; i++)); do
		left=$(systemctl list-units --all --no-legend --plain | grep -F "$id")
		[ -z "$left" ] && return 0
		sleep 0.5
	done
	echo "units left: $left"
	return 1
}

# A scope of systemd's, active, holding PID: /proc/PID/cgroup names it
# (0::/SLICE/UNIT) and systemd knows it as a unit: a cgroup directory of
# that name made without systemd (cgroupfs) would not pass.
is_scope() {
	local pid=$1 slice=$2 unit=$3 cg state
	cg=$(cat "/proc/$pid/cgroup" 2>&1)
	state=$(systemctl show -p ActiveState --value "$unit" 2>&1)
	echo "pid $pid: /proc/$pid/cgroup: $cg; $unit: ActiveState=$state"
	[ "$cg" = "0::/$slice/$unit" ] && [ "$state" = active ]
}

# The container's init: exits at once on SIGTERM (stop), so stop does not
# wait out its time-out to SIGKILL it.
init='trap "exit 0" TERM; sleep 600 & wait'

# A counter for checkpoint/restore: 1, 2, 3, ... on its stdout, a tenth of
# a second apart.
counter='i=0; while true; do i=$((i+1)); echo $i; sleep 0.1; done'

# Checkpoint and restore of the counter with an engine of docker's CLI
# (KEY: ENGINE/RUNTIME; the global arrays eng, run_flags as in
# engine_scenarios): the count resumes where it stopped, as the engine's
# logs show it (1, 2, ... with no restart and no gap), in the same
# container, running again. The engine's two commands for container ID
# are the functions ${ENGINE}_checkpoint and ${ENGINE}_restore.
engine_checkpoint() {
	local key=$1 image=$2 start out id rc engine=${1%/*}
	start=$SECONDS
	out=$(t "${eng[@]}" run "${run_flags[@]}" -d --network none "$image" sh -c "$counter" 2>&1)
	id=$(grep -Eo '^[0-9a-f]{64}$' <<<"$out" | tail -1)
	if [ -z "$id" ]; then
		result "$key" checkpoint-restore "$start" 1 "run -d: $out"
		return
	fi
	out=$(
		count() { "${eng[@]}" logs "$id" 2>/dev/null | wc -l; }
		for ((i = 0; i < 100 && $(count) < 5; i++)); do sleep 0.2; done
		"${engine}_checkpoint" "$id" 2>&1 || { echo "checkpoint failed"; exit 1; }
		state=$("${eng[@]}" inspect -f '{{.State.Status}}' "$id")
		before=$("${eng[@]}" logs "$id" | tail -1)
		echo "checkpointed at $before, then $state"
		"${engine}_restore" "$id" 2>&1 || { echo "restore failed"; exit 1; }
		for ((i = 0; i < 100 && $(count) < before + 5; i++)); do sleep 0.2; done
		n=$(count)
		echo "restored: $("${eng[@]}" inspect -f '{{.State.Status}} pid {{.State.Pid}}' "$id"), logs: $n lines," \
			"from $("${eng[@]}" logs "$id" | head -1) to $("${eng[@]}" logs "$id" | tail -1)," \
			"after $before: $("${eng[@]}" logs "$id" | sed -n "$((before + 1))p")"
		[ "$state" = exited ] && [ "$n" -ge $((before + 5)) ] &&
			"${eng[@]}" logs "$id" | awk 'NR != $1 { bad = 1 } END { exit bad }'
	)
	rc=$?
	echo "engines-info: $key checkpoint-restore: $(tr '\n' ' ' <<<"$out")"
	result "$key" checkpoint-restore "$start" "$rc" "$out"
	t "${eng[@]}" rm -f "$id" >/dev/null 2>&1
}
podman_checkpoint() { t "${eng[@]}" container checkpoint "$1"; }
podman_restore() { t "${eng[@]}" container restore "$1"; }
# docker's (experimental in 20.10): the checkpoint in the container's
# directory, the container stopped by it; start restores from it.
docker_checkpoint() { t docker checkpoint create "$1" engines-ckpt; }
docker_restore() { t docker start --checkpoint engines-ckpt "$1"; }

# --- the image: busybox, its applets as links, a root user.
img=/var/tmp/engines-busybox
mkdir -p "$img/rootfs/bin" "$img/rootfs/etc" "$img/rootfs/tmp"
cp "$(command -v busybox)" "$img/rootfs/bin/busybox"
for applet in $(busybox --list); do
	[ "$applet" = busybox ] || ln -s busybox "$img/rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$img/rootfs/etc/passwd"
echo 'root:x:0:' >"$img/rootfs/etc/group"
tar --numeric-owner -C "$img/rootfs" -cf "$img/rootfs.tar" .

# The scenarios of an engine with docker's CLI (docker, podman): KEY is
# ENGINE/RUNTIME, the engine puts a container's scope in SLICE as
# PREFIX-ID.scope, IMAGE is ours; the global array eng is the engine's
# command (with its global flags), run_flags the flags run is given.
engine_scenarios() {
	local key=$1 slice=$2 prefix=$3 image=$4 start out id pid unit rc s

	# The memory limit as the container sees it in its cgroup (cgroup
	# namespace: /sys/fs/cgroup is its own cgroup).
	start=$SECONDS
	out=$(t "${eng[@]}" run "${run_flags[@]}" --rm --network none --memory 64m "$image" \
		cat /sys/fs/cgroup/memory.max 2>&1)
	[ "$out" = 67108864 ]
	result "$key" memory-limit "$start" $? "$out"

	# A detached container, for exec, its scope, and its end.
	start=$SECONDS
	out=$(t "${eng[@]}" run "${run_flags[@]}" -d --network none --memory 64m "$image" sh -c "$init" 2>&1)
	rc=$?
	id=$(grep -Eo '^[0-9a-f]{64}$' <<<"$out" | tail -1)
	if [ "$rc" != 0 ] || [ -z "$id" ]; then
		result "$key" run-detached "$start" 1 "exit status $rc: $out"
		for s in exec scope unit-memory stop; do
			result "$key" "$s" "$SECONDS" 1 "not run: run -d failed"
		done
		[ -z "$id" ] || t "${eng[@]}" rm -f "$id" >/dev/null 2>&1
		return
	fi
	result "$key" run-detached "$start" 0
	unit=$prefix-$id.scope

	start=$SECONDS
	out=$(t "${eng[@]}" exec "$id" echo exec-ok 2>&1)
	[ "$out" = exec-ok ]
	result "$key" exec "$start" $? "$out"

	start=$SECONDS
	pid=$(t "${eng[@]}" inspect -f '{{.State.Pid}}' "$id" 2>&1)
	out=$(is_scope "$pid" "$slice" "$unit")
	result "$key" scope "$start" $? "$out"

	# The limit is the unit's (MemoryMax), not only written to the cgroup's
	# file: a daemon-reload of systemd's would otherwise undo it.
	start=$SECONDS
	out=$(systemctl show -p MemoryMax --value "$unit" 2>&1)
	[ "$out" = 67108864 ]
	result "$key" unit-memory "$start" $? "MemoryMax of $unit: $out"

	start=$SECONDS
	out=$(end_container "$id" "$prefix")
	result "$key" stop "$start" $? "$out"
	t "${eng[@]}" rm -f "$id" >/dev/null 2>&1
}

# Stops container ID (and removes it, for podman, whose PREFIX is libpod:
# its scope goes with the container, not with its process): it exited, and
# no unit is left. Prints what went wrong.
end_container() {
	local id=$1 prefix=$2 out
	out=$(t "${eng[@]}" stop "$id" 2>&1) || { echo "stop: $out"; return 1; }
	out=$(t "${eng[@]}" inspect -f '{{.State.Status}}' "$id" 2>&1)
	[ "$out" = exited ] || { echo "status after stop: $out"; return 1; }
	if [ "$prefix" = libpod ]; then
		out=$(t "${eng[@]}" rm "$id" 2>&1) || { echo "rm: $out"; return 1; }
	fi
	no_unit_left "$id"
}

# The scenarios of containerd's ctr for KEY (ctr/RUNTIME), with the
# runtime binary PATH, in a namespace of containerd's of their own.
ctr=(ctr -n engines)
ctr_scenarios() {
	local key=$1 path=$2 id=engines-${1#*/} start out rc pid cg unit s
	unit=ctr-$id.scope

	start=$SECONDS
	out=$(t "${ctr[@]}" run -d --runc-binary "$path" --runc-systemd-cgroup --cgroup "system.slice:ctr:$id" \
		--memory-limit 67108864 docker.io/library/engines-busybox:latest "$id" sh -c "$init" 2>&1)
	rc=$?
	pid=$("${ctr[@]}" task ls 2>/dev/null | awk -v id="$id" '$1 == id && $3 == "RUNNING" { print $2 }')
	if [ "$rc" != 0 ] || [ -z "$pid" ]; then
		result "$key" run-detached "$start" 1 "exit status $rc: $out"
		for s in memory-limit scope unit-memory stop; do
			result "$key" "$s" "$SECONDS" 1 "not run: run -d failed"
		done
	else
		result "$key" run-detached "$start" 0

		start=$SECONDS
		cg=$(cut -d: -f3 "/proc/$pid/cgroup")
		out=$(cat "/sys/fs/cgroup$cg/memory.max" 2>&1)
		[ "$out" = 67108864 ]
		result "$key" memory-limit "$start" $? "memory.max of $cg: $out"

		out=$(is_scope "$pid" system.slice "$unit")
		result "$key" scope "$start" $? "$out"

		out=$(systemctl show -p MemoryMax --value "$unit" 2>&1)
		[ "$out" = 67108864 ]
		result "$key" unit-memory "$start" $? "MemoryMax of $unit: $out"

		start=$SECONDS
		out=$(end_task "$id")
		result "$key" stop "$start" $? "$out"
	fi
	t "${ctr[@]}" task rm -f "$id" >/dev/null 2>&1
	t "${ctr[@]}" container rm "$id" >/dev/null 2>&1
}

# ctr's checkpoint and restore of a counter for KEY (ctr/RUNTIME), with
# the runtime binary PATH, as containerd 1.6 offers them: `ctr container
# checkpoint --task --rw` pauses the task, has the runtime checkpoint it
# (--leave-running) into a checkpoint image with the spec, the runtime's
# options and the rw layer, and resumes it; the container is then ended,
# and `ctr container restore --live --rw` makes it again from that image
# and has the runtime restore the task. ctr keeps no output of a task, so
# the counter appends to /tmp/count in its rw layer (restored with it):
# the count resumes where it stopped, with no restart and no gap.
ctr_checkpoint() {
	local key=$1 path=$2 id=engines-ckpt-${1#*/} start out rc ref
	ref=localhost/engines-ckpt-${1#*/}:latest
	start=$SECONDS
	out=$(t "${ctr[@]}" run -d --runc-binary "$path" --runc-systemd-cgroup --cgroup "system.slice:ctr:$id" \
		docker.io/library/engines-busybox:latest "$id" \
		sh -c 'trap "exit 0" TERM; i=0; while true; do i=$((i+1)); echo $i >>/tmp/count; sleep 0.1; done' 2>&1 </dev/null)
	rc=$?
	out=$(
		[ "$rc" = 0 ] || { echo "run -d: exit status $rc: $out"; exit 1; }
		task_pid() { "${ctr[@]}" task ls 2>/dev/null | awk -v id="$id" '$1 == id && $3 == "RUNNING" { print $2 }'; }
		count() { wc -l <"/proc/$(task_pid)/root/tmp/count" 2>/dev/null || echo 0; }
		for ((i = 0; i < 100 && $(count) < 5; i++)); do sleep 0.2; done
		t "${ctr[@]}" container checkpoint --task --rw "$id" "$ref" 2>&1 </dev/null ||
			{ echo "checkpoint failed"; exit 1; }
		echo "checkpointed at about $(count); $("${ctr[@]}" images ls -q | grep -F "$ref")"
		end_task "$id" || exit 1
		t "${ctr[@]}" container restore --live --rw "$id" "$ref" 2>&1 </dev/null || { echo "restore failed"; exit 1; }
		pid=$(task_pid)
		[ -n "$pid" ] || { echo "not running after restore: $("${ctr[@]}" task ls 2>&1 | grep -F "$id")"; exit 1; }
		before=$(count)
		for ((i = 0; i < 100 && $(count) < before + 5; i++)); do sleep 0.2; done
		n=$(count)
		echo "restored: pid $pid, $(cut -d: -f3 "/proc/$pid/cgroup"), $before lines at once, $n later," \
			"from $(head -1 "/proc/$pid/root/tmp/count") to $(tail -1 "/proc/$pid/root/tmp/count")"
		[ "$n" -ge $((before + 5)) ] && awk 'NR != $1 { bad = 1 } END { exit bad }' "/proc/$pid/root/tmp/count"
	)
	rc=$?
	echo "engines-info: $key checkpoint-restore: $(tr '\n' ' ' <<<"$out")"
	result "$key" checkpoint-restore "$start" "$rc" "$out"
	t "${ctr[@]}" task rm -f "$id" >/dev/null 2>&1
	t "${ctr[@]}" container rm "$id" >/dev/null 2>&1
	t "${ctr[@]}" images rm "$ref" >/dev/null 2>&1
}

# Ends ctr's container ID: its task killed (TERM) and deleted, the
# container removed, and no unit left. Prints what went wrong.
end_task() {
	local id=$1 out i
	out=$(t "${ctr[@]}" task kill "$id" 2>&1) || { echo "task kill: $out"; return 1; }
	for ((i = 0; i < 50; i++)); do
		"${ctr[@]}" task ls 2>/dev/null | grep -q "^$id .*STOPPED" && break
		sleep 0.2
	done
	out=$(t "${ctr[@]}" task rm "$id" 2>&1) || { echo "task rm: $out"; return 1; }
	out=$(t "${ctr[@]}" container rm "$id" 2>&1) || { echo "container rm: $out"; return 1; }
	no_unit_left "$id"
}

# --- docker: its packaged units (socket, containerd), configured first.
# The systemd driver (the default on cgroup v2, made explicit); hull as a
# runtime of dockerd's by its path; runc is dockerd's own runtime "runc"
# (Debian's, from PATH), through the same shim.
mkdir -p /etc/docker
cat >/etc/docker/daemon.json <<EOF
{
	"exec-opts": ["native.cgroupdriver=systemd"],
	"runtimes": { "hull": { "path": "$hull" } },
	"bridge": "none",
	"experimental": true,
	"iptables": false
}
EOF
start=$SECONDS
if out=$(t systemctl start docker 2>&1) && out=$(t docker import "$img/rootfs.tar" engines-busybox 2>&1); then
	echo "engines: docker $(docker version -f '{{.Server.Version}}') up in $((SECONDS - start)) s," \
		"cgroup driver $(docker info -f '{{.CgroupDriver}}')"
	for r in "${runtimes[@]}"; do
		eng=(docker)
		run_flags=(--runtime "$r")
		engine_scenarios "docker/$r" system.slice docker engines-busybox
		engine_checkpoint "docker/$r" engines-busybox
	done
else
	for r in "${runtimes[@]}"; do
		result "docker/$r" setup "$start" 1 "$out
$(journalctl -b -u docker -u containerd --no-pager | tail -20)"
	done
fi

# --- containerd's ctr, with the containerd dockerd started, and docker's
# image: --runc-systemd-cgroup, and a cgroupsPath of systemd's form
# (slice:prefix:name), which ctr does not make itself. Its containers have
# no cgroup namespace, so the limit is read from here, in the cgroup
# /proc/PID/cgroup names.
start=$SECONDS
if out=$({ t docker save engines-busybox | t "${ctr[@]}" images import -; } 2>&1); then
	for r in "${runtimes[@]}"; do
		ctr_scenarios "ctr/$r" "${path_of[$r]}"
		ctr_checkpoint "ctr/$r" "${path_of[$r]}"
	done
else
	for r in "${runtimes[@]}"; do result "ctr/$r" setup "$start" 1 "$out"; done
fi
t systemctl stop docker docker.socket containerd >/dev/null 2>&1

# --- podman: runs in the foreground, as root. Its systemd cgroup manager
# (the default under systemd, made explicit). podman parses the runtime's
# JSON error log only for runtimes named (by the binary's basename) in
# runtime_supports_json: hull is added to the list.
mkdir -p /etc/containers
cat >/etc/containers/containers.conf <<'EOF'
[engine]
runtime_supports_json = ["crun", "runc", "hull"]
EOF
start=$SECONDS
if out=$(t podman import "$img/rootfs.tar" localhost/engines-busybox 2>&1); then
	echo "engines: podman $(podman version -f '{{.Client.Version}}') ready in $((SECONDS - start)) s"
	for r in "${runtimes[@]}"; do
		eng=(podman --runtime "${path_of[$r]}" --cgroup-manager systemd)
		run_flags=()
		engine_scenarios "podman/$r" machine.slice libpod localhost/engines-busybox
		engine_checkpoint "podman/$r" localhost/engines-busybox
	done
else
	for r in "${runtimes[@]}"; do result "podman/$r" setup "$start" 1 "$out"; done
fi

# --- podman with user namespaces: rootless, and idmapped mounts.
source "$(dirname "$0")/engines-userns.sh"

# For information: units of the engines' containers left at the end (all
# were removed), e.g. by an engine's clean-up after a failed create.
left=$(systemctl list-units --all --no-legend --plain |
	grep -E '^(docker|libpod|libpod-conmon|ctr)-' | awk '{ print $1 }' | xargs)
echo "engines: units left: ${left:-none}"
echo "engines: done"
exit "$failed"
