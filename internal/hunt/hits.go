package hunt

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Hit is one telemetry row a hunt query returned: a device that talked to
// a destination. For CommonSecurityLog, DeviceName is the appliance that
// logged the connection (Computer), LocalIP the source, and Process the
// appliance's product; DeviceID is empty.
type Hit struct {
	Table      string
	Time       time.Time
	DeviceID   string
	DeviceName string
	LocalIP    string
	RemoteIP   string
	RemoteURL  string
	// RemoteHost is the destination host name (CommonSecurityLog's
	// DestinationHostName; for DeviceNetworkEvents the host of RemoteUrl).
	RemoteHost string
	Process    string
	Port       int
}

// Hits turns the records of a hunt query on table (the rows keyed by
// column name, as loganalytics.Table.Records gives them) into hits. A row
// without a usable time or without any destination (IP, URL or host), or
// whose values have the wrong types, is skipped; bad counts them. Missing
// optional columns are left empty.
func Hits(table string, recs []map[string]any) (hits []Hit, bad int) {
	for _, r := range recs {
		h, ok := hit(table, r)
		if !ok {
			bad++
			continue
		}
		hits = append(hits, h)
	}
	return hits, bad
}

func hit(table string, r map[string]any) (Hit, bool) {
	h := Hit{Table: table}
	var ok bool
	if h.Time, ok = timeOf(r["TimeGenerated"]); !ok {
		return h, false
	}
	fields := map[string]*string{}
	var port string
	switch table {
	case TableDeviceNetworkEvents:
		fields = map[string]*string{"DeviceId": &h.DeviceID, "DeviceName": &h.DeviceName, "LocalIP": &h.LocalIP,
			"RemoteIP": &h.RemoteIP, "RemoteUrl": &h.RemoteURL, "InitiatingProcessFileName": &h.Process}
		port = "RemotePort"
	case TableCommonSecurityLog:
		fields = map[string]*string{"Computer": &h.DeviceName, "SourceIP": &h.LocalIP, "DestinationIP": &h.RemoteIP,
			"DestinationHostName": &h.RemoteHost, "RequestURL": &h.RemoteURL, "DeviceProduct": &h.Process}
		port = "DestinationPort"
	default:
		return h, false
	}
	for col, dst := range fields {
		v, present := r[col]
		if !present || v == nil {
			continue
		}
		s, isStr := v.(string)
		if !isStr {
			return h, false
		}
		*dst = s
	}
	if v, present := r[port]; present && v != nil {
		p, ok := portOf(v)
		if !ok {
			return h, false
		}
		h.Port = p
	}
	if h.RemoteHost == "" && h.RemoteURL != "" {
		h.RemoteHost = urlHost(h.RemoteURL)
	}
	if h.RemoteIP == "" && h.RemoteURL == "" && h.RemoteHost == "" {
		return h, false
	}
	return h, true
}

func timeOf(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), !x.IsZero()
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		return t.UTC(), err == nil
	}
	return time.Time{}, false
}

func portOf(v any) (int, bool) {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case int:
		n = int64(x)
	case float64:
		if x != math.Trunc(x) {
			return 0, false
		}
		n = int64(x)
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, false
		}
		n = i
	default:
		return 0, false
	}
	if n < 0 || n > 65535 {
		return 0, false
	}
	return int(n), true
}
