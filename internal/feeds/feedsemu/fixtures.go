package feedsemu

import "embed"

// Fixtures are the official fixture files the emulators are built from.
//
//go:embed fixtures
var Fixtures embed.FS
