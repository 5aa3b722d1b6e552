// Package cmdtree holds what every broker command shares on top of cobra:
// the help layout, exit codes carried through cobra's errors, usage
// mistakes reported on one line, and command groups that refuse unknown
// subcommands instead of printing help and exiting 0.
package cmdtree
