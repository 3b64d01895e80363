#!/usr/bin/env bash
# Builds the published artifacts twice from clean and compares them byte for byte: with
# project.build.outputTimestamp set, two builds of one commit must produce identical jars.
set -euo pipefail
cd "$(dirname "$0")/.."
modules=(collector-api collector-core collector-testkit collector-kafka)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for round in 1 2; do
  ./mvnw -B -q clean package -DskipTests -pl "$(IFS=,; echo "${modules[*]}")" >/dev/null
  for m in "${modules[@]}"; do
    (cd "$m/target" && sha256sum ./*.jar) | sed "s# \./# $m/#" >> "$out/round$round"
  done
done
if ! diff -u "$out/round1" "$out/round2"; then
  echo "reproducible-build check: the two builds differ (above)" >&2
  exit 1
fi
echo "reproducible-build check: $(wc -l < "$out/round1") jars identical in two builds:"
cat "$out/round1"
