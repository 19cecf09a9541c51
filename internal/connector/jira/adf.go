package jira

import "strings"

// Atlassian Document Format, the rich-text JSON that API v3 takes for
// descriptions and comments
// (https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/).
// vigil writes plain text only: one paragraph per line.

type adfNode struct {
	Type    string    `json:"type"`
	Version int       `json:"version,omitempty"`
	Text    string    `json:"text,omitempty"`
	Content []adfNode `json:"content,omitempty"`
}

// adfDoc turns plain text into a document. Blank lines are dropped:
// ADF rejects an empty text node, and a paragraph already sets lines apart.
func adfDoc(text string) adfNode {
	doc := adfNode{Type: "doc", Version: 1, Content: []adfNode{}}
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		doc.Content = append(doc.Content, adfNode{Type: "paragraph", Content: []adfNode{{Type: "text", Text: line}}})
	}
	return doc
}

// adfText is the text of a document, its blocks one per line, for
// finding a marker whatever formatting a Jira user or app added.
func adfText(n adfNode) string {
	var b strings.Builder
	var walk func(adfNode)
	walk = func(n adfNode) {
		b.WriteString(n.Text)
		for _, c := range n.Content {
			walk(c)
		}
		if n.Type == "paragraph" || n.Type == "hardBreak" {
			b.WriteByte('\n')
		}
	}
	walk(n)
	return b.String()
}
