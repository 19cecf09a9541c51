#!/bin/sh
# A tiny Cortex analyzer for the tests: it takes the job directory as its
# only argument, as cortexutils does (sys.argv[1]), reads input/input.json
# and writes output/output.json. Behaviour depends on the observable.
job="$1"
in="$job/input/input.json"
data=$(sed -n 's/.*"data":"\([^"]*\)".*/\1/p' "$in")
out="$job/output/output.json"
case "$data" in
203.0.113.66)
	printf '{"success":true,"summary":{"taxonomies":[{"level":"MALICIOUS","namespace":"Test","predicate":"Score","value":"90"},{"level":"info","namespace":"Test","predicate":"Seen","value":"3"}]},"full":{"input":%s},"artifacts":[]}' "$(cat "$in")" >"$out"
	;;
fail)
	printf '{"success":false,"errorMessage":"upstream said no","input":{}}' >"$out"
	;;
crash)
	echo "Traceback (most recent call last): something went wrong"
	exit 1
	;;
leak)
	sed -n 's/.*"api_key":"\([^"]*\)".*/invalid key \1/p' "$in"
	exit 1
	;;
stderr)
	echo "only on stderr" >&2
	exit 2
	;;
sleep)
	sleep 30 &
	wait
	;;
cacerts)
	ca=$(cat "$REQUESTS_CA_BUNDLE" 2>/dev/null)
	printf '{"success":true,"summary":{"taxonomies":[{"level":"info","namespace":"Test","predicate":"CA","value":"%s"}]},"full":{}}' "$ca" >"$out"
	;;
empty)
	: >"$out"
	echo "wrote an empty output"
	;;
garbage)
	echo "not json" >"$out"
	;;
*)
	printf '{"success":true,"summary":{"taxonomies":[{"level":"safe","namespace":"Test","predicate":"Score","value":"0"}]},"full":{}}' >"$out"
	;;
esac
