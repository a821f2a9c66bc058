package telegramtest

import (
	"fmt"
	"strconv"
	"strings"
)

// htmlTags are the tags Telegram's HTML parse mode knows.
var htmlTags = map[string]bool{
	"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true,
	"s": true, "strike": true, "del": true, "a": true, "code": true, "pre": true,
	"span": true, "tg-spoiler": true, "tg-emoji": true, "blockquote": true,
}

var htmlEntities = map[string]string{"lt": "<", "gt": ">", "amp": "&", "quot": `"`}

// parseText turns a text sent with parse_mode into the plain text Telegram
// shows, refusing markup it would refuse.
func parseText(s, mode string) (string, error) {
	switch strings.ToLower(mode) {
	case "":
		return s, nil
	case "html":
		return parseHTML(s)
	case "markdown", "markdownv2":
		return s, nil // not validated: orderbot sends HTML
	}
	return "", fmt.Errorf("unsupported parse_mode %q", mode)
}

// parseHTML strips the tags and decodes the entities of Telegram HTML. Like
// Telegram it refuses a '<', '>' or '&' that is not part of a known tag or
// entity, and tags that do not nest.
func parseHTML(s string) (string, error) {
	var out strings.Builder
	var open []string
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case '<':
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				return "", fmt.Errorf("can't parse entities: Unclosed start tag at byte offset %d", i)
			}
			tag := s[i+1 : i+end]
			closing := strings.HasPrefix(tag, "/")
			tag = strings.TrimPrefix(tag, "/")
			name, _, _ := strings.Cut(tag, " ")
			name = strings.ToLower(name)
			if !htmlTags[name] {
				if closing {
					return "", fmt.Errorf("can't parse entities: Unexpected end tag at byte offset %d", i)
				}
				return "", fmt.Errorf("can't parse entities: Unsupported start tag %q at byte offset %d", name, i)
			}
			if closing {
				if len(open) == 0 || open[len(open)-1] != name {
					return "", fmt.Errorf("can't parse entities: Unexpected end tag at byte offset %d", i)
				}
				open = open[:len(open)-1]
			} else {
				open = append(open, name)
			}
			i += end + 1
		case '>':
			return "", fmt.Errorf("can't parse entities: Unexpected end of name token at byte offset %d", i)
		case '&':
			end := strings.IndexByte(s[i:], ';')
			if end < 0 || end > 12 {
				return "", fmt.Errorf("can't parse entities: Character entity expected at byte offset %d", i)
			}
			ent := s[i+1 : i+end]
			if v, ok := htmlEntities[ent]; ok {
				out.WriteString(v)
			} else if num, ok := strings.CutPrefix(ent, "#"); ok {
				base := 10
				if hex, ok := strings.CutPrefix(num, "x"); ok {
					num, base = hex, 16
				}
				n, err := strconv.ParseUint(num, base, 32)
				if err != nil || n == 0 || n > 0x10FFFF {
					return "", fmt.Errorf("can't parse entities: Invalid character entity at byte offset %d", i)
				}
				out.WriteRune(rune(n))
			} else {
				return "", fmt.Errorf("can't parse entities: Unsupported HTML entity at byte offset %d", i)
			}
			i += end + 1
		default:
			out.WriteByte(c)
			i++
		}
	}
	if len(open) > 0 {
		return "", fmt.Errorf("can't parse entities: Can't find end tag corresponding to start tag %q", open[len(open)-1])
	}
	return out.String(), nil
}
