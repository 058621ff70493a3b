#!/usr/bin/env bash
# Builds hull's Debian package with dpkg-deb: OUT/hull_VERSION_ARCH.deb,
# the static binary with its manual pages, completions and copyright.
# The package is named hull and provides nothing: it installs
# /usr/bin/hull beside runc, never in its place.
#
#   pkg/deb.sh BINARY DOCS OUT [ARCH]    (ARCH: dpkg's, default this host's)
set -euo pipefail
bin=${1:?usage: pkg/deb.sh BINARY DOCS OUT [ARCH]} docs=$2 out=$3
arch=${4:-$(dpkg --print-architecture)}
here=$(dirname "$0")
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/../Cargo.toml" | head -1)

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
bash "$here/install.sh" "$bin" "$docs" "$root" /usr
install -D -m 644 "$here/copyright" "$root/usr/share/doc/hull/copyright"
mkdir "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<EOT
Package: hull
Version: $version
Architecture: $arch
Maintainer: hull developers <hull@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Section: admin
Priority: optional
Description: low-level OCI container runtime
 hull creates and runs containers from OCI bundles, as runc and crun do,
 and takes their place under docker, podman and containerd. A static
 binary, with no daemon and no C library dependency at run time.
EOT
mkdir -p "$out"
deb=$out/hull_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
