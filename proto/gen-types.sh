#!/usr/bin/env bash
# Generates TypeScript types for every message from the .proto files (proto-loader-gen-types).
# The generated files use extensionless imports, so their folder is marked CommonJS; they are
# type-only and never loaded at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
out=src/transport/grpc/generated
rm -rf "$out"
npx proto-loader-gen-types --grpcLib=@grpc/grpc-js --keepCase --longs=String --enums=String \
  --oneofs --arrays --objects --includeDirs=proto --outDir="$out" -- \
  p11kms/v1/kms.proto p11kms/v1/audit.proto google/rpc/status.proto > /dev/null
echo '{ "type": "commonjs" }' > "$out/package.json"
