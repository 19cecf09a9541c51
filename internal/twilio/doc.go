// Package twilio is vigil's Twilio Programmable Messaging and Voice
// client (API 2010-04-01): sending SMS and placing calls with inline
// TwiML, verifying and parsing the webhooks Twilio sends back (inbound SMS,
// status callbacks, <Gather> digits) and writing the TwiML that answers
// them. It uses the standard library only.
//
// Semantics decided where Twilio's documentation is silent or loose:
//
//   - Errors. Network errors, HTTP 429 and 5xx are *outbox.RetryableError
//     carrying Retry-After; every other non-2xx answer is permanent and
//     wraps *APIError. A 2xx whose body is not a resource with a sid is a
//     permanent error too: the message may have gone out, and retrying
//     could page someone twice.
//   - Secrets. The auth token never appears in an error text: Twilio's own
//     error message is passed through a redactor before it is kept.
//   - Signatures. Keys are sorted by byte value; a repeated key contributes
//     key+value once per distinct value, values sorted, as Twilio's Node
//     helper does (twilio-go only knows single values). An empty auth token
//     never validates anything, so an unconfigured vigil refuses every
//     webhook instead of accepting signatures made with an empty key.
//   - ValidSignature compares against exactly the URL it is given;
//     VerifyRequest also tries the URL with the default port added
//     (:443/:80) and with any port removed, as Twilio advises.
//   - VerifyRequest accepts POST only (vigil always configures POST
//     webhooks). A JSON body (application/json, or a URL carrying
//     bodySHA256) is verified by its SHA-256 and the signature over the URL
//     alone; the returned values are then empty and r.Body is restored so
//     the caller can read the JSON. For a form body r.Body is restored too.
//   - Replay protection is not done here: the signature covers no time.
//     Callers dedupe on the I-Twilio-Idempotency-Token header or the
//     MessageSid/CallSid (+status) they have already acted on.
package twilio
