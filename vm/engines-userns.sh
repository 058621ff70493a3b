# podman with user namespaces, with runc and with hull: sourced by
# vm/engines-guest.sh (its helpers: t, result, path_of, runtimes, img,
# init), in the engines VM, as root.
#   podman-rootless: rootless podman run by a user with subordinate ids
#     (useradd's), in the user's own systemd (logind's linger; its bus from
#     dbus-user-session), the image imported from the busybox tarball, vfs
#     storage: a memory limit, run -d, exec, the container a scope of the
#     user's systemd with the limit as its MemoryMax, stop.
#   podman-idmap: rootful podman, the container in a user namespace of its
#     own (--uidmap), a bind mount with idmap: the host's root-owned file
#     is root's inside, and what root makes inside is the host root's.
#     runc before 1.2 has no idmapped mounts: its column says n/a then.

# --- podman-rootless
rl_user=enginesrl
useradd -m -s /bin/sh "$rl_user"
rl_uid=$(id -u "$rl_user")
rl_gid=$(id -g "$rl_user")
rl_xdg=/run/user/$rl_uid
rl_slice=user.slice/user-$rl_uid.slice/user@$rl_uid.service/user.slice
# as_user: a command's prefix that runs it as the user in its session's
# environment (what a login would give it), without a login of its own.
as_user=(setpriv --reuid="$rl_uid" --regid="$rl_gid" --init-groups
	env -i -C / HOME="/home/$rl_user" USER="$rl_user" LOGNAME="$rl_user"
	PATH=/usr/sbin:/usr/bin:/sbin:/bin XDG_RUNTIME_DIR="$rl_xdg"
	DBUS_SESSION_BUS_ADDRESS="unix:path=$rl_xdg/bus")
start=$SECONDS
loginctl enable-linger "$rl_user"
for ((i = 0; i < 240; i++)); do
	[ -S "$rl_xdg/bus" ] && break
	sleep 0.5
done
rl_podman=(podman --storage-driver vfs --cgroup-manager systemd)
if [ -S "$rl_xdg/bus" ] &&
	out=$(t "${as_user[@]}" "${rl_podman[@]}" import "$img/rootfs.tar" localhost/engines-busybox 2>&1); then
	echo "engines: rootless podman as $rl_user (uid $rl_uid, $(grep "^$rl_user:" /etc/subuid)) ready in" \
		"$((SECONDS - start)) s; its systemd delegates: $(cat "/sys/fs/cgroup/${rl_slice%/user.slice}/cgroup.controllers")"
	for r in "${runtimes[@]}"; do
		key=podman-rootless/$r
		eng=("${as_user[@]}" "${rl_podman[@]}" --runtime "${path_of[$r]}")

		start=$SECONDS
		out=$(t "${eng[@]}" run --rm --network none --memory 64m localhost/engines-busybox \
			cat /sys/fs/cgroup/memory.max 2>&1)
		[ "$out" = 67108864 ]
		result "$key" memory-limit "$start" $? "$out"

		start=$SECONDS
		out=$(t "${eng[@]}" run -d --network none --memory 64m localhost/engines-busybox sh -c "$init" 2>&1)
		rc=$?
		id=$(grep -Eo '^[0-9a-f]{64}$' <<<"$out" | tail -1)
		if [ "$rc" != 0 ] || [ -z "$id" ]; then
			result "$key" run-detached "$start" 1 "exit status $rc: $out"
			[ -z "$id" ] || t "${eng[@]}" rm -f "$id" >/dev/null 2>&1
			continue
		fi
		result "$key" run-detached "$start" 0
		unit=libpod-$id.scope

		start=$SECONDS
		out=$(t "${eng[@]}" exec "$id" echo exec-ok 2>&1)
		[ "$out" = exec-ok ]
		result "$key" exec "$start" $? "$out"

		# The user's systemd's scope, in its user.slice, holding the
		# container's init (a host pid: podman's user namespace shares
		# the host's pid namespace).
		start=$SECONDS
		pid=$(t "${eng[@]}" inspect -f '{{.State.Pid}}' "$id" 2>&1)
		cg=$(cat "/proc/$pid/cgroup" 2>&1)
		state=$("${as_user[@]}" systemctl --user show -p ActiveState --value "$unit" 2>&1)
		max=$("${as_user[@]}" systemctl --user show -p MemoryMax --value "$unit" 2>&1)
		[ "$cg" = "0::/$rl_slice/$unit" ] && [ "$state" = active ]
		result "$key" user-scope "$start" $? "pid $pid: /proc/$pid/cgroup: $cg; $unit: ActiveState=$state"
		[ "$max" = 67108864 ]
		result "$key" unit-memory "$start" $? "MemoryMax of the user's $unit: $max"

		start=$SECONDS
		out=$(t "${eng[@]}" stop "$id" 2>&1) &&
			out=$(t "${eng[@]}" inspect -f '{{.State.Status}}' "$id" 2>&1) && [ "$out" = exited ] &&
			out=$(t "${eng[@]}" rm "$id" 2>&1)
		rc=$?
		left=$("${as_user[@]}" systemctl --user list-units --all --no-legend --plain 2>&1 | grep -F "$id")
		[ "$rc" = 0 ] && [ -z "$left" ]
		result "$key" stop "$start" $? "status $rc: $out; units left: $left"
		t "${eng[@]}" rm -f "$id" >/dev/null 2>&1
	done
else
	for r in "${runtimes[@]}"; do
		result "podman-rootless/$r" setup "$start" 1 "bus $rl_xdg/bus: $(ls -l "$rl_xdg" 2>&1); $out"
	done
fi
t "${as_user[@]}" "${rl_podman[@]}" rm -af >/dev/null 2>&1
t "${as_user[@]}" "${rl_podman[@]}" system reset -f >/dev/null 2>&1
loginctl disable-linger "$rl_user"
systemctl stop "user@$rl_uid.service" "user-runtime-dir@$rl_uid.service"
userdel -r "$rl_user" >/dev/null 2>&1

# --- podman-idmap
src=/var/tmp/engines-idmap
mkdir -p "$src"
echo root-owned >"$src/f"
chmod 755 "$src"
runc_version=$("$runc" --version | awk 'NR == 1 { print $3 }')
for r in "${runtimes[@]}"; do
	key=podman-idmap/$r
	start=$SECONDS
	rm -f "$src/made"
	out=$(t podman --runtime "${path_of[$r]}" --cgroup-manager systemd run --rm --network none \
		--uidmap 0:100000:65536 --gidmap 0:100000:65536 \
		--mount "type=bind,src=$src,dst=/data,idmap" localhost/engines-busybox \
		sh -c 'stat -c %u:%g /data/f; touch /data/made && stat -c %u:%g /data/made' 2>&1)
	made=$(stat -c %u:%g "$src/made" 2>&1)
	[ "$out" = "0:0
0:0" ] && [ "$made" = 0:0 ]
	rc=$?
	if [ "$rc" != 0 ] && [ "$r" = runc ] && [ "$(printf '%s\n' "$runc_version" 1.2 | sort -V | head -1)" != 1.2 ]; then
		echo "engines: $key idmap-mount N/A (runc $runc_version has no idmapped mounts)"
		printf '%s\n' "inside: $out" "on the host: $made" | awk -v p="engines: $key idmap-mount | " '{ print p $0 }'
		continue
	fi
	result "$key" idmap-mount "$start" $rc "inside (stat /data/f, then of what root made): $out
on the host, what root made: $made"
done
rm -rf "$src"
