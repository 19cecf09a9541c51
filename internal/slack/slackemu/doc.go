// Package slackemu emulates the parts of Slack the pager uses, for tests
// and the demo: the Web API methods chat.postMessage and chat.update
// (under /api/, with a bot token), a workspace member pressing a button
// (Click), which POSTs a signed block_actions interaction to the
// interactivity URL the way Slack does, and the response_url Slack gives
// each interaction (under /actions/).
//
// It validates requests the way Slack documents: the bearer token
// (invalid_auth), the channel (invalid_arguments when absent,
// channel_not_found when not an id), text or blocks (no_text), blocks as
// an array of objects with a "type" (invalid_blocks_format,
// invalid_blocks), and the Block Kit limits the pager must keep (header
// 150, section text 3000, field 2000, button text 75 characters). A post
// to a member id (U…, W…) lands in that member's direct message channel,
// "D" + the member id, as Slack answers with the DM's id.
//
// It does not import package slack, so that it checks the client
// against an independent reading of the contract.
package slackemu
