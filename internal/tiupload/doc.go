// Package tiupload pushes vigil's threat-intelligence indicators to a
// Microsoft Sentinel workspace through Sentinel's STIX-objects upload API
// (Preview), the successor to Graph's tiIndicators and to the legacy
// upload-indicators API:
// https://learn.microsoft.com/azure/sentinel/stix-objects-api
//
// The documented contract it follows:
//
//   - POST https://api.ti.sentinel.azure.com/workspaces/{workspaceId}/threat-intelligence-stix-objects:upload?api-version=2024-02-01-preview
//     with a bearer token for https://management.azure.com/.default and
//     Content-Type application/json;
//   - the body {"sourcesystem": "...", "stixobjects": [...]}, where the
//     source system "Microsoft Sentinel" is reserved;
//   - at most 100 objects a request and 100 requests a minute (per user);
//     a throttled request gets 429 and {"statusCode": 429, "message":
//     "Rate limit is exceeded. Try again in N seconds."};
//   - 200 when one or more objects were accepted: an empty body when all
//     were, otherwise {"errors": [{"recordIndex": i, "errorMessages":
//     [...]}]} naming the rejected ones by their index in the request;
//     400 bad format, 401 unauthorized, 404 workspace not found, 429
//     throttled, 500 server error.
//
// Semantics decided here where the documentation is silent:
//
//   - Batch size in bytes is not documented. Batches keeps a batch's
//     "stixobjects" array within MaxBytes (1,000,000 bytes); an object
//     larger than that travels alone and the service decides.
//   - A 400 that carries per-object errors is read like a 200 with
//     errors (nothing accepted, but the answer is per object); a 400
//     without them is a plain error. Neither is retried: resending the
//     same objects cannot succeed.
//   - An indicator's STIX id is "indicator--" + a UUIDv5 of its type and
//     normalised value in a fixed vigil namespace, so that an upload
//     of the same indicator updates it instead of adding another one;
//     "modified" is the time the object is built, so that the newest
//     upload wins, and "created" and "valid_from" are the indicator's
//     first sighting (or that time when it has none).
//   - Confidence 0 means "no feed stated one" in vigil, so it is left out
//     rather than sent as STIX's "no confidence". created_by_ref is
//     optional and left out (no identity object is uploaded for vigil);
//     the object says where it came from in its description (the feeds),
//     and the request in "sourcesystem". LastSeen has no STIX indicator
//     property and is not sent.
//   - The client keeps to the documented request rate itself (a sliding
//     minute): when its budget is spent, Upload does not call the service
//     and answers *outbox.RetryableError with the wait, as a 429 does.
//   - A 401 is retried once at once with a new token (a token revoked or
//     expired early), then reported as a plain error, as are 403 and 404.
//     Entra ID refusing the app (a wrong secret) is a plain error too; a
//     token endpoint that cannot be reached, or a cancelled context, is
//     retryable, so that the batch stays queued.
package tiupload
