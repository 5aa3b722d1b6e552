package readmetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// block is one fenced shell block of the section and whether the walk
// runs it.
type block struct {
	line int
	walk bool
	text string
}

// section returns the blocks of the README section with the given
// heading. Every block must carry a marker on the line before its fence:
// <!-- walk --> runs it, <!-- walk: skip (why) --> does not. A block
// without one is an error, so a step added later cannot escape the walk
// unnoticed.
func section(readme, heading string) ([]block, error) {
	lines := strings.Split(readme, "\n")
	start := -1
	for i, l := range lines {
		if l == heading {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("README has no %q heading", heading)
	}
	var blocks []block
	for i := start + 1; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "## ") {
			break
		}
		if !strings.HasPrefix(l, "```") {
			continue
		}
		marker := ""
		for j := i - 1; j > start; j-- {
			if t := strings.TrimSpace(lines[j]); t != "" {
				marker = t
				break
			}
		}
		b := block{line: i + 1}
		switch {
		case marker == "<!-- walk -->":
			b.walk = true
		case strings.HasPrefix(marker, "<!-- walk: skip"):
		default:
			return nil, fmt.Errorf("README.md:%d: a block in %q without a <!-- walk --> or <!-- walk: skip (why) --> marker", i+1, heading)
		}
		if lang := strings.TrimPrefix(l, "```"); b.walk && lang != "sh" {
			return nil, fmt.Errorf("README.md:%d: a walked block must be ```sh, is %q", i+1, l)
		}
		var body []string
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			body = append(body, lines[i])
		}
		b.text = strings.Join(body, "\n")
		blocks = append(blocks, b)
	}
	return blocks, nil
}

func readREADME() (string, error) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	return string(b), err
}
