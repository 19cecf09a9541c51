package defender

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity"
)

// Defender for Cloud recommendations are read as Microsoft.Security/
// assessments at api-version 2021-06-01, through the same azcore pipeline
// (credential, retries on 429 with Retry-After, token renewal) as the
// alerts. armsecurity v0.15.0's AssessmentsClient speaks 2025-05-04, a
// version whose answers Microsoft publishes no examples for; the REST
// examples are 2021-06-01, so the reads are plain REST at that version.
// Governance assignments use armsecurity's GovernanceAssignmentsClient
// (2022-01-01-preview, the version of its examples).
const (
	AssessmentsAPIVersion = "2021-06-01"
	// RecommendationSource is the alert source of recommendation alerts:
	// one alert per assessment (recommendation and resource).
	RecommendationSource = "defender-recommendation"
	// maxAssessmentPages bounds one listing, against a nextLink loop.
	maxAssessmentPages = 10000
)

// Assessment status codes.
const (
	AssessmentHealthy       = "Healthy"
	AssessmentUnhealthy     = "Unhealthy"
	AssessmentNotApplicable = "NotApplicable"
)

// Assessment is one recommendation's result for one resource.
type Assessment struct {
	// ID is the assessment's ARM id: {resourceId}/providers/
	// Microsoft.Security/assessments/{name}.
	ID string `json:"id"`
	// Name is the recommendation's assessment key, the same on every
	// resource it assesses.
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	ResourceID  string `json:"resourceId"`
	Status      string `json:"status"`
	Cause       string `json:"cause,omitempty"`
	// StatusChanged is when the status last changed (zero when the
	// service did not say).
	StatusChanged time.Time `json:"statusChangeDate,omitzero"`
	// From $expand=metadata, when read.
	Severity    string `json:"severity,omitempty"`
	Description string `json:"description,omitempty"`
	Remediation string `json:"remediation,omitempty"`
}

// Recommendations reads one subscription's assessments and writes their
// governance assignments.
type Recommendations struct {
	sub string
	arm *arm.Client
	gov *armsecurity.GovernanceAssignmentsClient

	mu   sync.Mutex
	meta map[string]Assessment // by assessment name: metadata read once
}

// NewRecommendations signs in as New does. Reads retry throttling
// inside azcore (honouring Retry-After); governance writes do not retry
// there: the outbox retries them with its own backoff.
func NewRecommendations(cfg Config) (*Recommendations, error) {
	cred, opts, err := signIn(cfg)
	if err != nil {
		return nil, err
	}
	a, err := arm.NewClient("vigil/defender-assessments", "v1.0.0", cred, &arm.ClientOptions{ClientOptions: opts})
	if err != nil {
		return nil, fmt.Errorf("defender assessments client: %w", err)
	}
	wopts := opts
	wopts.Retry = policy.RetryOptions{MaxRetries: -1}
	g, err := armsecurity.NewGovernanceAssignmentsClient(cred, &arm.ClientOptions{ClientOptions: wopts})
	if err != nil {
		return nil, fmt.Errorf("defender governance client: %w", err)
	}
	return &Recommendations{sub: cfg.SubscriptionID, arm: a, gov: g, meta: map[string]Assessment{}}, nil
}

// Subscription is the subscription read.
func (r *Recommendations) Subscription() string { return r.sub }

// Assessments lists every assessment of the subscription, following
// nextLink.
func (r *Recommendations) Assessments(ctx context.Context) ([]Assessment, error) {
	next := runtime.JoinPaths(r.arm.Endpoint(), "/subscriptions/"+url.PathEscape(r.sub)+"/providers/Microsoft.Security/assessments") +
		"?api-version=" + AssessmentsAPIVersion
	var out []Assessment
	for range maxAssessmentPages {
		b, err := r.get(ctx, next)
		if err != nil {
			return nil, fmt.Errorf("list defender assessments: %w", err)
		}
		page, link, err := ParseAssessmentsPage(b)
		if err != nil {
			return nil, fmt.Errorf("list defender assessments: %w", err)
		}
		out = append(out, page...)
		if link == "" {
			return out, nil
		}
		// A nextLink elsewhere would carry the bearer token there.
		if !sameOrigin(link, r.arm.Endpoint()) {
			return nil, fmt.Errorf("list defender assessments: nextLink %q is not on %s", link, r.arm.Endpoint())
		}
		next = link
	}
	return nil, fmt.Errorf("list defender assessments: more than %d pages", maxAssessmentPages)
}

// WithMetadata fills severity, description and remediation from the
// recommendation's metadata ($expand=metadata), read once per
// recommendation for as long as r lives.
func (r *Recommendations) WithMetadata(ctx context.Context, a Assessment) (Assessment, error) {
	r.mu.Lock()
	m, ok := r.meta[a.Name]
	r.mu.Unlock()
	if !ok {
		u := runtime.JoinPaths(r.arm.Endpoint(), a.ID) + "?api-version=" + AssessmentsAPIVersion + "&$expand=metadata"
		b, err := r.get(ctx, u)
		if err != nil {
			return a, fmt.Errorf("read assessment metadata %s: %w", a.Name, err)
		}
		if m, err = ParseAssessment(b); err != nil {
			return a, fmt.Errorf("read assessment metadata %s: %w", a.Name, err)
		}
		r.mu.Lock()
		r.meta[a.Name] = m
		r.mu.Unlock()
	}
	a.Severity, a.Description, a.Remediation = m.Severity, m.Description, m.Remediation
	return a, nil
}

func (r *Recommendations) get(ctx context.Context, u string) ([]byte, error) {
	req, err := runtime.NewRequest(ctx, http.MethodGet, u)
	if err != nil {
		return nil, err
	}
	req.Raw().Header.Set("Accept", "application/json")
	resp, err := r.arm.Pipeline().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if !runtime.HasStatusCode(resp, http.StatusOK) {
		return nil, runtime.NewResponseError(resp)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
}

func sameOrigin(link, endpoint string) bool {
	l, err1 := url.Parse(link)
	e, err2 := url.Parse(endpoint)
	return err1 == nil && err2 == nil && strings.EqualFold(l.Scheme, e.Scheme) && strings.EqualFold(l.Host, e.Host)
}

// wireAssessment is Microsoft.Security/assessments 2021-06-01 as read.
type wireAssessment struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties *struct {
		ResourceDetails struct {
			ID string `json:"id"`
		} `json:"resourceDetails"`
		DisplayName string `json:"displayName"`
		Status      struct {
			Code             string `json:"code"`
			Cause            string `json:"cause"`
			StatusChangeDate string `json:"statusChangeDate"`
		} `json:"status"`
		Metadata *struct {
			Severity               string `json:"severity"`
			Description            string `json:"description"`
			RemediationDescription string `json:"remediationDescription"`
		} `json:"metadata"`
	} `json:"properties"`
}

// ParseAssessmentsPage reads one page of an assessment listing: its
// assessments and its nextLink. An assessment without an id, a name or
// properties fails the page: acting on part of it could close items whose
// assessment was merely unreadable.
func ParseAssessmentsPage(b []byte) ([]Assessment, string, error) {
	var page struct {
		Value    []json.RawMessage `json:"value"`
		NextLink string            `json:"nextLink"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		return nil, "", fmt.Errorf("assessment page: %w", err)
	}
	out := make([]Assessment, 0, len(page.Value))
	for i, raw := range page.Value {
		a, err := ParseAssessment(raw)
		if err != nil {
			return nil, "", fmt.Errorf("assessment %d: %w", i, err)
		}
		out = append(out, a)
	}
	return out, page.NextLink, nil
}

// ParseAssessment reads one assessment.
func ParseAssessment(b []byte) (Assessment, error) {
	var w wireAssessment
	if err := json.Unmarshal(b, &w); err != nil {
		return Assessment{}, fmt.Errorf("assessment: %w", err)
	}
	if w.ID == "" || w.Name == "" || w.Properties == nil {
		return Assessment{}, fmt.Errorf("assessment without id, name or properties")
	}
	suffix := "/providers/Microsoft.Security/assessments/" + w.Name
	if !strings.HasSuffix(strings.ToLower(w.ID), strings.ToLower(suffix)) {
		return Assessment{}, fmt.Errorf("assessment id %q does not end with its name", w.ID)
	}
	p := w.Properties
	a := Assessment{ID: w.ID, Name: w.Name, DisplayName: p.DisplayName, ResourceID: p.ResourceDetails.ID,
		Status: p.Status.Code, Cause: p.Status.Cause}
	if a.ResourceID == "" {
		a.ResourceID = w.ID[:len(w.ID)-len(suffix)]
	}
	if a.DisplayName == "" {
		a.DisplayName = w.Name
	}
	switch a.Status {
	case AssessmentHealthy, AssessmentUnhealthy, AssessmentNotApplicable:
	default:
		return Assessment{}, fmt.Errorf("assessment %s: unknown status %q", w.Name, a.Status)
	}
	if t, err := time.Parse(time.RFC3339Nano, p.Status.StatusChangeDate); err == nil {
		a.StatusChanged = t.UTC()
	}
	if m := p.Metadata; m != nil {
		a.Severity, a.Description, a.Remediation = m.Severity, m.Description, m.RemediationDescription
	}
	return a, nil
}
