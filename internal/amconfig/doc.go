// Package amconfig reads an Alertmanager configuration (alertmanager.yml)
// for `vigil import alertmanager-config`, and maps it to vigil's on-call
// services, grouping, support hours, maintenance windows and inhibit
// rules, reporting what it could not map.
//
// Reading follows prometheus/alertmanager's config package: the same field
// names, the same refusals (no root receiver, matchers, time intervals or
// continue on the root route, an undefined receiver or time interval, a
// duplicate receiver or time interval name, a bad matcher, regex, duration
// or time range), each a *validation.FieldError whose Field is the YAML
// path, such as "route.routes[1].receiver". Unknown top-level, receiver
// and inhibit-rule keys are reported rather than refused, so that a newer
// Alertmanager's file still imports; unknown route and time interval keys
// are refused, since guessing would change the routing.
//
// Semantics decided here, where the sources are silent:
//
//   - Routing. Alertmanager sends an alert to the deepest matching routes;
//     a route whose children all fail to match is itself the destination.
//     vigil pages the first service whose condition matches, so every
//     route becomes a service, listed children first (Alertmanager's own
//     route index order): the service of a route with children catches
//     what its children do not. The condition is the conjunction of the
//     matchers from the root to the route. `continue: true` followed by
//     more siblings cannot be expressed (the alert would reach several
//     services) and is reported.
//   - Matchers become CEL over vigil's `labels` map. An absent label reads
//     as "" as in Alertmanager; vigil's environment has no optional types,
//     so the translation tests `"k" in labels`. Regexes are anchored as
//     `^(?:re)$`, which both Alertmanager and CEL's matches() (RE2) obey.
//   - Services are named after their receiver, then receiver-2, -3...
//     Their policy is Options.Policy or one named after the receiver,
//     which the admin creates: people, not receivers, are paged in vigil.
//   - group_by labels become "labels.NAME"; no group_by (Alertmanager:
//     one group per route) becomes group_by ["source"], the same for all
//     Alertmanager alerts; `...` becomes no grouping, since vigil keeps
//     differently-labelled alerts apart anyway. group_interval, rounded up
//     to whole minutes (at most 1440), is the group window. group_wait and
//     repeat_interval are noted: the policy's steps replace them.
//   - An active time interval with one spec, one time range at most, any
//     weekdays and no day, month or year restriction becomes support hours
//     with low urgency (pages wait for them, as notifications did); an end
//     of 24:00 becomes 23:59. Anything else is reported.
//   - A mute time interval spec that names a single year (and at most one
//     month range, one day range within one month, or one time range on
//     one day) becomes a maintenance window; recurring specs are reported;
//     windows already over by Options.Now are dropped with a note.
//   - Time intervals are not inherited by child routes, as in
//     Alertmanager.
//   - Limits: files over MaxBytes and trees over MaxRoutes routes (YAML
//     aliases can repeat a subtree exponentially) are refused; a condition
//     vigil's CEL environment refuses is reported and left empty (the
//     service is made but nothing routes to it).
package amconfig
