package slackfake

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// blockError is a Block Kit error in Slack's words, with the JSON pointer
// of what is wrong.
type blockError struct {
	msg, pointer string
}

func (e *blockError) Error() string {
	return fmt.Sprintf("[ERROR] %s [json-pointer:%s]", e.msg, e.pointer)
}

func errAt(pointer, format string, args ...any) *blockError {
	return &blockError{msg: fmt.Sprintf(format, args...), pointer: pointer}
}

// object is a JSON object whose fields are read on demand.
type object map[string]json.RawMessage

// str returns a string field, "" when absent or not a string.
func (o object) str(key string) string {
	var s string
	_ = json.Unmarshal(o[key], &s)
	return s
}

// obj returns an object field, nil when absent or not an object.
func (o object) obj(key string) object {
	var v object
	if json.Unmarshal(o[key], &v) != nil {
		return nil
	}
	return v
}

// list returns a list field, nil when absent or not a list.
func (o object) list(key string) []json.RawMessage {
	var v []json.RawMessage
	if json.Unmarshal(o[key], &v) != nil {
		return nil
	}
	return v
}

func chars(s string) int { return utf8.RuneCountInString(s) }

// checkText checks a text object: present when required, of an allowed
// type, at most max characters.
func checkText(t object, pointer string, required bool, max int, types ...string) *blockError {
	if t == nil {
		if required {
			return errAt(pointer, "missing required field: text")
		}
		return nil
	}
	typ := t.str("type")
	allowed := false
	for _, a := range types {
		allowed = allowed || typ == a
	}
	if !allowed {
		return errAt(pointer+"/type", "must be one of %q", types)
	}
	if n := chars(t.str("text")); n > max {
		return errAt(pointer+"/text", "must be less than %d characters", max+1)
	} else if n == 0 && required {
		return errAt(pointer+"/text", "must be more than 0 characters")
	}
	return nil
}

// checkBlocks checks a list of blocks as Slack does where it is cheap: at
// most max blocks, each with a type, unique block_ids, and the text and
// element limits orderbot can run into. It returns the blocks.
func checkBlocks(raw []byte, max int, pointer string) ([]object, *blockError) {
	var blocks []object
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, errAt(pointer, "must be a JSON list of block objects")
	}
	if len(blocks) > max {
		return nil, errAt(pointer, "no more than %d items allowed", max)
	}
	ids := map[string]bool{}
	for i, b := range blocks {
		p := pointer + "/" + strconv.Itoa(i)
		if b == nil {
			return nil, errAt(p, "must be an object")
		}
		if b.str("type") == "" {
			return nil, errAt(p, "missing required field: type")
		}
		if id := b.str("block_id"); id != "" {
			if chars(id) > MaxBlockID {
				return nil, errAt(p+"/block_id", "must be less than %d characters", MaxBlockID+1)
			}
			if ids[id] {
				return nil, errAt(p+"/block_id", "duplicate block_id")
			}
			ids[id] = true
		}
		if err := checkBlock(b, p); err != nil {
			return nil, err
		}
	}
	return blocks, nil
}

func checkBlock(b object, p string) *blockError {
	switch b.str("type") {
	case "section":
		text, fields := b.obj("text"), b.list("fields")
		if text == nil && len(fields) == 0 {
			return errAt(p, "must provide either text or fields")
		}
		if err := checkText(text, p+"/text", false, MaxSectionText, "plain_text", "mrkdwn"); err != nil {
			return err
		}
		if len(fields) > 10 {
			return errAt(p+"/fields", "no more than 10 items allowed")
		}
		for j, f := range fields {
			var fo object
			_ = json.Unmarshal(f, &fo)
			if err := checkText(fo, fmt.Sprintf("%s/fields/%d", p, j), true, MaxFieldText, "plain_text", "mrkdwn"); err != nil {
				return err
			}
		}
		if acc := b.obj("accessory"); acc != nil {
			return checkElement(acc, p+"/accessory")
		}
	case "header":
		return checkText(b.obj("text"), p+"/text", true, MaxHeaderText, "plain_text")
	case "actions":
		els := b.list("elements")
		if len(els) == 0 || len(els) > 25 {
			return errAt(p+"/elements", "must have between 1 and 25 items")
		}
		for j, e := range els {
			var eo object
			_ = json.Unmarshal(e, &eo)
			if err := checkElement(eo, fmt.Sprintf("%s/elements/%d", p, j)); err != nil {
				return err
			}
		}
	case "context":
		if n := len(b.list("elements")); n == 0 || n > 10 {
			return errAt(p+"/elements", "must have between 1 and 10 items")
		}
	case "input":
		if err := checkText(b.obj("label"), p+"/label", true, 2000, "plain_text"); err != nil {
			return err
		}
		el := b.obj("element")
		if el == nil {
			return errAt(p, "missing required field: element")
		}
		return checkElement(el, p+"/element")
	}
	return nil
}

// checkElement checks an interactive element: its action_id, a button's
// text, value and url, and a select menu's options.
func checkElement(e object, p string) *blockError {
	if e == nil || e.str("type") == "" {
		return errAt(p, "missing required field: type")
	}
	if chars(e.str("action_id")) > MaxActionID {
		return errAt(p+"/action_id", "must be less than %d characters", MaxActionID+1)
	}
	switch e.str("type") {
	case "static_select", "external_select":
		return checkSelect(e, p)
	case "button":
	default:
		return nil
	}
	if err := checkText(e.obj("text"), p+"/text", true, MaxButtonText, "plain_text"); err != nil {
		return err
	}
	if chars(e.str("value")) > MaxButtonValue {
		return errAt(p+"/value", "must be less than %d characters", MaxButtonValue+1)
	}
	if chars(e.str("url")) > 3000 {
		return errAt(p+"/url", "must be less than 3001 characters")
	}
	return nil
}

// checkSelect checks a static or external select menu: its placeholder, a
// static menu's 1 to MaxSelectOptions options, each option's text and
// value, and an initial option that a static menu must offer.
func checkSelect(e object, p string) *blockError {
	if err := checkText(e.obj("placeholder"), p+"/placeholder", false, 150, "plain_text"); err != nil {
		return err
	}
	initial := e.obj("initial_option")
	if initial != nil {
		if err := checkOption(initial, p+"/initial_option"); err != nil {
			return err
		}
	}
	if e.str("type") == "external_select" {
		return nil
	}
	opts := selectOptions(e)
	if len(e.list("options")) > MaxSelectOptions {
		return errAt(p+"/options", "no more than %d items allowed", MaxSelectOptions)
	}
	if len(opts) == 0 {
		return errAt(p, "must provide either options or option_groups")
	}
	offered := false
	for j, o := range opts {
		if err := checkOption(o, fmt.Sprintf("%s/options/%d", p, j)); err != nil {
			return err
		}
		offered = offered || (initial != nil && o.str("value") == initial.str("value") && o.obj("text").str("text") == initial.obj("text").str("text"))
	}
	if initial != nil && !offered {
		return errAt(p+"/initial_option", "must match one of the provided options")
	}
	return nil
}

// checkOption checks an option object: its text and value.
func checkOption(o object, p string) *blockError {
	if err := checkText(o.obj("text"), p+"/text", true, MaxOptionText, "plain_text"); err != nil {
		return err
	}
	if n := chars(o.str("value")); n > MaxOptionValue {
		return errAt(p+"/value", "must be less than %d characters", MaxOptionValue+1)
	}
	return nil
}

// selectOptions returns a select menu's options, those of its option groups
// included.
func selectOptions(e object) []object {
	var out []object
	add := func(raws []json.RawMessage) {
		for _, r := range raws {
			var o object
			if json.Unmarshal(r, &o) == nil && o != nil {
				out = append(out, o)
			}
		}
	}
	add(e.list("options"))
	for _, g := range e.list("option_groups") {
		var grp object
		if json.Unmarshal(g, &grp) == nil && grp != nil {
			add(grp.list("options"))
		}
	}
	return out
}

// checkView checks a view for views.open, views.push, views.update or
// views.publish and returns its fields; msg is Slack's error message when it
// is invalid.
func checkView(raw, kind string) (map[string]json.RawMessage, string) {
	var v object
	if err := json.Unmarshal([]byte(raw), &v); err != nil || v == nil {
		return nil, errAt("/view", "must be a JSON object").Error()
	}
	if typ := v.str("type"); typ != kind {
		return nil, errAt("/view/type", "must be %q", kind).Error()
	}
	if v["blocks"] == nil {
		return nil, errAt("/view", "missing required field: blocks").Error()
	}
	blocks, berr := checkBlocks(v["blocks"], MaxViewBlocks, "/view/blocks")
	if berr != nil {
		return nil, berr.Error()
	}
	if kind == "modal" {
		if err := checkText(v.obj("title"), "/view/title", true, MaxTitleText, "plain_text"); err != nil {
			return nil, err.Error()
		}
		for _, k := range []string{"submit", "close"} {
			if err := checkText(v.obj(k), "/view/"+k, false, MaxTitleText, "plain_text"); err != nil {
				return nil, err.Error()
			}
		}
		for _, b := range blocks {
			if b.str("type") == "input" && v.obj("submit") == nil {
				return nil, errAt("/view", "must provide a submit property when using input blocks").Error()
			}
		}
	}
	if chars(v.str("private_metadata")) > MaxMetadataLen {
		return nil, errAt("/view/private_metadata", "must be less than %d characters", MaxMetadataLen+1).Error()
	}
	for _, k := range []string{"callback_id", "external_id"} {
		if chars(v.str(k)) > 255 {
			return nil, errAt("/view/"+k, "must be less than 256 characters").Error()
		}
	}
	return v, ""
}

// findElement finds the interactive element with an action_id in a list of
// blocks, and the block_id of its block: the one given, or "b<index>" when
// the block has none.
func findElement(raw []byte, actionID string) (blockID string, el object, found bool) {
	var blocks []object
	if json.Unmarshal(raw, &blocks) != nil {
		return "", nil, false
	}
	for i, b := range blocks {
		var candidates []object
		if acc := b.obj("accessory"); acc != nil {
			candidates = append(candidates, acc)
		}
		if e := b.obj("element"); e != nil {
			candidates = append(candidates, e)
		}
		for _, r := range b.list("elements") {
			var e object
			if json.Unmarshal(r, &e) == nil && e != nil {
				candidates = append(candidates, e)
			}
		}
		for _, e := range candidates {
			if e.str("action_id") == actionID {
				id := b.str("block_id")
				if id == "" {
					id = "b" + strconv.Itoa(i)
				}
				return id, e, true
			}
		}
	}
	return "", nil, false
}

// inputBlocks returns the input blocks of a list by block_id, with the
// action_id of their element.
func inputBlocks(raw []byte) map[string]string {
	var blocks []object
	_ = json.Unmarshal(raw, &blocks)
	out := map[string]string{}
	for _, b := range blocks {
		if b.str("type") == "input" && b.str("block_id") != "" {
			out[b.str("block_id")] = b.obj("element").str("action_id")
		}
	}
	return out
}
