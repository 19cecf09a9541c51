package simulator

import (
	"cmp"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// NetworkEvent is a row of DeviceNetworkEvents (Microsoft Defender for
// Endpoint's network connections, as streamed into Sentinel). Only the
// columns vigil's hunts read are simulated.
type NetworkEvent struct {
	TimeGenerated                time.Time `json:"TimeGenerated"`
	Timestamp                    time.Time `json:"Timestamp"`
	DeviceID                     string    `json:"DeviceId"`
	DeviceName                   string    `json:"DeviceName"`
	ActionType                   string    `json:"ActionType"`
	RemoteIP                     string    `json:"RemoteIP"`
	RemotePort                   int       `json:"RemotePort"`
	RemoteURL                    string    `json:"RemoteUrl"`
	LocalIP                      string    `json:"LocalIP"`
	InitiatingProcessFileName    string    `json:"InitiatingProcessFileName"`
	InitiatingProcessAccountName string    `json:"InitiatingProcessAccountName"`
}

// SecurityLogEvent is a row of CommonSecurityLog (CEF from firewalls and
// proxies). Only the columns vigil's hunts read are simulated.
type SecurityLogEvent struct {
	TimeGenerated       time.Time `json:"TimeGenerated"`
	DeviceVendor        string    `json:"DeviceVendor"`
	DeviceProduct       string    `json:"DeviceProduct"`
	Computer            string    `json:"Computer"`
	SourceIP            string    `json:"SourceIP"`
	DestinationIP       string    `json:"DestinationIP"`
	DestinationPort     int       `json:"DestinationPort"`
	DestinationHostName string    `json:"DestinationHostName"`
	RequestURL          string    `json:"RequestURL"`
	Activity            string    `json:"Activity"`
}

// telemetryMax bounds each telemetry table; the oldest rows go first, as
// retention would drop them.
const telemetryMax = 100000

// telemetryState is the workspace's telemetry tables. Guarded by World.mu;
// the zero value is ready.
type telemetryState struct {
	network []NetworkEvent
	seclog  []SecurityLogEvent
	steps   int
	rng     *rand.Rand
}

// AddNetworkEvent appends a DeviceNetworkEvents row; a zero TimeGenerated
// is now, and a zero Timestamp is TimeGenerated.
func (w *World) AddNetworkEvent(e NetworkEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.addNetworkEvent(e)
}

func (w *World) addNetworkEvent(e NetworkEvent) {
	if e.TimeGenerated.IsZero() {
		e.TimeGenerated = w.now()
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = e.TimeGenerated
	}
	e.TimeGenerated, e.Timestamp = e.TimeGenerated.UTC(), e.Timestamp.UTC()
	w.telemetry.network = append(w.telemetry.network, e)
	if n := len(w.telemetry.network); n > telemetryMax {
		w.telemetry.network = slices.Clone(w.telemetry.network[n-telemetryMax:])
	}
}

// AddSecurityLog appends a CommonSecurityLog row; a zero TimeGenerated is
// now.
func (w *World) AddSecurityLog(e SecurityLogEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.addSecurityLog(e)
}

func (w *World) addSecurityLog(e SecurityLogEvent) {
	if e.TimeGenerated.IsZero() {
		e.TimeGenerated = w.now()
	}
	e.TimeGenerated = e.TimeGenerated.UTC()
	w.telemetry.seclog = append(w.telemetry.seclog, e)
	if n := len(w.telemetry.seclog); n > telemetryMax {
		w.telemetry.seclog = slices.Clone(w.telemetry.seclog[n-telemetryMax:])
	}
}

// NetworkEvents returns a copy of DeviceNetworkEvents, oldest first.
func (w *World) NetworkEvents() []NetworkEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.telemetry.network)
}

// SecurityLogs returns a copy of CommonSecurityLog, oldest first.
func (w *World) SecurityLogs() []SecurityLogEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.telemetry.seclog)
}

// laTableNames are the tables the simulated workspace has.
var laTableNames = []string{"DeviceNetworkEvents", "CommonSecurityLog", "SecurityIncident", "SecurityAlert"}

// laTable builds a table of the workspace from the world's current state,
// so that SecurityIncident and SecurityAlert always say what the REST
// views say. Table names are case sensitive, as in KQL.
func (s *Simulator) laTable(name string) (*kqlTable, bool) {
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	str := func(n string) kqlColumn { return kqlColumn{Name: n, Type: "string"} }
	dt := func(n string) kqlColumn { return kqlColumn{Name: n, Type: "datetime"} }
	integer := func(n string) kqlColumn { return kqlColumn{Name: n, Type: "int"} }
	dyn := func(n string) kqlColumn { return kqlColumn{Name: n, Type: "dynamic"} }
	t := &kqlTable{}
	switch name {
	case "DeviceNetworkEvents":
		t.Cols = []kqlColumn{dt("TimeGenerated"), dt("Timestamp"), str("DeviceId"), str("DeviceName"), str("ActionType"),
			str("RemoteIP"), integer("RemotePort"), str("RemoteUrl"), str("LocalIP"), str("InitiatingProcessFileName"),
			str("InitiatingProcessAccountName"), str("Type")}
		for _, e := range w.telemetry.network {
			t.Rows = append(t.Rows, []any{e.TimeGenerated, e.Timestamp, e.DeviceID, e.DeviceName, e.ActionType,
				e.RemoteIP, int64(e.RemotePort), e.RemoteURL, e.LocalIP, e.InitiatingProcessFileName,
				e.InitiatingProcessAccountName, name})
		}
	case "CommonSecurityLog":
		t.Cols = []kqlColumn{dt("TimeGenerated"), str("DeviceVendor"), str("DeviceProduct"), str("Computer"), str("SourceIP"),
			str("DestinationIP"), integer("DestinationPort"), str("DestinationHostName"), str("RequestURL"), str("Activity"), str("Type")}
		for _, e := range w.telemetry.seclog {
			t.Rows = append(t.Rows, []any{e.TimeGenerated, e.DeviceVendor, e.DeviceProduct, e.Computer, e.SourceIP,
				e.DestinationIP, int64(e.DestinationPort), e.DestinationHostName, e.RequestURL, e.Activity, name})
		}
	case "SecurityIncident":
		// One row per incident, its current state: what arg_max over the
		// real table's row-per-change gives, and what the REST view
		// shows (sentinelIncidentJSON), field for field.
		t.Cols = []kqlColumn{dt("TimeGenerated"), str("IncidentName"), integer("IncidentNumber"), str("Title"), str("Description"),
			str("Severity"), str("Status"), str("Classification"), str("ClassificationReason"), str("ClassificationComment"), dyn("Owner"),
			dyn("Labels"), dt("CreatedTime"), dt("FirstModifiedTime"), dt("LastModifiedTime"), dt("FirstActivityTime"), dt("LastActivityTime"),
			str("ProviderName"), str("ProviderIncidentId"), dyn("AlertIds"), dyn("RelatedAnalyticRuleIds"), str("IncidentUrl"), str("Type")}
		ws := w.workspaceID()
		for _, n := range w.incidentOrder {
			inc := w.incidents[n]
			o := map[string]any{
				"objectId": laNullable(inc.Owner.ObjectID), "email": laNullable(inc.Owner.Email),
				"assignedTo": laNullable(inc.Owner.AssignedTo), "userPrincipalName": laNullable(inc.Owner.UserPrincipalName),
			}
			if inc.Owner.OwnerType != "" {
				o["ownerType"] = inc.Owner.OwnerType
			}
			owner, _ := json.Marshal(o)
			labels := inc.Labels
			if labels == nil {
				labels = []map[string]any{}
			}
			lb, _ := json.Marshal(labels)
			ids, _ := json.Marshal(sentinelStrings(inc.AlertIDs))
			rules, _ := json.Marshal(sentinelStrings(inc.RelatedRuleIDs))
			t.Rows = append(t.Rows, []any{inc.LastModified, inc.Name, int64(inc.Number), inc.Title, inc.Description,
				inc.Severity, inc.Status, inc.Classification, inc.ClassificationReason, inc.ClassificationComment, string(owner),
				string(lb), inc.Created, inc.Created, inc.LastModified, inc.FirstActivity, inc.LastActivity,
				inc.ProviderName, inc.ProviderIncidentID, string(ids), string(rules),
				"https://portal.azure.com/#asset/Microsoft_Azure_Security_Insights/Incident" + ws + "/providers/Microsoft.SecurityInsights/incidents/" + inc.Name,
				name})
		}
	case "SecurityAlert":
		t.Cols = []kqlColumn{dt("TimeGenerated"), str("SystemAlertId"), str("AlertName"), str("DisplayName"), str("AlertType"), str("Description"),
			str("AlertSeverity"), str("Status"), str("ProviderName"), str("ProductName"), str("VendorName"),
			str("VendorOriginalId"), dt("StartTime"), dt("EndTime"), dt("ProcessingEndTime"), str("Tactics"),
			str("ConfidenceLevel"), str("CompromisedEntity"), dyn("Entities"), str("Type")}
		alerts := make([]*SentinelAlert, 0, len(w.sentinelAlerts))
		for _, a := range w.sentinelAlerts {
			alerts = append(alerts, a)
		}
		slices.SortFunc(alerts, func(a, b *SentinelAlert) int {
			return cmp.Or(a.TimeGenerated.Compare(b.TimeGenerated), cmp.Compare(a.ID, b.ID))
		})
		for _, a := range alerts {
			ents := a.Entities
			if ents == nil {
				ents = []map[string]any{}
			}
			eb, _ := json.Marshal(ents)
			// As the REST view (sentinelAlertJSON): processing ended when
			// Defender for Cloud says, else when the alert was generated.
			processed, compromised := a.TimeGenerated, ""
			if d := w.defender[a.ProviderAlertID]; d != nil {
				if !d.ProcessingEndTime.IsZero() {
					processed = d.ProcessingEndTime
				}
				compromised = d.CompromisedEntity
			}
			var tactics []string
			for _, tac := range a.Tactics {
				if tac != "" {
					tactics = append(tactics, tac)
				}
			}
			t.Rows = append(t.Rows, []any{a.TimeGenerated, a.ID, a.DisplayName, a.DisplayName, a.AlertType, a.Description,
				a.Severity, a.Status, a.ProductName, a.ProductName, "Microsoft",
				a.ProviderAlertID, a.StartTime, a.EndTime, processed, strings.Join(tactics, ", "),
				"Unknown", compromised, string(eb), name})
		}
	default:
		return nil, false
	}
	return t, true
}

func laNullable(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// Telemetry the scenario generates: a few devices of a small office
// talking to a fixed set of destinations, some benign and some at the
// addresses and names reserved for documentation (RFC 5737 and RFC 2606),
// which tests and the demo use as indicators.
var (
	simDevices = []struct{ id, name, ip, user, proc string }{
		{"a1f3c2d4e5b6a7980112233445566778899aabbc", "ws-ada.contoso.com", "10.0.1.21", "ada", "chrome.exe"},
		{"b2e4d3c5f6a7b8091223344556677889900aabbc", "ws-grace.contoso.com", "10.0.1.22", "grace", "msedge.exe"},
		{"c3f5e4d6a7b8c9102334455667788990011bbccd", "srv-build01.contoso.com", "10.0.2.10", "svc-build", "powershell.exe"},
		{"d4a6f5e7b8c9d0213445566778899001122ccdde", "ws-alan.contoso.com", "10.0.1.23", "alan", "rundll32.exe"},
	}
	simDestinations = []struct {
		ip, host, url string
		port          int
	}{
		{"13.107.42.14", "www.office.com", "https://www.office.com/", 443},
		{"203.0.113.7", "", "", 443},
		{"140.82.112.3", "github.com", "https://github.com/vigil-soc/vigil", 443},
		{"198.51.100.23", "evil.example.com", "http://evil.example.com/gate.php", 80},
		{"20.190.151.68", "login.microsoftonline.com", "https://login.microsoftonline.com/common/oauth2/v2.0/token", 443},
		{"203.0.113.66", "malware.example.net", "http://malware.example.net/payload.exe", 8080},
		{"8.8.8.8", "dns.google", "", 53},
		{"198.51.100.200", "c2.example.org", "https://c2.example.org/beacon?id=42", 443},
	}
)

// telemetryEvery is how many scenario steps pass between telemetry
// batches.
const telemetryEvery = 3

// fillTelemetry is called by Scenario.Step: every telemetryEvery steps it
// appends three DeviceNetworkEvents and two CommonSecurityLog rows. The
// destinations come round-robin, so that each appears within a few
// batches; devices and ports come from a generator seeded from the
// simulator's seed, apart from the scenario's own so that adding
// telemetry does not change the alert stream.
func (sc *Scenario) fillTelemetry() {
	w := sc.sim.world
	w.mu.Lock()
	defer w.mu.Unlock()
	ts := &w.telemetry
	if ts.rng == nil {
		ts.rng = rand.New(rand.NewPCG(w.opt.Seed, 0x7e1e3e7))
	}
	ts.steps++
	if ts.steps%telemetryEvery != 1 {
		return
	}
	batch := ts.steps / telemetryEvery
	now := w.now()
	for i := range 3 {
		d := simDevices[ts.rng.IntN(len(simDevices))]
		dst := simDestinations[(batch*5+i)%len(simDestinations)]
		w.addNetworkEvent(NetworkEvent{
			TimeGenerated: now.Add(-time.Duration(3-i) * time.Second), DeviceID: d.id, DeviceName: d.name,
			ActionType: "ConnectionSuccess", RemoteIP: dst.ip, RemotePort: dst.port, RemoteURL: dst.url,
			LocalIP: d.ip, InitiatingProcessFileName: d.proc, InitiatingProcessAccountName: d.user,
		})
	}
	for i := range 2 {
		d := simDevices[ts.rng.IntN(len(simDevices))]
		dst := simDestinations[(batch*5+3+i)%len(simDestinations)]
		activity := "TRAFFIC"
		if dst.url != "" {
			activity = "URL filtering log"
		}
		w.addSecurityLog(SecurityLogEvent{
			TimeGenerated: now.Add(-time.Duration(2-i) * time.Second), DeviceVendor: "Palo Alto Networks", DeviceProduct: "PAN-OS",
			Computer: "fw01.contoso.com", SourceIP: d.ip, DestinationIP: dst.ip, DestinationPort: dst.port,
			DestinationHostName: dst.host, RequestURL: dst.url, Activity: activity,
		})
	}
}
