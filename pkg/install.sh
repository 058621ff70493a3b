#!/usr/bin/env bash
# Installs hull the way a system tool is: the binary, its manual pages and
# its bash, zsh and fish completions, each where those tools look.
#
#   pkg/install.sh BINARY DOCS DESTDIR PREFIX
#
# DOCS holds what `make docs` generates from the clap definitions
# (man/*.8, completions/{hull.bash,_hull,hull.fish}). With PREFIX=/usr
# (the .deb) zsh's completion goes to Debian's vendor directory, and the
# manual pages are compressed as Debian's policy asks.
set -euo pipefail
bin=${1:?usage: pkg/install.sh BINARY DOCS DESTDIR PREFIX} docs=$2 dest=$3 prefix=$4

share=$dest$prefix/share
if [ "$prefix" = /usr ]; then
	zsh_dir=$share/zsh/vendor-completions
else
	zsh_dir=$share/zsh/site-functions
fi
install -D -m 755 "$bin" "$dest$prefix/bin/hull"
install -d "$share/man/man8"
install -m 644 "$docs"/man/*.8 "$share/man/man8/"
if [ "$prefix" = /usr ]; then
	gzip -9nf "$share"/man/man8/*.8
fi
install -D -m 644 "$docs/completions/hull.bash" "$share/bash-completion/completions/hull"
install -D -m 644 "$docs/completions/_hull" "$zsh_dir/_hull"
install -D -m 644 "$docs/completions/hull.fish" "$share/fish/vendor_completions.d/hull.fish"
