// Package smshttp sends SMS through any HTTP gateway described by
// configuration: a URL, a method, headers, a content type and a body
// template over {To, From, Body}, plus which statuses mean "accepted" and
// which field of the JSON answer holds the message id. It is vigil's
// second notify.SMSProvider (after Twilio) and covers regional gateways
// that have no client of their own.
//
// Semantics decided where a gateway's contract is unknown:
//
//   - Templates are text/template with three functions: urlquery (url.QueryEscape,
//     for form bodies and query strings), json (a quoted JSON string
//     literal, for JSON bodies) and digits (the number without its plus
//     sign, for gateways that want it so). Nothing is escaped
//     implicitly: the template author picks the escape for the context.
//     Templates are parsed and executed once with sample values in New,
//     so a typo ({{.Too}}) fails at start-up, naming the field.
//   - Success is the listed statuses, or any 2xx when none are listed.
//     Otherwise 429, 5xx and network errors are *outbox.RetryableError
//     (with Retry-After); every other answer is permanent, with its status
//     and at most 200 bytes of its body. Redirects are not followed: a
//     gateway that moved must be reconfigured, not silently followed with
//     credentials.
//   - IDField names the answer's message id: a top-level field, or a
//     dotted path into objects and arrays ("messages.0.message-id") as an
//     extension. A string or a number is taken; when it is missing the
//     SMS still counts as sent (without a ProviderID), since a retry would
//     text the person twice.
//   - Secrets: header values (an API key, a Basic credential) and the
//     query values and password of the rendered URL never appear in an
//     error text: errors name the provider and the URL's host only, and
//     the answer's snippet is scrubbed of every such value.
package smshttp
