#!/usr/bin/env bash
# The one test command (README, CI): installs what the tests need when it is
# missing, then vets and runs every test with the race detector.
#
# Tests start their own redis-server, nats-server and mosquitto on free ports;
# they only need the binaries. Telegram and Discord are faked in-process.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: SQLite headers (fast cgo build with
# -tags libsqlite3), the real brokers, a browser, Django Channels for the
# interop test, Python and Node for the external plugin examples.
packages=(libsqlite3-dev redis-server nats-server mosquitto mosquitto-clients chromium python3 nodejs
  python3-django-channels python3-channels-redis python3-daphne)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

export GOFLAGS="${GOFLAGS:+$GOFLAGS }-tags=libsqlite3"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted"; exit 1
fi
go vet ./...
go test -race -timeout 12m ./... "$@"
