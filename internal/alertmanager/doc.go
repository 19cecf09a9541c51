// Package alertmanager holds Prometheus Alertmanager's wire contracts, pure:
// label matchers and their parsers, the API v2 models of
// api_v2_openapi.yaml, silence validation, the webhook receiver payload
// (Alertmanager's version "4" and Grafana Alerting's superset), the error
// shape amtool decodes, alert grouping, and a small OpenAPI (Swagger 2.0)
// schema checker for tests. It does no I/O and keeps no state: vigil's
// HTTP handlers, store and CLI call it.
//
// Semantics decided here where Alertmanager's sources are silent or where
// vigil deliberately differs:
//
//   - Matchers follow Alertmanager's default "fallback" mode: the UTF-8
//     parser (matcher/parse) first, the classic parser (pkg/labels) when
//     the UTF-8 parser refuses the input, and the classic result when both
//     accept but disagree. When both refuse, the UTF-8 parser's error is
//     returned, because it names the column at fault; Alertmanager returns
//     the classic one ("bad matcher format").
//   - Input that is not valid UTF-8 is refused outright by ParseMatchers;
//     Alertmanager's lexer would carry invalid bytes in unquoted values.
//   - A Matcher built as a struct literal (without NewMatcher or a parser)
//     compiles its regex on each Matches call; one whose regex does not
//     compile matches nothing, whether =~ or !~, so a broken silence never
//     silences.
//   - Silences: createdBy and comment must be non-empty (amtool always
//     sends both); the swagger layer only demands the keys. startsAt is not
//     moved to now by the parser; NewGettableSilence does that, as
//     Alertmanager's silence store does on create.
//   - Webhooks: a body with an "orgId" key is Grafana's contact point
//     payload (its "version" is "1"); anything else must carry version "4".
//     An endsAt of "0001-01-01T00:00:00Z" (Grafana's "not resolved") or
//     absent reads as unset. An alert without a fingerprint gets
//     Fingerprint(labels). A missing alert status is derived from endsAt
//     and now; a missing top-level status from the alerts.
//   - Webhooks are also refused for what vigil's POST /api/v2/alerts path
//     refuses (an empty annotation name, endsAt before startsAt), so that
//     Webhook.VigilAlerts, which maps through compat.ParseAlertmanager,
//     never fails on an accepted body.
//   - Query booleans (active, silenced, …) read as go-swagger reads them:
//     absent or empty is the default true, truthy words are true, anything
//     else is false, never an error. unprocessed=false is honoured, which
//     Alertmanager's handler ignores.
//   - Matcher.String quotes an empty label name, which Alertmanager renders
//     as `="x"`, so that every rendering parses back.
//   - GroupAlerts puts an alert that lists several receivers in one group
//     per receiver, as Alertmanager's dispatcher does; routeLabels is left
//     empty for the caller to fill.
//
// A silence must have a matcher that does not match the empty string:
// Alertmanager refuses only silences of = and =~ matchers that do, and
// accepts a lone {team!="db"}, which silences every alert without a team
// label; vigil refuses that too.
package alertmanager
