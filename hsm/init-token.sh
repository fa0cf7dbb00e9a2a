#!/usr/bin/env bash
# Initialises a SoftHSM2 token for p11kms outside `p11kms init` (containers, hand-made setups).
# The user PIN is read from the file named by P11KMS_PIN_FILE (created with mode 0600 and a
# random PIN when absent); it is never printed.
#   SOFTHSM2_CONF=/etc/softhsm2.conf P11KMS_PIN_FILE=/run/secrets/pin hsm/init-token.sh [label]
set -euo pipefail
label="${1:-p11kms}"
: "${SOFTHSM2_CONF:?set SOFTHSM2_CONF}"
: "${P11KMS_PIN_FILE:?set P11KMS_PIN_FILE}"

if softhsm2-util --show-slots | grep -qE "^[[:space:]]*Label:[[:space:]]+${label}[[:space:]]*$"; then
  echo "token '${label}' exists"
  exit 0
fi
umask 077
[ -s "$P11KMS_PIN_FILE" ] || head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$P11KMS_PIN_FILE"
so_pin="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
softhsm2-util --init-token --free --label "$label" --so-pin "$so_pin" --pin "$(cat "$P11KMS_PIN_FILE")" >/dev/null
echo "token '${label}' initialised"
