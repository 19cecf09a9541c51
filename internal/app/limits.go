package app

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/notify"
)

// rateLimits reads paging.rate_limits: per contact method type, "off" or
// comma-separated "N/duration" terms ("2/1m, 10/15m"), each at most N
// notifications to one contact method in the duration.
func rateLimits(cfg map[string]string) (map[string]notify.Limits, error) {
	out := map[string]notify.Limits{}
	for typ, spec := range cfg {
		key := "paging.rate_limits." + typ
		if !isType(typ) {
			return nil, fmt.Errorf("%s: unknown contact method type (want one of %s)", key, strings.Join(notify.Types, ", "))
		}
		var l notify.Limits
		if strings.TrimSpace(spec) != "off" {
			for _, term := range strings.Split(spec, ",") {
				n, per, ok := strings.Cut(strings.TrimSpace(term), "/")
				count, err := strconv.Atoi(n)
				d, derr := time.ParseDuration(per)
				if !ok || err != nil || derr != nil || count < 1 || d <= 0 {
					return nil, fmt.Errorf("%s: %q is not N/duration (such as 2/1m)", key, term)
				}
				l.PerMethod = append(l.PerMethod, notify.Limit{N: count, Per: d})
			}
		}
		out[typ] = l
	}
	return out, nil
}

func isType(t string) bool {
	for _, x := range notify.Types {
		if x == t {
			return true
		}
	}
	return false
}
