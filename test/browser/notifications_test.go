package browser

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/twilio/twilioemu"
)

// TestMyNotificationsSMS: a responder adds their phone on "My
// notifications" with the keyboard and mouse, enters the code the phone
// (the Twilio emulator) received, and sends themselves a test text.
func TestMyNotificationsSMS(t *testing.T) {
	const phone = "+15551230009"
	emu := twilioemu.New("ACbrowser000000000000000000000001", "browser twilio token")
	u, err := emu.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	e := startWith(t, func(c *config.Config) {
		c.Paging.Twilio = config.Twilio{AccountSID: "ACbrowser000000000000000000000001", AuthToken: "browser twilio token",
			From: "+15005550006", APIURL: u}
		c.Paging.SMSProvider = "twilio"
	})
	ctx := browser(t, 1280, 1000)
	e.signIn(t, ctx, users[auth.RoleResponder])

	within(t, ctx, 20*time.Second, "add a phone",
		chromedp.Navigate(e.base+"/profile/notifications"),
		chromedp.WaitVisible(chromedp.ID("add-method")),
		chromedp.Focus(chromedp.CSS(`#add-method select[name=type]`)),
		chromedp.SendKeys(chromedp.CSS(`#add-method select[name=type]`), "sms"),
		chromedp.Click(chromedp.CSS(`#add-method input[name=value]`)),
		chromedp.SendKeys(chromedp.CSS(`#add-method input[name=value]`), "+1 555 123 0009"),
		chromedp.Click(chromedp.CSS(`#add-method input[name=name]`)),
		chromedp.SendKeys(chromedp.CSS(`#add-method input[name=name]`), "work phone"),
		chromedp.Click(chromedp.CSS(`#add-method button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#methods .unverified input[name=code]`)),
	)
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg, err := emu.WaitMessage(wctx, func(m twilioemu.Message) bool { return m.To == phone })
	if err != nil {
		t.Fatalf("the phone got no verification text: %v", err)
	}
	code := regexp.MustCompile(`\d{6}`).FindString(msg.Body)
	within(t, ctx, 20*time.Second, "verify the phone",
		chromedp.Click(chromedp.CSS(`#methods .unverified input[name=code]`)),
		chromedp.SendKeys(chromedp.CSS(`#methods .unverified input[name=code]`), code),
		chromedp.Click(chromedp.CSS(`#methods .unverified button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#methods .verified`)),
	)
	if got := text(t, ctx, "#methods"); !strings.Contains(got, phone) || !strings.Contains(got, "work phone") {
		t.Errorf("the methods table reads %q", got)
	}
	within(t, ctx, 20*time.Second, "send a test",
		chromedp.Click(chromedp.Search(`//button[normalize-space()="Send test"]`)),
		chromedp.WaitVisible(chromedp.ID("methods")),
	)
	if _, err := emu.WaitMessage(wctx, func(m twilioemu.Message) bool { return m.To == phone && strings.Contains(m.Body, "Test notification") }); err != nil {
		t.Fatalf("the phone got no test text: %v; texts %+v", err, emu.Messages())
	}
}
