// Package jira mirrors vigil work items as Jira Cloud issues through the
// platform REST API v3. It is an outbox target like the Freshdesk and
// ServiceNow connectors: Send creates an issue, moves it through the
// project's workflow with the work item, and adds comments; VerifyWebhook
// and ParseWebhook take Jira's own changes back.
//
// Wire contract (Jira Cloud platform REST API v3,
// https://developer.atlassian.com/cloud/jira/platform/rest/v3/):
//
//	POST /rest/api/3/issue                      create (api-group-issues)
//	GET  /rest/api/3/search/jql?jql=…           find an issue by label (api-group-issue-search);
//	                                            /rest/api/3/search was removed in 2025, CHANGE-2046
//	GET  /rest/api/3/issue/{key}?fields=…       read status and summary
//	PUT  /rest/api/3/issue/{key}                edit the summary / priority
//	GET  /rest/api/3/issue/{key}/transitions    the transitions open to the issue now
//	POST /rest/api/3/issue/{key}/transitions    do one, with the reason as a comment
//	GET  /rest/api/3/issue/{key}/comment        look for a comment's marker
//	POST /rest/api/3/issue/{key}/comment        add a comment (an Atlassian Document Format body)
//
// Authentication is HTTP Basic with an Atlassian account's email and an API
// token. A 429 (and a 5xx) is retried after its Retry-After
// (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/).
//
// Every operation is safe to send again after a lost answer. A create
// first asks Refs, then searches for an issue carrying the label vigil-<id>
// that an earlier attempt made; an update re-reads the issue and moves it
// only when its status differs; a comment ends with a marker, looked for
// among the comments before posting again. Jira's search is
// eventually consistent: an issue created a moment before a resend may
// not be found yet, which is the one window where a duplicate can appear.
//
// # State mapping
//
// Jira workflows are the project's own, so the mapping is configuration
// (Config.States), from a vigil state to a Jira status name. The default
// fits Jira's default workflow (To Do, In Progress, Done):
//
//	vigil state   Jira status
//	New           To Do
//	Approved      To Do
//	Active        In Progress
//	Verification  In Progress
//	Closed        Done         the reason goes in the transition's comment
//	Removed       Done
//
// A move reads GET …/transitions and takes the transition whose to.name is
// the wanted status (compared case-insensitively, as Jira's status names
// are unique that way). When none leads there, the write fails for good
// with an error naming the status and the transitions offered: it is a
// configuration problem, which retrying does not fix.
//
// An issue whose status is in the done category and differs from the one
// the work item's previous state maps to was finished by someone in Jira:
// it is not reopened from vigil, and the write is reported as a conflict.
// A deleted issue is a conflict too.
//
// Going back (VigilState), a status several vigil states map to gives the
// work item's current state when that is one of them, otherwise the first
// of them in the order New, Approved, Active, Verification, Closed,
// Removed; so Done after Active means Closed, never Removed.
package jira
