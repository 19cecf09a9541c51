package app

import (
	"fmt"
	"log/slog"

	"github.com/vigil-soc/vigil/internal/account"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/config"
)

// accountOptions turns the login section into the account service's
// options.
func accountOptions(l config.Login, log *slog.Logger) account.Options {
	queue := l.HashQueue
	if queue == 0 {
		queue = -1 // in the file 0 means none; in account.Options, the default
	}
	return account.Options{Logger: log, HashSlots: l.HashSlots, HashQueue: queue, HashWait: l.HashWait,
		AddrFailures: l.AddrFailures, AddrInFlight: l.AddrInFlight,
		DeviceSlots: l.DeviceSlots, DeviceFailures: l.DeviceFailures}
}

// trustedProxies is the client address resolver of trusted_proxies.
func trustedProxies(cfg config.Config) (*auth.Proxies, error) {
	p, err := config.ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return auth.NewProxies(p), nil
}
