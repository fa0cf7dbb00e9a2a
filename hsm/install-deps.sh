#!/usr/bin/env bash
# Installs the system packages p11kms needs, only where absent: SoftHSM2 (the development token)
# and OpenSC (pkcs11-tool, the independent view of a token's objects). Debian/Ubuntu, as root or
# with sudo. Safe to run again.
set -euo pipefail

need=()
[ -e /usr/lib/softhsm/libsofthsm2.so ] && command -v softhsm2-util >/dev/null || need+=(softhsm2)
command -v pkcs11-tool >/dev/null || need+=(opensc)
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
echo "installed: ${need[*]}"
