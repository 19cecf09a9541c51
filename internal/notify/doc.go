// Package notify delivers paging notifications (email and signed
// webhooks) through vigil's durable outbox.
//
// A Notification is built once, when the escalation engine decides to
// notify a contact method, and stored as the payload of an outbox message
// (see Message) in the same transaction as the page change. The outbox
// sender later hands it to Target, which dispatches to the Channel for
// the contact method's type. Delivery is at least once: a crash between
// the send and its recording sends again, so every channel carries the
// notification's stable ID where the receiver can see it (the email
// Message-ID, the webhook-id header) and recognise the duplicate.
//
// Decisions where the issue is silent:
//   - Credentials (SMTP password, webhook signing secrets) never enter a
//     Notification: they come from channel configuration, because the
//     notification is stored in the outbox and shown on the timeline.
//     Error texts are scrubbed of the SMTP password and of webhook URL
//     query strings for the same reason.
//   - Errors are classified for the outbox: transient failures (network,
//     SMTP 4xx, HTTP 429/5xx) are *outbox.RetryableError; anything a retry
//     cannot fix (SMTP 5xx, a wrong password, a server refusing STARTTLS
//     under the mandatory policy, an untrusted certificate, HTTP 4xx, a
//     redirect) is a plain, permanent error so that it shows as Failed
//     quickly instead of retrying for an hour.
//   - The webhook body is identical on every attempt (its timestamp is
//     the notification's CreatedAt); only the webhook-timestamp header and
//     the signature change, as the Standard Webhooks specification says.
//   - Webhook redirects are not followed: a signed POST must reach the URL
//     the user verified, not wherever that URL points today.
//   - The acknowledgement link in a notification only opens a page; the
//     page's button acknowledges, so mail scanners that follow links act
//     on nothing. The email text says so.
package notify
