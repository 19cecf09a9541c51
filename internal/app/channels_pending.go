package app

import (
	"errors"
	"net/http"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/notify"
)

// Placeholders until the ntfy and HTTP gateway packages land.
func smsGateway(config.SMSGateway, *http.Client, clock.Clock) (notify.SMSProvider, error) {
	return nil, errors.New("paging.sms_gateway: not available in this build")
}

func ntfyChannel(config.Ntfy, *http.Client, clock.Clock) notify.Channel { return nil }
