package ui

import (
	"bytes"

	"github.com/vigil-soc/vigil/internal/workitem"
)

// CardBothWays renders an item's card with cardView.HTML, through the
// "card" template (as pages do) and with the "card-template" markup that
// HTML must reproduce, as seen by the user me.
func (u *UI) CardBothWays(it workitem.Item, me string, canMove bool, csrf string) (fast, viaCard, reference string, err error) {
	c := u.card1(it, me, u.moves()[it.State], canMove, csrf)
	var a, b bytes.Buffer
	if err := u.tmpl.ExecuteTemplate(&a, "card", c); err != nil {
		return "", "", "", err
	}
	if err := u.tmpl.ExecuteTemplate(&b, "card-template", c); err != nil {
		return "", "", "", err
	}
	return string(c.HTML()), a.String(), b.String(), nil
}
