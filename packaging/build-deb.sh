#!/usr/bin/env bash
# Builds the DPS Kiosk .deb with Tauri's deb bundler and prints its path.
#
#   packaging/build-deb.sh            release build (what goes to the field)
#   packaging/build-deb.sh --debug    debug build (CI's install test: reuses
#                                     most of the e2e debug build)
#
# The package: /usr/bin/dps-kiosk, a desktop entry and icons (from
# tauri.conf.json), and the assets in /usr/share/dps-kiosk/assets, which is
# where dps_directory::assets_dir() looks next to an installed binary
# (<exe dir>/../share/dps-kiosk/assets). Depends: pcscd, libccid, plus the
# WebKitGTK/GTK libraries the bundler derives.
#
# Output: $CARGO_TARGET_DIR/deb/dps-kiosk_<version>_<arch>.deb (also the last
# line printed).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
flag=()
case "${1:-}" in
  --debug) profile=debug; flag=(--debug) ;;
  "" | --release) ;;
  *) echo "usage: $0 [--debug|--release]" >&2; exit 2 ;;
esac

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
tauri=ui/node_modules/.bin/tauri
if [ ! -x "$tauri" ]; then
  echo "build-deb: $tauri is missing: run 'cd ui && npm ci' (make test/run does it)" >&2
  exit 1
fi
command -v dpkg-deb >/dev/null || { echo "build-deb: dpkg-deb is missing (a Debian-family system is needed)" >&2; exit 1; }

bundle_dir="$CARGO_TARGET_DIR/$profile/bundle/deb"
rm -rf "$bundle_dir"
start=$(date +%s)
# --ci: no prompts. The bundler builds with tauri's custom-protocol feature
# (the UI served from the binary, not a dev server), so the first run after
# `cargo build` recompiles tauri and the app, not WebKit's bindings.
"$tauri" build --ci "${flag[@]}" --bundles deb --config packaging/tauri.deb.json >&2
built=$(ls "$bundle_dir"/*.deb 2>/dev/null | head -n1 || true)
if [ -z "$built" ]; then
  echo "build-deb: the bundler made no .deb in $bundle_dir" >&2
  exit 1
fi

version=$(dpkg-deb -f "$built" Version)
arch=$(dpkg-deb -f "$built" Architecture)
mkdir -p "$CARGO_TARGET_DIR/deb"
out="$CARGO_TARGET_DIR/deb/dps-kiosk_${version}_${arch}.deb"
cp "$built" "$out"
echo "build-deb: $profile package built in $(( $(date +%s) - start )) s: $(du -h "$out" | cut -f1)" >&2
dpkg-deb -f "$out" Package Version Depends >&2
echo "$out"
