// Package configref generates docs/configuration.md, the configuration
// reference, from the configuration types themselves: every key by
// reflection over internal/config's structs and their json tags, its
// description from the field's doc comment, its default from a loaded
// configuration that leaves it out. A test fails when the file and the
// code disagree, so the reference follows every type change by itself;
// "make config-reference" rewrites it.
package configref
