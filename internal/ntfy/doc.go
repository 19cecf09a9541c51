// Package ntfy delivers vigil notifications as push messages to phones
// through ntfy (https://ntfy.sh or a self-hosted server), publishing as
// JSON (POST to the server's root, the topic in the body) as ntfy's
// "Publish as JSON" documents.
//
// Semantics decided where ntfy's documentation is silent or loose:
//
//   - A contact method's value is the topic. On a public server the topic
//     is the only secret, so it is validated ([-_A-Za-z0-9]{1,64}) but
//     never written to a log here; error texts name the server's host,
//     which is configuration, not the topic.
//   - Priority: 5 (max) for a high-urgency page, 3 (default) for any other
//     page and for every other kind. Tags: rotating_light for a high page,
//     warning for a low one, white_check_mark / heavy_check_mark for an
//     acknowledgement / a resolution, key for a verification, test_tube
//     for a test.
//   - A page carries two action buttons: an http action that POSTs
//     "action=acknowledge" (form-encoded) to the page's signed link, as
//     vigil's /ack/{token} page's own button does, and clears the
//     notification; and a view action that opens the item. click opens
//     the item as well.
//   - Messages over ntfy's 4096-byte limit would turn into attachments;
//     the text is cut to fit instead.
//   - HTTP 429, 5xx and network errors are *outbox.RetryableError with
//     Retry-After; any other non-2xx is permanent, with ntfy's error JSON
//     ({"code","http","error"}) decoded into the error text. A 2xx whose
//     body has no id still counts as sent (without a ProviderID): the
//     message is out, and a retry would buzz the phone twice.
//   - The access token (Bearer) never appears in an error text; a server
//     echoing it is scrubbed.
package ntfy
