#!/usr/bin/env bash
# Installs the system packages p11kms needs, only where absent: SoftHSM2 (the development token),
# OpenSC (pkcs11-tool, the independent view of a token's objects) and the PostgreSQL server
# binaries (the tests start a throwaway PostgreSQL of their own, test/support/postgres.ts).
# Debian/Ubuntu, as root or with sudo. Safe to run again; does nothing when all are present.
set -euo pipefail

need=()
[ -e /usr/lib/softhsm/libsofthsm2.so ] && command -v softhsm2-util >/dev/null || need+=(softhsm2)
command -v pkcs11-tool >/dev/null || need+=(opensc)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
echo "installed: ${need[*]}"
