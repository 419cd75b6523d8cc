# DPS Kiosk — two commands on a fresh Debian 12 / Ubuntu 22.04+ machine:
#   make run    builds and opens the kiosk
#   make test   runs every test (format, lint, Rust, UI, end-to-end)
# Both install what is missing: system packages with apt-get when run as root
# (otherwise they print the exact sudo line and stop), npm packages with
# `npm ci`, tauri-driver with `cargo install --locked`.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Builds may live outside the clone so repeated CI runs reuse them.
CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR
export CARGO_TERM_COLOR ?= never

APT_PACKAGES := build-essential pkg-config libssl-dev \
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev \
  xvfb xauth x11-utils xdotool wmctrl webkit2gtk-driver matchbox-window-manager fonts-dejavu-core \
  pcscd libpcsclite-dev vsmartcard-vpcd strace openssl ca-certificates \
  postgresql chromium debootstrap bubblewrap faketime
TAURI_DRIVER_VERSION := 2.1.0
NODE_MIN := 20.19.0

.PHONY: help
help:
	@echo "make run      build and open the kiosk"
	@echo "make test     run every test"
	@echo "make bench    run the benchmarks and print their figures"
	@echo "make package  build the .deb (release) for Debian 12 / Ubuntu 22.04+ / ChromeOS Linux"
	@echo "make privacy-full  the window privacy test at 1,000 card visits (~14 min)"
	@echo "make bindings regenerate ui/src/lib/bindings.ts from the Rust IPC types"

# ---------------------------------------------------------------- setup

.PHONY: deps system-deps node-check tauri-driver
deps: system-deps node-check

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done | xargs); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "Missing system packages. Run:"; \
	    echo "  sudo apt-get install -y $$missing"; \
	    exit 1; \
	  fi; \
	fi

node-check:
	@command -v node >/dev/null || { echo "Node.js >= $(NODE_MIN) is needed (Debian 12's nodejs 18 is too old): install it from your distribution's backports or nodesource"; exit 1; }
	@v=$$(node -p 'process.versions.node'); \
	if [ "$$(printf '%s\n%s\n' "$(NODE_MIN)" "$$v" | sort -V | head -1)" != "$(NODE_MIN)" ]; then \
	  echo "Node.js $$v is too old: the UI build (Vite 8) needs >= $(NODE_MIN)"; exit 1; fi

tauri-driver:
	@if ! tauri-driver --version 2>/dev/null | grep -q '$(TAURI_DRIVER_VERSION)'; then \
	  cargo install tauri-driver --version '=$(TAURI_DRIVER_VERSION)' --locked --quiet; fi

# ---------------------------------------------------------------- UI

ui/node_modules/.stamp: ui/package-lock.json ui/package.json
	cd ui && npm ci --no-audit --no-fund --loglevel=error
	touch $@

UI_SOURCES := $(shell find ui/src ui/index.html ui/vite.config.ts assets/i18n assets/pictograms -type f 2>/dev/null)
ui/dist/index.html: ui/node_modules/.stamp $(UI_SOURCES)
	cd ui && npm run --silent build -- --logLevel warn

.PHONY: ui
ui: node-check ui/dist/index.html

# ---------------------------------------------------------------- run

.PHONY: run
run: deps ui
	cargo run --bin dps-kiosk -- $(ARGS)

# ---------------------------------------------------------------- test

.PHONY: test lint rust-test ui-test e2e bindings
test: deps ui hub-web-tests tauri-driver pcscd-free lint rust-test ui-test e2e install-test
	@echo "make test: all green"

# The card tests run their own private pcscd (one per machine can own its
# socket): a system pcscd started by the package must step aside.
.PHONY: pcscd-free
pcscd-free:
	@if pgrep -x pcscd >/dev/null; then \
	  if command -v systemctl >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    systemctl stop pcscd.socket pcscd.service 2>/dev/null || true; fi; \
	  if pgrep -x pcscd >/dev/null; then \
	    echo "A pcscd is running; the card tests need it stopped: sudo systemctl stop pcscd.socket pcscd"; exit 1; fi; \
	fi

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings

# Tests that need pcscd, a display or PostgreSQL are gated on these variables
# rather than #[ignore], so they can never be skipped silently here.
TEST_ENV := DPS_TEST_PCSCD=1 DPS_TEST_STRACE=1 DPS_TEST_PG=1 DPS_TEST_BROWSER=1

rust-test:
	$(TEST_ENV) cargo test --workspace --exclude dps-e2e

ui-test: ui/node_modules/.stamp
	cd ui && npm run --silent check && npm test --silent

# The window suite also runs a real dps-hub for the sync-from-the-window test.
e2e: ui
	cargo build --bin dps-kiosk
	cargo build -p dps-hub --bin dps-hub
	DPS_E2E=1 $(TEST_ENV) DPS_KIOSK_BIN=$(CARGO_TARGET_DIR)/debug/dps-kiosk \
	  DPS_HUB_BIN=$(CARGO_TARGET_DIR)/debug/dps-hub \
	  cargo test -p dps-e2e -- --test-threads=1

# The window's privacy test at the issue's full 1,000 card visits (~14 min:
# vpcd's 400 ms presence poll, twice a visit, is most of it). `make test`
# runs 250; the flow-engine privacy test in `rust-test` runs 1,000.
.PHONY: privacy-full
privacy-full: deps ui tauri-driver pcscd-free
	cargo build --bin dps-kiosk
	DPS_E2E=1 $(TEST_ENV) DPS_E2E_PRIVACY_VISITS=1000 \
	  DPS_KIOSK_BIN=$(CARGO_TARGET_DIR)/debug/dps-kiosk \
	  cargo test -p dps-e2e -- --test-threads=1 privacy

bindings:
	UPDATE_BINDINGS=1 cargo test -p dps-ipc --test ipc

# The hub's dashboard and report are tested in Debian's Chromium through
# playwright-core (never a downloaded browser).
.PHONY: hub-web-tests
hub-web-tests: crates/hub/web-tests/node_modules/.stamp
crates/hub/web-tests/node_modules/.stamp: crates/hub/web-tests/package-lock.json crates/hub/web-tests/package.json
	cd crates/hub/web-tests && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The .deb on a clean Debian 12 (debootstrap rootfs cached in ~/.cache):
# installed with apt, the installed binary's headless commands run, then the
# installed "DPS Kiosk" session started under Xvfb until the window's first
# screen. The debug package reuses the e2e build; `make package` makes the
# release one.
.PHONY: install-test package
install-test: ui
	packaging/build-deb.sh --debug >/dev/null
	packaging/test-install.sh

package: deps ui
	packaging/build-deb.sh

# ---------------------------------------------------------------- bench

.PHONY: bench
# Each bench prints its figures; docs/benchmarks.md records them with the
# machine and date. The eID bench needs root (it runs a private pcscd).
bench: deps ui
	cargo build --release -p dps-vcard -p dps-tally -p dps-hub -p dps-report -p dps-hub-pg --bins
	$(CARGO_TARGET_DIR)/release/eid-bench --idle-secs 60 --reads 50
	$(CARGO_TARGET_DIR)/release/tally-bench /var/tmp
	$(CARGO_TARGET_DIR)/release/dps-sync-bench
	$(CARGO_TARGET_DIR)/release/report-bench
	$(CARGO_TARGET_DIR)/release/pg-bench
	$(CARGO_TARGET_DIR)/release/dps-tallies-bench
	# The app against chromium --kiosk on the same built UI: the release app
	# built with custom-protocol, as the .deb ships it.
	packaging/build-deb.sh >/dev/null
	cargo build --release -p dps-appbench
	$(CARGO_TARGET_DIR)/release/app-bench --app $(CARGO_TARGET_DIR)/release/dps-kiosk
