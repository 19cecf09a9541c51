// Package feeds fetches threat-intelligence indicators from outside sources:
// AlienVault OTX subscribed pulses, MISP attribute restSearch, TAXII 2.1
// collections, STIX 2.1 bundle files and CSV lists.
//
// Every source is a Feed: Pass(ctx, cursor) fetches everything since the
// cursor the caller stored, page by page, and returns the indicators and the
// new cursor. The caller stores the new cursor only when Pass returns no
// error, so a failed pass is simply repeated next time.
//
// Semantics decided here where the sources are silent:
//
//   - Bad input. A malformed or unsupported ENTRY (an indicator whose JSON
//     does not fit, whose type vigil does not match on, whose value is not a
//     plausible value of its type, that is inactive, revoked or deleted) is
//     skipped and counted in Result.Skipped. A malformed PAGE (not JSON, the
//     envelope's fields of the wrong type, an HTTP error) fails the whole pass
//     and the cursor does not move.
//   - Values are raw: trimmed, and checked only enough to reject garbage (an
//     "ip" must parse as an address, a hash must be hex of the right length).
//     Normalisation (case, punycode, URL canonical form) is the indicator
//     store's job. An "ip" value that is a prefix becomes "cidr".
//   - Confidence. DefaultConfidence (50) when the source says nothing: OTX
//     has no per-indicator confidence; MISP uses an osint:certainty="N" tag
//     when present; STIX uses the object's confidence; CSV its column.
//   - Cursors are at-least-once: a boundary item may be fetched twice (the
//     store deduplicates), but nothing is skipped.
//     OTX: the largest pulse `modified` seen (RFC 3339, UTC), sent back as
//     modified_since. MISP: the largest attribute `timestamp` seen, clamped to
//     Now()-1s so that an attribute saved later in the same second is not
//     lost; the next pass asks for timestamp >= cursor+1. TAXII: the last
//     X-TAXII-Date-Added-Last header (exclusive added_after), else the cursor
//     is kept. Files: modification time and size; URLs: ETag/Last-Modified.
//   - OTX: an indicator with is_active 0 is skipped and counted; a pulse
//     without a parsable `modified` is skipped (the cursor could not cover
//     it); `next` is followed only on BaseURL's scheme and host, because the
//     API key goes with it; an empty page ends the pass.
//   - MISP: pages are numbered from 1 and a page shorter than the limit is
//     the last; deleted or non-IDS attributes are skipped and counted; Ref is
//     the event's uuid (else its id).
//   - STIX: only "indicator" objects are considered; other objects are
//     neither indicators nor errors. An indicator is skipped and counted when
//     its pattern_type is not "stix", it is revoked, its pattern is outside
//     the supported subset (see ParseSTIXPattern), or any of its values is
//     bad. labels and indicator_types become tags. Every object version a
//     TAXII server sends is converted; the store keeps the latest.
//   - Retryable failures (network errors, 429, 5xx) are
//     *outbox.RetryableError carrying the server's Retry-After. API keys and
//     passwords never appear in error texts.
package feeds
