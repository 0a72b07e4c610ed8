#!/usr/bin/env bash
# Builds the Debian package and checks it as an admin meets it, on this machine (root, or
# sudo): install → the binary runs, the user and /var/lib/medo-gateway (0700) exist, the unit
# verifies, the config is a conffile → purge (the state folder is kept) → install again (the
# maintainer scripts survive it) → purge.
#
# MEDO_DEB_PROFILE=deb-check packs a build with the test build's settings (Cargo.toml's
# `[profile.deb-check]`, inheriting dev: CI builds no second, optimised binary); a release
# package is plain `cargo deb` (the release profile). lintian, when installed, must find
# nothing (the overrides in packaging/lintian/ say why each is deliberate).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
profile="${MEDO_DEB_PROFILE:-release}"
deb="target/debian/medo-gateway-check.deb"

cargo deb --locked --profile "$profile" --fast -o "$deb"
if command -v lintian >/dev/null 2>&1; then
  lintian --fail-on error,warning "$deb" || { echo "check-deb: lintian found problems" >&2; exit 1; }
else
  echo "WARNING: lintian is not installed: the package's lint is not checked" >&2
fi
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
contents="$(dpkg-deb --contents "$deb")"
for path in ./usr/bin/medo-gateway ./etc/medo-gateway/gateway.toml \
    ./usr/lib/systemd/system/medo-gateway.service ./usr/share/man/man1/medo-gateway.1.gz \
    ./usr/share/man/man1/medo-gateway-appeals-refuse.1.gz \
    ./usr/share/bash-completion/completions/medo-gateway \
    ./usr/share/zsh/vendor-completions/_medo-gateway \
    ./usr/share/medo-gateway/calendar/ru-2026.toml; do
  grep -q " $path\$" <<<"$contents" || { echo "check-deb: $path missing from the package" >&2; exit 1; }
done

fail() { echo "check-deb: $*" >&2; exit 1; }
installed() {
  medo-gateway --version | grep -Eq '^medo-gateway [0-9.]+ \([0-9a-f]{7,}' || fail "--version names no commit: $(medo-gateway --version)"
  getent passwd medo-gateway >/dev/null || fail "no medo-gateway user"
  [ "$(stat -c '%a %U %G' /var/lib/medo-gateway)" = "700 medo-gateway medo-gateway" ] \
    || fail "/var/lib/medo-gateway is $(stat -c '%a %U %G' /var/lib/medo-gateway)"
  [ "$(stat -c '%a %U %G' /etc/medo-gateway/gateway.toml)" = "640 root medo-gateway" ] \
    || fail "gateway.toml is $(stat -c '%a %U %G' /etc/medo-gateway/gateway.toml)"
  dpkg-query -W -f='${Conffiles}\n' medo-gateway | grep -q /etc/medo-gateway/gateway.toml \
    || fail "gateway.toml is not a conffile"
  systemd-analyze verify /usr/lib/systemd/system/medo-gateway.service
  # the packaged config names the folders OPERATIONS describes, absolute (the unit runs in
  # /var/lib/medo-gateway: relative folders would point there)
  grep -q '^inbound = "/var/spool/vipnet/medo/in"' /etc/medo-gateway/gateway.toml \
    || fail "the packaged config's inbound is not /var/spool/vipnet/medo/in"
  # an operator's shell on the server: the installed config is found without --config; its
  # folders (VipNet's, not made by us) do not exist here → a configuration error, exit 2
  set +e
  out="$(cd / && medo-gateway spool status 2>&1)"
  code=$?
  set -e
  [ "$code" = 2 ] && grep -q '\[spool\] inbound' <<<"$out" || fail "spool status without folders: exit $code: $out"
}

$SUDO dpkg -i "$deb"
installed
echo "check-deb: installed, verified"
$SUDO dpkg --purge medo-gateway
[ ! -e /usr/bin/medo-gateway ] || fail "the binary survived purge"
[ ! -e /etc/medo-gateway/gateway.toml ] || fail "the conffile survived purge"
[ -d /var/lib/medo-gateway ] || fail "purge removed /var/lib/medo-gateway (the journal lives there)"
$SUDO dpkg -i "$deb"
installed
$SUDO dpkg -i "$deb"   # the same version again: postinst runs once more
installed
$SUDO dpkg --purge medo-gateway
echo "check-deb: install → purge → install → reinstall → purge passed"
