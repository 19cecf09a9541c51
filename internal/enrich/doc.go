// Package enrich is vigil's enrichment contract and its providers.
//
// The contract follows the analyzer contract of TheHive Project's Cortex:
// the job folder Cortex prepares and reads back
// (https://github.com/TheHive-Project/Cortex,
// app/org/thp/cortex/services/JobRunnerSrv.scala, prepareJobFolder and
// extractReport; ProcessJobRunnerSrv.scala runs `command <jobFolder>`), and
// the analyzer side in cortexutils
// (https://github.com/TheHive-Project/cortexutils, cortexutils/worker.py
// takes the job directory from sys.argv[1], default /job):
//
//   - input:  {"dataType": "ip", "data": "203.0.113.7", "config": {…}, …}
//   - output: {"success": true,
//     "summary": {"taxonomies": [{"level", "namespace", "predicate", "value"}]},
//     "full": {…}, "artifacts": […]}
//     or {"success": false, "errorMessage": "…"}
//
// A Request carries the Cortex dataType names (ip, domain, fqdn, url, hash,
// mail, …); a Report carries the taxonomies, the provider's full report, and
// one line for a comment. The taxonomy levels are Cortex's: info, safe,
// suspicious, malicious. Report.Verdict is the worst of them.
//
// Providers:
//
//   - VirusTotal v3 (NewVirusTotal), thresholds: malicious when at least
//     VTConfig.MaliciousAt engines (default 1) call the object malicious,
//     suspicious when at least SuspiciousAt (default 1) call it suspicious,
//     else safe; info when VirusTotal holds no analysis or does not know the
//     object (404 is an answer, not an error).
//   - AbuseIPDB v2 (NewAbuseIPDB): abuseConfidenceScore ≥ 75 malicious,
//     ≥ 25 suspicious, else safe. A whitelisted address is safe whatever its
//     score, because AbuseIPDB itself vouches for it.
//   - GeoIP/ASN (NewGeoIP) from MaxMind-format .mmdb files: info taxonomies
//     only; an address absent from both databases gives an info "not found".
//   - Cortex analyzers run unchanged (NewCortex), through the job-directory
//     contract: <job>/input/input.json in, the job directory as the
//     command's last argument (cortexutils reads sys.argv[1], defaulting to
//     /job), <job>/output/output.json out. Without an output file the
//     capped stdout (then stderr) is the error.
//   - A generic HTTP provider (NewHTTP) with a small mapping language; see
//     Mapping.
//
// Errors. Failures worth retrying (the network, 429, 5xx) are
// *outbox.RetryableError with After taken from Retry-After; the rest
// (401/403: ErrAuth, other 4xx, malformed bodies) are plain errors. Input
// that a provider cannot take is a *validation.FieldError. API keys travel
// only in headers and are scrubbed from every error text, since a server may
// echo them back.
//
// NewCache wraps a provider with a TTL cache keyed by (provider, dataType,
// data): errors are never cached, "not found" info reports are.
package enrich
