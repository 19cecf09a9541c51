package hunt

import (
	"testing"
	"time"
)

func TestHits(t *testing.T) {
	ts := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		table string
		recs  []map[string]any
		want  []Hit
		bad   int
	}{
		{
			name: "network", table: TableDeviceNetworkEvents,
			recs: []map[string]any{{"TimeGenerated": ts, "DeviceId": "d1", "DeviceName": "ws-ada", "LocalIP": "10.0.1.21",
				"RemoteIP": "203.0.113.7", "RemoteUrl": "http://Evil.example.com/x", "RemotePort": int64(80), "InitiatingProcessFileName": "chrome.exe"}},
			want: []Hit{{Table: TableDeviceNetworkEvents, Time: ts, DeviceID: "d1", DeviceName: "ws-ada", LocalIP: "10.0.1.21",
				RemoteIP: "203.0.113.7", RemoteURL: "http://Evil.example.com/x", RemoteHost: "evil.example.com", Process: "chrome.exe", Port: 80}},
		},
		{
			name: "security log, time as text, port as float", table: TableCommonSecurityLog,
			recs: []map[string]any{{"TimeGenerated": "2026-03-01T10:00:00Z", "Computer": "fw01", "SourceIP": "10.0.1.22",
				"DestinationIP": "198.51.100.23", "DestinationHostName": "evil.example.com", "RequestURL": nil, "DestinationPort": 443.0, "DeviceProduct": "PAN-OS"}},
			want: []Hit{{Table: TableCommonSecurityLog, Time: ts, DeviceName: "fw01", LocalIP: "10.0.1.22", RemoteIP: "198.51.100.23",
				RemoteHost: "evil.example.com", Process: "PAN-OS", Port: 443}},
		},
		{
			name: "missing optional columns", table: TableDeviceNetworkEvents,
			recs: []map[string]any{{"TimeGenerated": ts, "RemoteIP": "203.0.113.7"}},
			want: []Hit{{Table: TableDeviceNetworkEvents, Time: ts, RemoteIP: "203.0.113.7"}},
		},
		{
			name: "bad rows", table: TableDeviceNetworkEvents,
			recs: []map[string]any{
				{"RemoteIP": "203.0.113.7"},                                           // no time
				{"TimeGenerated": "yesterday", "RemoteIP": "203.0.113.7"},             // bad time
				{"TimeGenerated": ts},                                                 // no destination
				{"TimeGenerated": ts, "RemoteIP": 7.0},                                // wrong type
				{"TimeGenerated": ts, "RemoteIP": "203.0.113.7", "RemotePort": 1.5},   // bad port
				{"TimeGenerated": ts, "RemoteIP": "203.0.113.7", "RemotePort": "x"},   // bad port
				{"TimeGenerated": ts, "RemoteIP": "203.0.113.7", "RemotePort": 70000}, // out of range
				{"TimeGenerated": ts, "RemoteIP": "203.0.113.7", "RemotePort": "22"},
			},
			want: []Hit{{Table: TableDeviceNetworkEvents, Time: ts, RemoteIP: "203.0.113.7", Port: 22}},
			bad:  7,
		},
		{name: "unknown table", table: "Heartbeat", recs: []map[string]any{{"TimeGenerated": ts}}, bad: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bad := Hits(tt.table, tt.recs)
			if bad != tt.bad || len(got) != len(tt.want) {
				t.Fatalf("got %+v, %d bad; want %+v, %d bad", got, bad, tt.want, tt.bad)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("hit %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
