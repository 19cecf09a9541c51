package alertmanager

import (
	"slices"
	"strings"
)

// GroupByAll is group_by's special value that groups by every label.
const GroupByAll = "..."

// GroupAlerts groups alerts as Alertmanager's dispatcher does for GET
// /api/v2/alerts/groups: one group per receiver and per distinct values of
// the `by` labels (only the labels an alert has count; "..." means all of
// them). With a receiver name, only alerts that list that receiver, or list
// none, are grouped, all under it; with "", an alert lands in one group per
// receiver it lists, and under "" when it lists none.
//
// The order is stable: groups by labels (fewer labels first, then label by
// label, as model.LabelSet.Before) then receiver; alerts in a group the
// same way, then by fingerprint.
func GroupAlerts(alerts []GettableAlert, by []string, receiver string) []AlertGroup {
	all := slices.Contains(by, GroupByAll)
	type key struct{ receiver, labels string }
	index := map[key]int{}
	var groups []AlertGroup
	add := func(rcv string, a GettableAlert) {
		gl := groupLabels(a.Labels, by, all)
		k := key{rcv, labelKey(gl)}
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, AlertGroup{
				Labels:      gl,
				RouteLabels: map[string]string{},
				Receiver:    ReceiverReference{Name: rcv},
			})
		}
		groups[i].Alerts = append(groups[i].Alerts, a)
	}
	for _, a := range alerts {
		switch {
		case len(a.Receivers) == 0:
			add(receiver, a)
		case receiver != "":
			if slices.ContainsFunc(a.Receivers, func(r ReceiverReference) bool { return r.Name == receiver }) {
				add(receiver, a)
			}
		default:
			seen := map[string]bool{}
			for _, r := range a.Receivers {
				if !seen[r.Name] {
					seen[r.Name] = true
					add(r.Name, a)
				}
			}
		}
	}
	for i := range groups {
		slices.SortStableFunc(groups[i].Alerts, func(x, y GettableAlert) int {
			if c := compareLabelSets(x.Labels, y.Labels); c != 0 {
				return c
			}
			return strings.Compare(x.Fingerprint, y.Fingerprint)
		})
	}
	slices.SortStableFunc(groups, func(x, y AlertGroup) int {
		if c := compareLabelSets(x.Labels, y.Labels); c != 0 {
			return c
		}
		return strings.Compare(x.Receiver.Name, y.Receiver.Name)
	})
	if groups == nil {
		groups = []AlertGroup{}
	}
	return groups
}

func groupLabels(labels map[string]string, by []string, all bool) map[string]string {
	out := map[string]string{}
	if all {
		for k, v := range labels {
			out[k] = v
		}
		return out
	}
	for _, name := range by {
		if v, ok := labels[name]; ok {
			out[name] = v
		}
	}
	return out
}

// labelKey is an unambiguous key for a label set: sorted pairs joined by
// 0xff, which cannot occur in valid UTF-8.
func labelKey(m map[string]string) string {
	names := sortedKeys(m)
	var b strings.Builder
	for _, k := range names {
		b.WriteString(k)
		b.WriteByte(0xff)
		b.WriteString(m[k])
		b.WriteByte(0xff)
	}
	return b.String()
}

// compareLabelSets orders as prometheus/common's LabelSet.Before: the
// smaller set first, then over the union of names in order, a set missing
// a name first, else by value.
func compareLabelSets(a, b map[string]string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	names := sortedKeys(a)
	for k := range b {
		if _, ok := a[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		av, aok := a[k]
		bv, bok := b[k]
		switch {
		case !aok:
			return -1
		case !bok:
			return 1
		}
		if c := strings.Compare(av, bv); c != 0 {
			return c
		}
	}
	return 0
}

func sortedKeys(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
