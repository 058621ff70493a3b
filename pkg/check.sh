#!/usr/bin/env bash
# `make test`'s check of hull installed as a system tool, from the .deb
# that `make deb` built (as root):
# - the package: named hull, providing nothing, with the binary, a manual
#   page per subcommand, the completions and the copyright;
# - the manual pages render (man -l) with their NAME and options;
# - bash completes `hull cr<TAB>` to create; zsh and fish (where
#   installed) parse theirs;
# - installed with dpkg into a throwaway root, the binary runs a busybox
#   container (integration/demo.sh).
#
#   pkg/check.sh DEB
set -euo pipefail
deb=$(realpath "${1:?usage: pkg/check.sh DEB}")
here=$(cd "$(dirname "$0")" && pwd)
fail() {
	echo "pkg/check.sh: FAIL: $*" >&2
	exit 1
}

info=$(dpkg-deb -f "$deb")
grep -qx 'Package: hull' <<<"$info" || fail "package name: $info"
! grep -qE '^(Provides|Conflicts|Replaces):' <<<"$info" || fail "the package claims another's place: $info"
contents=$(dpkg-deb -c "$deb" | awk '{print $NF}')
for f in ./usr/bin/hull ./usr/share/man/man8/hull.8.gz ./usr/share/man/man8/hull-create.8.gz \
	./usr/share/man/man8/hull-completion.8.gz ./usr/share/bash-completion/completions/hull \
	./usr/share/zsh/vendor-completions/_hull ./usr/share/fish/vendor_completions.d/hull.fish \
	./usr/share/doc/hull/copyright; do
	grep -qxF "$f" <<<"$contents" || fail "$f is not in the package"
done
! grep -q runc <<<"$contents" || fail "a runc path in the package"
echo "pkg/check.sh: $(basename "$deb"): $(grep -c . <<<"$contents") paths, $(grep -c '\.8\.gz$' <<<"$contents") manual pages"

# dpkg into a throwaway root: its own database, nothing of the host's.
root=$(mktemp -d /tmp/hull-deb.XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
dpkg --root="$root" --log=/dev/null --force-script-chrootless -i "$deb" >/dev/null ||
	fail "dpkg -i into $root"
dpkg --root="$root" -s hull | grep -qx 'Status: install ok installed' || fail "dpkg -s hull"
hull=$root/usr/bin/hull
"$hull" --version | grep -q '^hull version ' || fail "hull --version"

# The manual pages, as man shows them.
for page in hull hull-create; do
	text=$(MANWIDTH=100 man -l -P cat "$root/usr/share/man/man8/$page.8.gz" 2>&1) ||
		fail "man -l $page.8.gz: $text"
	grep -q "^NAME" <<<"$text" || fail "$page.8 has no NAME: $text"
	grep -q "^ *$page " <<<"$text" || fail "$page.8 does not name $page: $text"
done
man_create=$(MANWIDTH=100 man -l -P cat "$root/usr/share/man/man8/hull-create.8.gz")
grep -q -- '--bundle' <<<"$man_create" || fail "hull-create.8 lacks --bundle"

# bash: what `hull cr<TAB>` offers.
offered=$(bash -c 'source "$1"; COMP_WORDS=(hull cr); COMP_CWORD=1; COMP_LINE="hull cr";
	COMP_POINT=${#COMP_LINE}; _hull hull cr hull; printf "%s\n" "${COMPREPLY[@]}"' \
	_ "$root/usr/share/bash-completion/completions/hull")
[ "$offered" = create ] || fail "bash completes 'hull cr' to: $offered"
if command -v zsh >/dev/null; then
	zsh -n "$root/usr/share/zsh/vendor-completions/_hull" || fail "zsh -n _hull"
else
	echo "pkg/check.sh: no zsh here: its completion is only checked for being in the package"
fi
if command -v fish >/dev/null; then
	fish -n "$root/usr/share/fish/vendor_completions.d/hull.fish" || fail "fish -n hull.fish"
else
	echo "pkg/check.sh: no fish here: its completion is only checked for being in the package"
fi

# The installed binary runs a container.
out=$(bash "$here/../integration/demo.sh" "$hull" 2>&1) || fail "demo with the installed hull: $out"
grep -q '^hello from ' <<<"$out" || fail "the container did not run: $out"
echo "pkg/check.sh: ok (dpkg -i into a throwaway root, man, bash completion, a container run)"
