// Package slack posts pages to Slack with Block Kit buttons, updates
// those messages in place as the page changes, and verifies and parses
// the interactivity requests the buttons produce.
//
// Semantics decided where Slack's documentation leaves room:
//
//   - Errors. Slack answers most failures with HTTP 200 and
//     {"ok":false,"error":"…"}. HTTP 429 (honouring Retry-After), any 5xx,
//     network errors, and the error codes "ratelimited", "internal_error",
//     "fatal_error", "service_unavailable" and "request_timeout" are
//     *outbox.RetryableError; every other ok:false code is a permanent
//     *APIError. A body that is not Slack's JSON envelope on a 2xx is
//     permanent too: retrying a misconfigured APIURL will not fix it.
//   - Members. A contact method may name a member (U…, W…); Slack then
//     posts to the app's direct message with that member and answers with
//     the DM's channel id (D…). The Receipt's ProviderID is always the
//     channel Slack answered with, "/", and the message ts, because
//     chat.update needs that channel, not the member id.
//   - Buttons. A triggered page carries acknowledge, resolve and escalate;
//     an acknowledged page keeps resolve and escalate; a resolved page (or
//     any other state) carries none. Each button's value is the page id.
//   - Interactions. A button press carries one action; ParseInteraction
//     reads the first and requires the user id and the action id, the
//     fields nothing can act without. Action.Type is the interaction type
//     ("block_actions"), not the element type.
//   - Verification. The timestamp is checked before the signature, as
//     Slack's own SDKs do; a missing header, or a timestamp that is not
//     a decimal integer, is ErrUnsigned (there is no usable signature
//     base). The window is symmetric: a request from the future is
//     refused as stale. A body over 64 KiB is refused with ErrTooLarge
//     before any HMAC. A replay within the window verifies; refusing it
//     (by trigger_id or action_ts) is the caller's job.
//
// The bot token and the signing secret never appear in errors or logs.
package slack
