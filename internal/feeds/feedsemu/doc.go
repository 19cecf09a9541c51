// Package feedsemu holds in-process emulators of the threat-intelligence
// services vigil's feeds read, for tests and demos: one Server per API
// (OTXServer, MISPServer, TAXIIServer), each with Start, Close, Fail(n,
// status), Corrupt(n) and methods to add data while it runs.
//
// They are built from the official fixtures in fixtures/ (see its README)
// and implement only what the feeds use:
//
//   - OTX: GET /api/v1/pulses/subscribed with modified_since (exclusive),
//     limit and page; the {"results","count","next","previous"} envelope
//     with `next` a full URL; newest pulse first; X-OTX-API-KEY checked
//     (403 otherwise). Pulse and indicator fields as OTX serialises them
//     (zone-less microsecond timestamps, is_active 0/1). Indicator types
//     are checked against fixtures/otx/indicator_types.json.
//   - MISP: POST /attributes/restSearch with returnFormat json, to_ids,
//     timestamp (inclusive, as MISP), page (from 1) and limit; answers
//     {"response": {"Attribute": [...]}} with X-Result-Count; the
//     Authorization header checked (403 UnauthorizedApiError otherwise).
//     Attribute types are checked against the openapi AttributeType enum.
//   - TAXII 2.1: discovery (/taxii2/), api root, collections, collection,
//     objects (added_after exclusive, limit, next, more,
//     X-TAXII-Date-Added-First/Last) and status, HTTP basic auth, the
//     taxii+json media type. Seeded from medallion's default_data.json.
//     Every stored version of an object is served (medallion serves only
//     the latest by default); `next` is an opaque offset into the
//     date_added-ordered list.
package feedsemu
