package twilioemu

import (
	"encoding/hex"
	"strconv"
	"time"
	"unicode/utf8"
)

// messageResource is shaped key by key like messages_create_response_201.json.
type messageResource struct {
	AccountSID          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                string            `json:"from"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           *string           `json:"price_unit"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	SID                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

func (s *Server) messageResource(m Message, numMedia int, serviceSID string) messageResource {
	base := "/" + apiVersion + "/Accounts/" + s.accountSID + "/Messages/" + m.SID
	date := m.At.UTC().Format(twilioTime)
	r := messageResource{
		AccountSID: s.accountSID, APIVersion: apiVersion, Body: m.Body,
		DateCreated: date, DateUpdated: date, Direction: "outbound-api",
		From: m.From, NumMedia: strconv.Itoa(numMedia), NumSegments: strconv.Itoa(segments(m.Body)),
		SID: m.SID, Status: m.Status, To: m.To, URI: base + ".json",
		SubresourceURIs: map[string]string{"media": base + "/Media.json"},
	}
	if m.Status != "queued" && m.Status != "accepted" {
		r.DateSent = &date
	}
	if m.Status == "undelivered" || m.Status == "failed" {
		code, msg := 30003, "Unreachable destination handset"
		r.ErrorCode, r.ErrorMessage = &code, &msg
	}
	if serviceSID != "" {
		r.MessagingServiceSID = &serviceSID
	}
	return r
}

// segments estimates how many SMS segments body takes: 160/153 GSM-7
// characters, 70/67 for anything beyond ASCII (UCS-2).
func segments(body string) int {
	n, single, multi := utf8.RuneCountInString(body), 160, 153
	for _, r := range body {
		if r > 0x7f {
			single, multi = 70, 67
			break
		}
	}
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

// callResource is shaped key by key like calls_create_response_201.json.
type callResource struct {
	AccountSID      string            `json:"account_sid"`
	AnsweredBy      *string           `json:"answered_by"`
	APIVersion      string            `json:"api_version"`
	CallerName      *string           `json:"caller_name"`
	DateCreated     string            `json:"date_created"`
	DateUpdated     string            `json:"date_updated"`
	Direction       string            `json:"direction"`
	Duration        *string           `json:"duration"`
	EndTime         *string           `json:"end_time"`
	ForwardedFrom   *string           `json:"forwarded_from"`
	From            string            `json:"from"`
	FromFormatted   string            `json:"from_formatted"`
	GroupSID        *string           `json:"group_sid"`
	ParentCallSID   *string           `json:"parent_call_sid"`
	PhoneNumberSID  string            `json:"phone_number_sid"`
	Price           *string           `json:"price"`
	PriceUnit       string            `json:"price_unit"`
	SID             string            `json:"sid"`
	StartTime       *string           `json:"start_time"`
	Status          string            `json:"status"`
	SubresourceURIs map[string]string `json:"subresource_uris"`
	To              string            `json:"to"`
	ToFormatted     string            `json:"to_formatted"`
	TrunkSID        *string           `json:"trunk_sid"`
	URI             string            `json:"uri"`
	QueueTime       string            `json:"queue_time"`
}

func (s *Server) callResource(c Call) callResource {
	base := "/" + apiVersion + "/Accounts/" + s.accountSID + "/Calls/" + c.SID
	date := c.At.UTC().Format(twilioTime)
	subs := map[string]string{}
	for _, k := range [][2]string{
		{"notifications", "Notifications"}, {"recordings", "Recordings"}, {"payments", "Payments"},
		{"events", "Events"}, {"siprec", "Siprec"}, {"streams", "Streams"}, {"transcriptions", "Transcriptions"},
		{"user_defined_message_subscriptions", "UserDefinedMessageSubscriptions"},
		{"user_defined_messages", "UserDefinedMessages"},
	} {
		subs[k[0]] = base + "/" + k[1] + ".json"
	}
	r := callResource{
		AccountSID: s.accountSID, APIVersion: apiVersion, DateCreated: date, DateUpdated: date,
		Direction: "outbound-api", From: c.From, FromFormatted: c.From,
		// A stable fake PN sid per From number (32 hex digits).
		PhoneNumberSID: "PN" + hex.EncodeToString([]byte(c.From + "0000000000000000")[:16]),
		PriceUnit:      "USD", SID: c.SID, Status: c.Status, To: c.To, ToFormatted: c.To,
		URI: base + ".json", QueueTime: "0", SubresourceURIs: subs,
	}
	switch c.Status {
	case "in-progress", "completed":
		r.StartTime = &date
	}
	if c.Status == "completed" {
		d := strconv.Itoa(int(s.CallDuration / time.Second))
		end := c.At.Add(s.CallDuration).UTC().Format(twilioTime)
		r.Duration, r.EndTime = &d, &end
	}
	return r
}
