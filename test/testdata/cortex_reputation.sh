#!/bin/sh
# A Cortex analyzer for the end-to-end test, run unchanged through the
# job-directory contract: the job directory is its only argument; it reads
# input/input.json and writes output/output.json. 203.0.113.7 is
# malicious, anything else safe.
job="$1"
data=$(sed -n 's/.*"data":"\([^"]*\)".*/\1/p' "$job/input/input.json")
level=safe
[ "$data" = "203.0.113.7" ] && level=malicious
printf '{"success":true,"summary":{"taxonomies":[{"level":"%s","namespace":"E2E","predicate":"Reputation","value":"%s"}]},"full":{"data":"%s"},"artifacts":[]}' \
	"$level" "$level" "$data" >"$job/output/output.json"
