package dialog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"orderbot/orders"
)

// FAQ limits. A question is shown on a button, and Slack cuts button texts
// at 75 characters; an answer must fit in one chat message.
const (
	MaxFAQQuestionLen = 75
	MaxFAQAnswerLen   = 2000
	maxFAQIDLen       = 32
	maxFAQBytes       = 1 << 20
)

// FAQEntry is one question of the help menu and its answer.
type FAQEntry struct {
	ID       string // short and stable: buttons carry it
	Question orders.Text
	Answer   orders.Text
}

// ParseFAQ reads a list of questions and answers in the YAML format of
// configs/faq.yaml:
//
//	# one entry per question, in menu order
//	- id: delivery
//	  question: {en: "How long does delivery take?", zh: "多久能送到？"}
//	  answer: {en: "...", zh: "..."}
//
// IDs are unique, made of lower-case letters, digits, '_' and '-'; every
// question and answer has non-empty English and Chinese texts. Errors are
// *orders.Error with code EINVALID naming the line, e.g. `faq.yaml line 7:
// question of "cancel" has no zh text`; the file name is known when r has a
// Name method, as *os.File does.
func ParseFAQ(r io.Reader) ([]FAQEntry, error) {
	name := "faq"
	if n, ok := r.(interface{ Name() string }); ok && n.Name() != "" {
		name = n.Name()
	}
	errAt := func(line int, format string, args ...any) error {
		return orders.Errorf(orders.EINVALID, "%s line %d: %s", name, max(line, 1), fmt.Sprintf(format, args...))
	}
	data, err := io.ReadAll(io.LimitReader(r, maxFAQBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > maxFAQBytes {
		return nil, orders.Errorf(orders.EINVALID, "%s is larger than %d KiB", name, maxFAQBytes>>10)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, orders.Errorf(orders.EINVALID, "%s is empty", name)
		}
		return nil, yamlError(name, err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, errAt(more.Line, "only one YAML document is allowed")
	}
	if len(doc.Content) != 1 {
		return nil, orders.Errorf(orders.EINVALID, "%s is empty", name)
	}
	root := doc.Content[0]
	if root.Kind != yaml.SequenceNode {
		return nil, errAt(root.Line, "the FAQ must be a list of entries (- id: ...)")
	}
	if len(root.Content) == 0 {
		return nil, errAt(root.Line, "the FAQ has no entries")
	}

	var entries []FAQEntry
	seen := map[string]int{} // id → line
	for _, item := range root.Content {
		if item.Kind != yaml.MappingNode {
			return nil, errAt(item.Line, "an entry must be a mapping with id, question and answer")
		}
		var e FAQEntry
		fields := map[string]*yaml.Node{}
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			switch {
			case k.Kind != yaml.ScalarNode:
				return nil, errAt(k.Line, "an entry has a key that is not a plain name")
			case k.Value != "id" && k.Value != "question" && k.Value != "answer":
				return nil, errAt(k.Line, "unknown field %q (known: id, question, answer)", k.Value)
			case fields[k.Value] != nil:
				return nil, errAt(k.Line, "%q appears twice in an entry", k.Value)
			case v.Kind == yaml.AliasNode || v.Anchor != "":
				return nil, errAt(v.Line, "YAML anchors and aliases are not supported in the FAQ")
			}
			fields[k.Value] = v
		}
		idn := fields["id"]
		if idn == nil {
			return nil, errAt(item.Line, `an entry has no "id"`)
		}
		if idn.Kind != yaml.ScalarNode || idn.ShortTag() == "!!null" {
			return nil, errAt(idn.Line, "id must be a single word")
		}
		e.ID = idn.Value
		if !validFAQID(e.ID) {
			return nil, errAt(idn.Line, "id %q must be 1 to %d lower-case letters, digits, '_' or '-'", e.ID, maxFAQIDLen)
		}
		if prev, dup := seen[e.ID]; dup {
			return nil, errAt(idn.Line, "id %q is used twice (first on line %d)", e.ID, prev)
		}
		seen[e.ID] = idn.Line
		for _, f := range []struct {
			name   string
			maxLen int
			dst    *orders.Text
		}{{"question", MaxFAQQuestionLen, &e.Question}, {"answer", MaxFAQAnswerLen, &e.Answer}} {
			n := fields[f.name]
			if n == nil {
				return nil, errAt(item.Line, "entry %q has no %q", e.ID, f.name)
			}
			t, err := faqText(n, f.maxLen, func(line int, problem string) error {
				return errAt(line, "%s of %q %s", f.name, e.ID, problem)
			})
			if err != nil {
				return nil, err
			}
			*f.dst = t
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// faqText reads a {lang: text} mapping and checks it has every FAQ language.
func faqText(n *yaml.Node, maxLen int, fail func(line int, problem string) error) (orders.Text, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fail(n.Line, "must be texts by language, like {en: ..., zh: ...}")
	}
	t := orders.Text{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode || v.Anchor != "" || k.Anchor != "" {
			return nil, fail(k.Line, "must map each language to one text")
		}
		if _, dup := t[k.Value]; dup {
			return nil, fail(k.Line, fmt.Sprintf("has %q twice", k.Value))
		}
		s := strings.TrimSpace(v.Value)
		if v.ShortTag() == "!!null" {
			s = ""
		}
		switch {
		case s == "":
			return nil, fail(v.Line, fmt.Sprintf("has an empty %s text", k.Value))
		case !utf8.ValidString(s):
			return nil, fail(v.Line, fmt.Sprintf("(%s) is not valid UTF-8", k.Value))
		case utf8.RuneCountInString(s) > maxLen:
			return nil, fail(v.Line, fmt.Sprintf("(%s) is longer than %d characters", k.Value, maxLen))
		}
		t[k.Value] = s
	}
	for _, lang := range [...]string{"en", "zh"} { // the languages the bot speaks
		if t[lang] == "" {
			return nil, fail(n.Line, fmt.Sprintf("has no %s text", lang))
		}
	}
	return t, nil
}

// yamlError rewords a yaml.v3 syntax error as "name line N: problem". For
// parser (not scanner) problems yaml.v3 reports the 0-based line of the
// enclosing construct, hence the +1.
func yamlError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr != nil {
		return orders.Errorf(orders.EINVALID, "%s: %s", name, msg)
	}
	_, msg, _ = strings.Cut(msg, ": ")
	switch msg {
	case "did not find expected ',' or '}'", "did not find expected ',' or ']'", "did not find expected key",
		"did not find expected '-' indicator", "did not find expected node content", "did not find expected <document start>":
		line++
	}
	return orders.Errorf(orders.EINVALID, "%s line %d: %s", name, line, msg)
}

func validFAQID(s string) bool {
	if s == "" || len(s) > maxFAQIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || (b == '_' || b == '-') && i > 0) {
			return false
		}
	}
	return true
}
