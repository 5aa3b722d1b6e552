package config

// Report records one problem at a field path, such as
// "purposes[1].allow.rules[0].expr", in the same list as the file's own
// problems.
type Report func(path, format string, args ...any)

// A Check judges what this package cannot on its own: policy expressions,
// identity formats, identity-provider settings, key encodings. The domain
// packages own those rules; the wiring passes them in through
// Options.Checks, so this package stays a leaf and every problem is still
// reported at once, at its field.
type Check func(c *Config, report Report)
