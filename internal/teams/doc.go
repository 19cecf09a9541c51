// Package teams delivers vigil notifications to Microsoft Teams through a
// Workflows webhook ("Post to a channel when a webhook request is
// received"), as Adaptive Cards of schema version 1.5. Office 365
// connectors and their MessageCard format are retired, so this package
// does not produce MessageCards at all.
//
// The fixture testdata/incoming_webhook_adaptive_card.json (copied from
// ../shared/fixtures/thirdparty/teams/, MicrosoftDocs/msteams-docs) is the
// envelope a Workflows webhook takes: a "message" whose single attachment
// holds the card.
//
// Semantics decided where Microsoft's documentation is silent or loose:
//
//   - A contact method's value is the NAME of a configured webhook. The
//     webhook URL carries its own credential (the sig query parameter), so
//     it only ever comes from the resolver given to NewChannel: it is not
//     stored in a notification, and it never appears in an error text (a
//     failed request names the webhook, never its URL).
//   - Workflows answers 202 Accepted and runs the flow later; 200 is taken
//     as success too. No message id comes back, so a Receipt carries none,
//     and the card cannot be updated in place: an acknowledgement or a
//     resolution is a new, short card.
//   - HTTP 429, 5xx and network errors are *outbox.RetryableError (with
//     Retry-After); redirects are not followed and, like every other 4xx,
//     are permanent.
//   - The acknowledge button is an Action.OpenUrl to the page's signed
//     link. That link opens a page whose button acts: Teams (and any link
//     preview or scanner) fetching it acknowledges nothing. The card says
//     so in a small note.
//   - Text from alerts is put into TextBlocks as it is. Teams renders a
//     markdown subset there; vigil's own links are always actions, so a
//     link inside an alert's title is the alert's, not vigil's.
package teams
