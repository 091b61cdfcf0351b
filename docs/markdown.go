package docs

import (
	"embed"
	"strconv"
	"strings"
	"unicode"
)

// Files holds the pages of this directory, so that a test in another package (cmd/logctl's
// flag check) reads exactly the page this package guards, without locating the repository.
//
//go:embed *.md
var Files embed.FS

// Section is a heading of a Markdown page and the lines under it, up to the next heading of
// the same or a higher level (its subsections included).
type Section struct {
	Level int    // 1 for "#", 2 for "##", ...
	Title string // the heading's text, as written
	Lines []string
}

// Sections returns the sections of the page name of Files, in order.
func Sections(name string) ([]Section, error) {
	b, err := Files.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return ParseSections(string(b)), nil
}

// ParseSections returns the sections of the Markdown text, in order. Lines in fenced code
// blocks are never headings.
func ParseSections(text string) []Section {
	var out []Section
	var open []int // indices in out of the sections still open, outermost first
	fence := false
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
		}
		level, title := 0, ""
		if !fence {
			level, title = heading(line)
		}
		for level > 0 && len(open) > 0 && out[open[len(open)-1]].Level >= level {
			open = open[:len(open)-1]
		}
		for _, i := range open {
			out[i].Lines = append(out[i].Lines, line)
		}
		if level > 0 {
			out = append(out, Section{Level: level, Title: title})
			open = append(open, len(out)-1)
		}
	}
	return out
}

// heading returns the level and text of an ATX heading line ("## Title"), or 0.
func heading(line string) (int, string) {
	level := 0
	for level < len(line) && line[level] == '#' {
		level++
	}
	if level == 0 || level > 6 || level == len(line) || line[level] != ' ' {
		return 0, ""
	}
	return level, strings.TrimSpace(line[level+1:])
}

// Anchor returns the anchor GitHub gives a heading: lower case, spaces as hyphens, other
// punctuation than hyphens and underscores dropped ("Every binary" → "every-binary").
func Anchor(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Anchors returns the anchors of every heading of the Markdown text, a repeated one with
// GitHub's "-1", "-2"... suffixes.
func Anchors(text string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, s := range ParseSections(text) {
		a := Anchor(s.Title)
		if n := seen[a]; n > 0 {
			seen[a]++
			a += "-" + strconv.Itoa(n)
		} else {
			seen[a] = 1
		}
		out[a] = true
	}
	return out
}

// TableRows returns the cells of the rows of the Markdown tables in lines whose first cell
// is in backquotes (a key, a flag, a metric), by that cell without its backquotes. Header
// and separator rows are left out.
func TableRows(lines []string) map[string][]string {
	rows := map[string][]string{}
	for _, l := range lines {
		if !strings.HasPrefix(l, "|") || strings.HasPrefix(l, "|-") || strings.HasPrefix(l, "|:") {
			continue
		}
		cells := splitRow(l)
		if !strings.HasPrefix(cells[0], "`") {
			continue // a header
		}
		rows[strings.Trim(cells[0], "`")] = cells
	}
	return rows
}

// splitRow splits a Markdown table row into trimmed cells; `\|` is a | inside a cell.
func splitRow(l string) []string {
	l = strings.Trim(strings.TrimSpace(l), "|")
	l = strings.ReplaceAll(l, `\|`, "\x00")
	var cells []string
	for c := range strings.SplitSeq(l, "|") {
		cells = append(cells, strings.ReplaceAll(strings.TrimSpace(c), "\x00", "|"))
	}
	return cells
}
