#!/usr/bin/env bash
# Installs the DPS Kiosk .deb on a clean Debian 12 (bookworm, minbase) and
# starts the installed binary headless. Needs root (debootstrap, bwrap) and
# deb.debian.org.
#
#   packaging/test-install.sh [path/to/dps-kiosk_*.deb]
#
# Default package: the newest $CARGO_TARGET_DIR/deb/dps-kiosk_*.deb (what
# build-deb.sh makes). The clean system is a debootstrap rootfs cached as a
# tarball in ~/.cache/dps-kiosk/ (rebuilt when missing); every run unpacks a
# fresh copy, so nothing from an earlier run is left in it. Downloaded .debs
# are cached beside it, so a second run does not fetch WebKit again.
#
# Checks, each printed with ✓ or ✗:
#   apt-get install ./the.deb pulls in every dependency (pcscd, libccid, WebKitGTK);
#   every shared library of /usr/bin/dps-kiosk resolves;
#   `dps-kiosk --version` and `dps-kiosk flows check` (the assets were
#   installed where the binary finds them: /usr/share/dps-kiosk/assets);
#   `dps-kiosk doctor --json` runs and `support-bundle` writes a .zip;
#   the package's Depends name pcscd and libccid; the desktop entry and its
#   icon exist;
#   the installed "DPS Kiosk" X session (/usr/share/dps-kiosk/kiosk-session:
#   matchbox + the app) opens the window under Xvfb: the installed
#   /usr/bin/dps-kiosk prints its first-screen line (DPS_BENCH_READY=1) once
#   WebKitGTK has drawn the first screen, then it is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '%s\n' "test-install: $*"; }
fail() { printf '%s\n' "test-install: ✗ $*" >&2; exit 1; }
ok() { printf '%s\n' "test-install: ✓ $*"; }

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap and a chroot): run it with sudo"
for tool in debootstrap bwrap tar; do
  command -v "$tool" >/dev/null || fail "$tool is missing: apt-get install -y debootstrap bubblewrap"
done

deb="${1:-}"
if [ -z "$deb" ]; then
  target="${CARGO_TARGET_DIR:-$PWD/target}"
  deb=$(ls -t "$target"/deb/dps-kiosk_*.deb 2>/dev/null | head -n1 || true)
  [ -n "$deb" ] || fail "no package in $target/deb: run packaging/build-deb.sh first (make package)"
fi
[ -f "$deb" ] || fail "$deb: no such file"
deb=$(readlink -f "$deb")

cache="${DPS_CACHE_DIR:-$HOME/.cache/dps-kiosk}"
rootfs_tar="$cache/debian-12-minbase.tar.gz"
archives="$cache/apt-archives"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
mkdir -p "$cache" "$archives/partial"
start=$(date +%s)

if [ ! -s "$rootfs_tar" ]; then
  say "no cached Debian 12 rootfs: debootstrap bookworm (minbase) from $mirror (a few minutes, once)"
  build=$(mktemp -d /var/tmp/dps-debootstrap.XXXXXX)
  trap 'rm -rf "$build"' EXIT
  debootstrap --variant=minbase bookworm "$build/root" "$mirror" >"$build/log" 2>&1 \
    || { tail -20 "$build/log" >&2; fail "debootstrap failed (log above)"; }
  tar -C "$build/root" -czf "$rootfs_tar.part" .
  mv "$rootfs_tar.part" "$rootfs_tar"
  rm -rf "$build"
  trap - EXIT
  ok "Debian 12 rootfs cached in $rootfs_tar ($(du -h "$rootfs_tar" | cut -f1), $(( $(date +%s) - start )) s)"
else
  say "using the cached Debian 12 rootfs $rootfs_tar"
fi

root=$(mktemp -d /var/tmp/dps-install-test.XXXXXX)
trap 'rm -rf "$root"' EXIT
tar -C "$root" -xzf "$rootfs_tar"
# Services must not start inside the test system (a pcscd there would fight
# the host's over nothing): the Debian way to say so.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/pkg"
cp "$deb" "$root/pkg/"
pkg="/pkg/$(basename "$deb")"

# Runs a command as root inside the clean system: its own /proc, /dev and
# /tmp, the host's DNS, the shared .deb cache.
inside() {
  bwrap --bind "$root" / --proc /proc --dev /dev --perms 1777 --tmpfs /tmp --tmpfs /run \
    --ro-bind /etc/resolv.conf /etc/resolv.conf \
    --bind "$archives" /var/cache/apt/archives \
    --unshare-pid --unshare-ipc --die-with-parent \
    --setenv HOME /root --setenv DEBIAN_FRONTEND noninteractive \
    --setenv PATH /usr/sbin:/usr/bin:/sbin:/bin --setenv LANG C.UTF-8 \
    "$@"
}

t0=$(date +%s)
inside apt-get update -qq >"$root/apt.log" 2>&1 || { tail -20 "$root/apt.log" >&2; fail "apt-get update failed in the clean system"; }
inside apt-get install -y -qq --no-install-recommends "$pkg" >>"$root/apt.log" 2>&1 \
  || { tail -30 "$root/apt.log" >&2; fail "apt-get install $(basename "$deb") failed (log above)"; }
ok "apt-get install $(basename "$deb") on a clean Debian 12 ($(( $(date +%s) - t0 )) s)"

for dep in dps-kiosk pcscd libccid libwebkit2gtk-4.1-0; do
  inside dpkg-query -W -f='${Status}\n' "$dep" 2>/dev/null | grep -q '^install ok installed' \
    || fail "package $dep is not installed"
done
ok "installed with its dependencies: pcscd, libccid, libwebkit2gtk-4.1-0"

missing=$(inside ldd /usr/bin/dps-kiosk | grep 'not found' || true)
[ -z "$missing" ] || fail "libraries of /usr/bin/dps-kiosk not found: $missing"
ok "every shared library of /usr/bin/dps-kiosk resolves"

version=$(inside /usr/bin/dps-kiosk --version) || fail "dps-kiosk --version failed"
want="dps-kiosk $(dpkg-deb -f "$deb" Version)"
[ "$version" = "$want" ] || fail "dps-kiosk --version printed '$version', expected '$want'"
ok "/usr/bin/dps-kiosk --version: $version"

flows=$(inside env -u DPS_ASSETS_DIR /usr/bin/dps-kiosk flows check 2>&1) \
  || { printf '%s\n' "$flows" >&2; fail "dps-kiosk flows check failed: the assets are not where the binary looks"; }
grep -q '^ok: bruvax-registration' <<<"$flows" || { printf '%s\n' "$flows" >&2; fail "flows check did not list the BRUVAX procedure"; }
grep -q '^ok: DPS directory' <<<"$flows" || { printf '%s\n' "$flows" >&2; fail "flows check did not find the DPS directory"; }
ok "dps-kiosk flows check: $(grep -c '^ok:' <<<"$flows") ok lines from /usr/share/dps-kiosk/assets"

# No pcscd runs inside: doctor must say so (exit 2) in JSON, not crash.
set +e
doctor=$(inside /usr/bin/dps-kiosk --data-dir /tmp/data doctor --json 2>&1)
code=$?
set -e
[ "$code" = 2 ] || { printf '%s\n' "$doctor" >&2; fail "doctor exited $code (expected 2: no card service inside the test system)"; }
grep -q '"check": "card_service"' <<<"$doctor" && grep -q '"check": "hub"' <<<"$doctor" \
  || { printf '%s\n' "$doctor" >&2; fail "doctor --json did not list its checks"; }
ok "dps-kiosk doctor --json runs (card service: not running, as expected here)"

bundle=$(inside sh -c 'mkdir -p /tmp/out && /usr/bin/dps-kiosk --data-dir /tmp/data support-bundle --out /tmp/out >/dev/null && ls /tmp/out') \
  || fail "dps-kiosk support-bundle failed"
case "$bundle" in dps-kiosk-support-*.zip) ;; *) fail "support-bundle wrote '$bundle'" ;; esac
ok "dps-kiosk support-bundle wrote $bundle"

desktop=$(grep -l '^Exec=dps-kiosk' "$root"/usr/share/applications/*.desktop 2>/dev/null | head -n1 || true)
[ -n "$desktop" ] || fail "no desktop entry with Exec=dps-kiosk in /usr/share/applications"
icon=$(sed -n 's/^Icon=//p' "$desktop" | head -n1)
[ -n "$icon" ] && ls "$root"/usr/share/icons/hicolor/*/apps/"$icon".png >/dev/null 2>&1 \
  || fail "the desktop entry's icon '$icon' is not installed"
ok "desktop entry ${desktop#"$root"} (icon $icon)"

depends=$(dpkg-deb -f "$deb" Depends)
for want in pcscd libccid; do
  grep -Eq "(^|, )$want( |,|$)" <<<"$depends" || fail "Depends lacks $want: $depends"
done
ok "Depends: pcscd, libccid (and $(tr ',' '\n' <<<"$depends" | wc -l) in all)"

# The window, for real: Xvfb and the session's window manager in the clean
# system (from the shared .deb cache), then the installed session script.
t0=$(date +%s)
inside apt-get install -y -qq --no-install-recommends xvfb xauth matchbox-window-manager >>"$root/apt.log" 2>&1 \
  || { tail -30 "$root/apt.log" >&2; fail "apt-get install xvfb matchbox-window-manager failed (log above)"; }
for f in kiosk-session matchbox-kbdconfig; do
  [ -f "$root/usr/share/dps-kiosk/$f" ] || fail "/usr/share/dps-kiosk/$f is not installed"
done
[ -f "$root/usr/share/xsessions/dps-kiosk.desktop" ] || fail "the X session entry is not installed"
set +e
window=$(inside sh -c '
  Xvfb :7 -screen 0 1280x800x24 -nolisten tcp >/tmp/xvfb.log 2>&1 &
  i=0; until [ -S /tmp/.X11-unix/X7 ]; do i=$((i+1)); [ $i -gt 100 ] && { echo "no Xvfb"; exit 3; }; sleep 0.1; done
  mkdir -p /tmp/home && mkfifo /tmp/kiosk.out
  DISPLAY=:7 HOME=/tmp/home XDG_DATA_HOME=/tmp/home/data DPS_BENCH_READY=1 \
    WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS=1 \
    /usr/share/dps-kiosk/kiosk-session >/tmp/kiosk.out 2>/tmp/kiosk.err &
  # grep ends at the first-screen line; the kiosk is stopped right after.
  timeout 120 grep -m1 -q "^dps-kiosk: first-screen" /tmp/kiosk.out || { echo "no first screen within 120 s"; tail -20 /tmp/kiosk.err; exit 4; }
  # comm is cut at 15 characters.
  wm=no; for c in /proc/[0-9]*/comm; do [ "$(cat "$c" 2>/dev/null)" = matchbox-window ] && wm=yes; done
  echo "first screen; window manager: $wm"
' 2>&1)
code=$?
set -e
[ "$code" = 0 ] || { printf '%s\n' "$window" >&2; fail "the installed kiosk did not open its window (exit $code)"; }
grep -q "window manager: yes" <<<"$window" || fail "the session did not start its window manager: $window"
ok "the installed DPS Kiosk session opened the window under Xvfb with matchbox, first screen drawn ($(( $(date +%s) - t0 )) s)"

say "all checks passed in $(( $(date +%s) - start )) s"
