// Package intel holds vigil's threat-intelligence indicator model, the
// normalisation of indicator and entity values, and the in-memory matcher
// that answers "is this entity a known indicator?" on ingest.
//
// Semantics decided here where the sources are silent:
//
//   - Every value is trimmed of surrounding white space before it is
//     normalised. Normalize is idempotent.
//   - A domain needs at least two labels and its last label must not be all
//     digits, so that "localhost", "com" and "1.2.3.4" are not domains.
//     Labels follow the idna Lookup profile (STD3 rules: letters, digits and
//     hyphens), 1–63 bytes each, 253 bytes in all.
//   - A URL must have an authority ("scheme://host"). Besides the documented
//     rules, percent escapes that stay encoded get upper-case hex digits
//     (RFC 3986 §6.2.2.1), an empty port (":") is dropped and a port is
//     written in decimal without leading zeros. Dot segments are kept: two
//     URLs that differ only by "/./" are different indicators. A URL host
//     may have one label ("http://intranet/").
//   - A cidr value may be given as a bare address, which becomes a /32 or a
//     /128; IPv4-mapped IPv6 prefixes of /96 or longer become IPv4 prefixes.
//   - An email is "local@domain": the local part is kept as written (it is
//     case-sensitive by RFC 5321) but may not hold white space, control
//     characters or any of `"(),:;<>@[\]`.
//
// Merging one indicator seen by several feeds (Matcher.Load and Add): Feeds
// and Tags are unions, Confidence the maximum, FirstSeen the earliest,
// LastSeen the latest and ValidUntil the latest, a zero ValidUntil (no
// expiry) winning over any date; Confidence is clamped to 0–100 and empty
// feed and tag names are dropped. The matcher keeps times to the second for
// FirstSeen and LastSeen and to the nanosecond for ValidUntil, all in UTC.
//
// Lookup reports, for one entity, every indicator that matches it: the
// exact indicator, the most specific unexpired CIDR containing an address,
// each indicator for a parent domain (never a single label, so a TLD never
// matches), and for a URL or an email the indicators matching its host or
// domain. Via says how each match was found; an email's domain is reported
// with Via "email-domain". A URL's host is matched as a domain with its
// parents, or as an address against IPs and CIDRs, all with Via "url-host".
//
// The matcher's layout, for a million indicators in about 90 MB: records of
// 40 bytes in copy-on-write pages (feed and tag sets interned once), one
// open-addressing hash table of 8-byte slots for every exact type, with a
// bit filter in front that answers most misses from cache, and a bart
// radix table for CIDRs. Readers load the current snapshot from an atomic
// pointer; Load builds a new one, Add and Remove copy the hash table (8
// bytes a slot) and only the record pages and radix paths they change.
// Expired indicators stay in memory, never matching, until Load or Prune.
package intel
