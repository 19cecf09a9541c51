package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AlertV2 is a microsoft.graph.security.alert (GET /security/alerts_v2),
// with the fields vigil uses. Raw keeps the whole alert as Graph sent it.
type AlertV2 struct {
	ID              string `json:"id"`
	ProviderAlertID string `json:"providerAlertId"`
	IncidentID      string `json:"incidentId"`
	// Status is new, inProgress or resolved (unknown on old alerts).
	Status   string `json:"status"`
	Severity string `json:"severity"`
	// Classification is unknown, falsePositive, truePositive or
	// informationalExpectedActivity (a benign positive).
	Classification  string `json:"classification"`
	Determination   string `json:"determination"`
	AssignedTo      string `json:"assignedTo"`
	ServiceSource   string `json:"serviceSource"`
	DetectionSource string `json:"detectionSource"`
	// ProductName is a newer property; many alerts do not have it yet.
	ProductName           string     `json:"productName"`
	Title                 string     `json:"title"`
	Description           string     `json:"description"`
	Category              string     `json:"category"`
	CreatedDateTime       time.Time  `json:"createdDateTime"`
	LastUpdateDateTime    time.Time  `json:"lastUpdateDateTime"`
	FirstActivityDateTime time.Time  `json:"firstActivityDateTime"`
	LastActivityDateTime  time.Time  `json:"lastActivityDateTime"`
	ResolvedDateTime      time.Time  `json:"resolvedDateTime"`
	Evidence              []Evidence `json:"evidence"`
	Comments              []Comment  `json:"comments"`

	Raw json.RawMessage `json:"-"`
}

// Evidence is one alertEvidence. Graph has a subtype per kind of evidence
// (@odata.type); this flat struct holds the fields of the subtypes vigil
// turns into entities, and the rest stays in the alert's Raw.
type Evidence struct {
	Type string `json:"@odata.type"` // e.g. #microsoft.graph.security.ipEvidence
	// ipEvidence
	IPAddress string `json:"ipAddress"`
	// deviceEvidence
	DeviceDNSName string `json:"deviceDnsName"`
	HostName      string `json:"hostName"`
	// userEvidence (also on processEvidence, where it is the process's
	// account, often SYSTEM, and not mapped)
	UserAccount *UserAccount `json:"userAccount"`
	// urlEvidence
	URL string `json:"url"`
	// fileEvidence
	FileDetails *FileDetails `json:"fileDetails"`
	// processEvidence
	ImageFile *FileDetails `json:"imageFile"`
	// azureResourceEvidence
	ResourceID string `json:"resourceId"`
}

// Kind is the evidence subtype without its namespace ("ipEvidence").
func (e Evidence) Kind() string {
	return strings.TrimPrefix(strings.TrimPrefix(e.Type, "#"), "microsoft.graph.security.")
}

// UserAccount is Graph's userAccount.
type UserAccount struct {
	AccountName       string `json:"accountName"`
	DomainName        string `json:"domainName"`
	UserPrincipalName string `json:"userPrincipalName"`
	UserSID           string `json:"userSid"`
	AzureADUserID     string `json:"azureAdUserId"`
}

// FileDetails is Graph's fileDetails.
type FileDetails struct {
	FileName string `json:"fileName"`
	FilePath string `json:"filePath"`
	SHA1     string `json:"sha1"`
	SHA256   string `json:"sha256"`
}

// Comment is an alertComment.
type Comment struct {
	Comment              string    `json:"comment"`
	CreatedByDisplayName string    `json:"createdByDisplayName"`
	CreatedDateTime      time.Time `json:"createdDateTime"`
}

// Query selects alerts_v2 alerts.
type Query struct {
	// Since keeps alerts updated at or after it (lastUpdateDateTime ge);
	// zero for all.
	Since time.Time
	// Filter is an OData $filter the caller adds, such as
	// serviceSource eq 'microsoftDefenderForCloud'.
	Filter string
}

// filter combines Since and the caller's filter. The caller's goes in
// parentheses, so that an "or" in it cannot escape the Since condition.
func (q Query) filter() string {
	var parts []string
	if !q.Since.IsZero() {
		parts = append(parts, "lastUpdateDateTime ge "+odataTime(q.Since))
	}
	if f := strings.TrimSpace(q.Filter); f != "" {
		parts = append(parts, "("+f+")")
	}
	return strings.Join(parts, " and ")
}

// AlertsV2 lists the alerts q selects, following @odata.nextLink to the
// end. An alert that cannot be decoded is logged and skipped.
func (c *Client) AlertsV2(ctx context.Context, q Query) ([]AlertV2, error) {
	var out []AlertV2
	err := c.list(ctx, c.listURL("/security/alerts_v2", q.filter(), c.pageSize), func(raw json.RawMessage) {
		var a AlertV2
		if err := json.Unmarshal(raw, &a); err != nil {
			c.log.Warn("skipping undecodable alerts_v2 alert", "err", err)
			return
		}
		a.Raw = raw
		out = append(out, a)
	})
	if err != nil {
		return nil, fmt.Errorf("list alerts_v2: %w", err)
	}
	return out, nil
}

// LegacyAlert is a microsoft.graph.alert of the legacy security/alerts
// API, with the fields vigil uses. Its id is the provider's own (for
// Defender for Cloud, the alert name).
type LegacyAlert struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Category    string `json:"category"`
	Severity    string `json:"severity"`
	// Status is newAlert, inProgress or resolved.
	Status string `json:"status"`
	// Feedback is truePositive, falsePositive or benignPositive, or empty.
	Feedback             string            `json:"feedback"`
	AssignedTo           string            `json:"assignedTo"`
	AzureSubscriptionID  string            `json:"azureSubscriptionId"`
	AzureTenantID        string            `json:"azureTenantId"`
	CreatedDateTime      Timestamp         `json:"createdDateTime"`
	EventDateTime        Timestamp         `json:"eventDateTime"`
	LastModifiedDateTime Timestamp         `json:"lastModifiedDateTime"`
	ClosedDateTime       Timestamp         `json:"closedDateTime"`
	Comments             []string          `json:"comments"`
	IncidentIDs          []string          `json:"incidentIds"`
	VendorInformation    VendorInformation `json:"vendorInformation"`
	HostStates           []struct {
		FQDN             string `json:"fqdn"`
		NetBiosName      string `json:"netBiosName"`
		PrivateIPAddress string `json:"privateIpAddress"`
		PublicIPAddress  string `json:"publicIpAddress"`
	} `json:"hostStates"`
	UserStates []struct {
		AccountName       string `json:"accountName"`
		DomainName        string `json:"domainName"`
		UserPrincipalName string `json:"userPrincipalName"`
		LogonIP           string `json:"logonIp"`
	} `json:"userStates"`
	NetworkConnections []struct {
		SourceAddress      string `json:"sourceAddress"`
		DestinationAddress string `json:"destinationAddress"`
		DestinationDomain  string `json:"destinationDomain"`
		DestinationURL     string `json:"destinationUrl"`
	} `json:"networkConnections"`
	FileStates []struct {
		Name     string `json:"name"`
		FileHash *struct {
			HashType  string `json:"hashType"`
			HashValue string `json:"hashValue"`
		} `json:"fileHash"`
	} `json:"fileStates"`
	SecurityResources []struct {
		Resource     string `json:"resource"`
		ResourceType string `json:"resourceType"`
	} `json:"securityResources"`
	// SourceMaterials link to the alert in its provider's portal; a
	// Defender for Cloud link names the Defender alert (".../alertId/{name}/...").
	SourceMaterials []string `json:"sourceMaterials"`

	Raw json.RawMessage `json:"-"`
}

// VendorInformation names the provider behind a legacy alert. Updates must
// carry it: Graph routes them to that provider.
type VendorInformation struct {
	Provider        string `json:"provider"`
	ProviderVersion string `json:"providerVersion,omitempty"`
	SubProvider     string `json:"subProvider,omitempty"`
	Vendor          string `json:"vendor"`
}

// Timestamp is a legacy alert time. The providers behind the legacy API
// do not agree on one layout (some omit the zone), and the docs' example
// holds placeholders; a time that cannot be read is left zero instead of
// failing the whole page.
type Timestamp struct{ time.Time }

// timestampLayouts are tried in order; a time without a zone is UTC.
var timestampLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"}

// UnmarshalJSON reads a time, leniently.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	t.Time = time.Time{}
	var s string
	if json.Unmarshal(b, &s) != nil {
		return nil // null or not a string
	}
	for _, l := range timestampLayouts {
		if v, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return nil
}

// MarshalJSON writes RFC 3339, or null for the zero time.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.Time)
}

// LegacyQuery selects legacy alerts.
type LegacyQuery struct {
	// Since keeps alerts modified at or after it (lastModifiedDateTime ge);
	// zero for all.
	Since time.Time
	// Provider keeps one provider's alerts (vendorInformation/provider),
	// such as "ASC" for Defender for Cloud; empty for every provider.
	Provider string
}

func (q LegacyQuery) filter() string {
	var parts []string
	if q.Provider != "" {
		parts = append(parts, "vendorInformation/provider eq "+odataString(q.Provider))
	}
	if !q.Since.IsZero() {
		parts = append(parts, "lastModifiedDateTime ge "+odataTime(q.Since))
	}
	return strings.Join(parts, " and ")
}

// LegacyAlerts lists the legacy alerts q selects, following nextLinks.
func (c *Client) LegacyAlerts(ctx context.Context, q LegacyQuery) ([]LegacyAlert, error) {
	var out []LegacyAlert
	err := c.list(ctx, c.listURL("/security/alerts", q.filter(), c.legacyPageSize), func(raw json.RawMessage) {
		var a LegacyAlert
		if err := json.Unmarshal(raw, &a); err != nil {
			c.log.Warn("skipping undecodable legacy alert", "err", err)
			return
		}
		a.Raw = raw
		out = append(out, a)
	})
	if err != nil {
		return nil, fmt.Errorf("list legacy alerts: %w", err)
	}
	return out, nil
}

// maxPages stops a service that keeps answering with a nextLink.
const maxPages = 10000

// list reads a collection page by page, passing each item to each.
func (c *Client) list(ctx context.Context, first string, each func(json.RawMessage)) error {
	base, _ := url.Parse(c.base)
	next := first
	for pages := 0; next != ""; pages++ {
		if pages == maxPages {
			return fmt.Errorf("graph: more than %d pages", maxPages)
		}
		data, err := c.do(ctx, call{method: http.MethodGet, url: next})
		if err != nil {
			return err
		}
		var page struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(data, &page); err != nil {
			return fmt.Errorf("graph: decode page: %w", err)
		}
		for _, raw := range page.Value {
			each(raw)
		}
		if page.NextLink == "" {
			return nil
		}
		u, err := base.Parse(page.NextLink)
		if err != nil {
			return fmt.Errorf("graph: nextLink %q: %w", page.NextLink, err)
		}
		// The bearer token goes wherever the nextLink points; it must
		// not leave Graph.
		if !strings.EqualFold(u.Host, c.host) || u.Scheme != "https" {
			return fmt.Errorf("graph: nextLink leaves %s: %s", c.host, u.Redacted())
		}
		if u.String() == next {
			return fmt.Errorf("graph: nextLink repeats the page it is on")
		}
		next = u.String()
	}
	return nil
}

// listURL is a collection URL with $filter and $top.
func (c *Client) listURL(path, filter string, top int) string {
	q := url.Values{"$top": {strconv.Itoa(top)}}
	if filter != "" {
		q.Set("$filter", filter)
	}
	return c.base + path + "?" + odataQuery(q)
}

// odataQuery encodes a query as Graph's own nextLinks do: "$" kept and
// spaces as %20, because OData servers do not all read "+" as a space.
func odataQuery(q url.Values) string {
	var b strings.Builder
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(strings.ReplaceAll(url.QueryEscape(k), "%24", "$"))
			b.WriteByte('=')
			b.WriteString(strings.ReplaceAll(url.QueryEscape(v), "+", "%20"))
		}
	}
	return b.String()
}

// odataTime is a DateTimeOffset literal. Graph keeps seven fractional
// digits; truncating to them only makes "ge" include a little more.
func odataTime(t time.Time) string {
	return t.UTC().Truncate(100 * time.Nanosecond).Format("2006-01-02T15:04:05.0000000Z")
}

// odataString is a string literal, quotes doubled.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
