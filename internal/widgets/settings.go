// Package widgets knows the view controllers of the widget framework (SPEC §6)
// and the shapes of their settings objects, as the vendor's server hands them to
// each controller (see reference/widget-settings). Validate checks a settings
// object an administrator supplies and says precisely what is wrong.
package widgets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/comagicd/comagicd/internal/comagic"
)

// ViewControllers are the names of the view controllers, in a stable order.
var ViewControllers = []string{"consultant", "sitephone", "call_generator", "offline_message_generator", "personal_form"}

// rule checks one value at path; it returns a problem or "".
type rule func(v any) string

// object is the rule set of a settings object: key → rule.
type object map[string]rule

const maxText = 4000

func oneOf(rules ...rule) rule {
	return func(v any) string {
		var problems []string
		for _, r := range rules {
			p := r(v)
			if p == "" {
				return ""
			}
			if isInner(p) {
				// The value had the right shape; say what is wrong inside it.
				return p
			}
			problems = append(problems, p)
		}
		return strings.Join(problems, ", or ")
	}
}

func null(v any) string {
	if v != nil {
		return "must be null"
	}
	return ""
}

func boolean(v any) string {
	if _, ok := v.(bool); !ok {
		return "must be true or false"
	}
	return ""
}

func str(v any) string {
	s, ok := v.(string)
	switch {
	case !ok:
		return "must be a string"
	case utf8.RuneCountInString(s) > maxText:
		return fmt.Sprintf("must be at most %d characters", maxText)
	}
	return ""
}

func integer(min, max int64) rule {
	return func(v any) string {
		n, ok := v.(json.Number)
		if !ok {
			return "must be a number"
		}
		i, err := n.Int64()
		if err != nil || i < min || i > max {
			return fmt.Sprintf("must be an integer from %d to %d", min, max)
		}
		return ""
	}
}

var colorRE = regexp.MustCompile(`^[0-9A-Fa-f]{6}$`)

func color(v any) string {
	if s, ok := v.(string); !ok || !colorRE.MatchString(s) {
		return `must be a colour of six hex digits such as "43A400"`
	}
	return ""
}

func enum(values ...string) rule {
	return func(v any) string {
		s, _ := v.(string)
		for _, e := range values {
			if s == e {
				return ""
			}
		}
		return "must be one of " + strings.Join(values, ", ")
	}
}

func url(v any) string {
	s, ok := v.(string)
	if !ok || !(strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "//")) || len(s) > 2048 {
		return "must be an http(s) URL"
	}
	return ""
}

var (
	optStr   = oneOf(str, null)
	optBool  = oneOf(boolean, null)
	optColor = oneOf(color, null)
	optURL   = oneOf(url, null)
	// Links are false, null or text in the vendor's objects.
	optLink = oneOf(str, null, func(v any) string {
		if v != false {
			return "must be false"
		}
		return ""
	})
	id      = integer(0, 1<<53)
	optID   = oneOf(id, null)
	hPos    = enum("left", "right", "center")
	vPos    = enum("top", "bottom", "middle")
	place   = enum("top_left", "top_center", "top_right", "middle_left", "middle_center", "middle_right", "bottom_left", "bottom_center", "bottom_right")
	connect = enum("sitephone", "chat", "offline_message")
)

func list(elem rule) rule {
	return func(v any) string {
		a, ok := v.([]any)
		if !ok {
			return "must be an array"
		}
		if len(a) > 100 {
			return "must have at most 100 items"
		}
		var problems []string
		for i, e := range a {
			if p := elem(e); p != "" {
				problems = append(problems, under(fmt.Sprintf("[%d]", i), p))
			}
		}
		return strings.Join(problems, sep)
	}
}

// nested validates a sub-object and reports its first problem with its path.
func nested(o object) rule {
	return func(v any) string {
		problems := o.check("", v)
		if len(problems) == 1 && strings.HasPrefix(problems[0], "must be") {
			return problems[0]
		}
		for i, p := range problems {
			problems[i] = "." + p
		}
		return strings.Join(problems, sep)
	}
}

// callTime is an offered call time: ms since the epoch or a date string.
var callTime = oneOf(str, integer(0, 1<<53))

// callDay is a day of the vendor's delayed_call_times: both keys required.
func callDay(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return "must be an object"
	}
	for _, k := range []string{"date", "times"} {
		if _, ok := m[k]; !ok {
			return "." + k + ": is required"
		}
	}
	return nested(object{"date": callTime, "times": list(callTime)})(v)
}

var (
	groups = oneOf(list(nested(object{"id": id, "name": str})), null)
	fields = oneOf(list(nested(object{
		"name":        enum("name", "phone", "email", "message"),
		"title":       str,
		"is_required": boolean,
	})), null)
	// delayed_call_times: null or false when off; true to offer the times of
	// the site's working hours (the bootstrap derives them, see callhours.Scheduled);
	// or a fixed list of offered times, or the vendor's list of days {date,
	// times: [...]} (date and times as ms since the epoch or date strings).
	callTimes   = oneOf(null, boolean, list(oneOf(callTime, callDay)))
	connectWays = list(connect)
)

// placement keys shared by the floating widgets.
var placement = object{"h_position": hPos, "v_position": vPos, "is_visible": boolean, "is_animation_enabled": boolean, "title": str}

// branding keys shared by the vendor's objects.
var branding = object{
	"banner_branding_text": optStr, "banner_branding_url": optURL,
	"widget_link_text": optLink, "widget_link_url": optLink,
	"is_personal_info_enabled": optBool, "personal_info_text": optStr,
}

// lead keys shared by the three lead generators.
var lead = object{
	"id": optID, "site_id": optID, "app_id": optID, "scenario_id": optID, "image_id": optID,
	"image_url": optURL, "is_image": optBool, "banner_skin": optStr,
	"banner_color": optColor, "banner_color_mobile": optColor, "button_color": optColor, "button_color_mobile": optColor,
	"banner_title": optStr, "banner_text": optStr, "button_text": optStr, "banner_place": place,
	"h_position": hPos, "v_position": vPos,
	"allowed_groups": groups, "group_title": oneOf(str, null, integer(0, 0)), "is_groups_enabled": optBool,
	"fields": fields, "available_connect_ways": connectWays, "preferred_connect_way": oneOf(connect, null),
	"delayed_call_times": callTimes, "is_schedule_active": optBool,
}

func merge(parts ...object) object {
	out := object{}
	for _, p := range parts {
		for k, r := range p {
			out[k] = r
		}
	}
	return out
}

// shapes are the settings objects of each view controller.
var shapes = map[string]object{
	"consultant": {
		"common": nested(object{"banner_color": color}),
		"offline_message": nested(merge(placement, branding, object{
			"group_title": optStr, "allowed_groups": groups, "is_groups_enabled": boolean, "fields": fields,
		})),
		"chat": nested(merge(placement, object{
			"group_title": optStr, "allowed_groups": groups, "fields": fields,
			"is_file_transfer": boolean, "is_consultant_operator_rating": boolean,
			"retention": nested(object{
				"is_alternate_communication_way_enabled": boolean,
				"alternate_communication_way_timeout":    integer(1, 86400),
				"alternate_communication_way":            connect,
				"messages":                               list(nested(object{"timeout": integer(1, 86400), "text": str})),
			}),
		})),
	},
	"sitephone": merge(placement, branding, object{
		"group_title": optStr, "allowed_groups": groups, "is_groups_enabled": boolean,
		"is_always_displayed": boolean, "delayed_call_times": callTimes, "is_captcha_enabled": optBool,
		"banner_color": color, "is_analytics_enabled": boolean, "is_button_displayed": boolean,
		"is_schedule_active": boolean, "is_rich_functional": boolean,
	}),
	"call_generator": merge(lead, branding, object{
		"inactive_schedule_banner_text": optStr, "inactive_schedule_banner_title": optStr,
		"is_answer_countdown_timeout": optBool, "answer_countdown_timeout": integer(0, 3600),
		"is_delayed_call_enabled": optBool, "is_always_displayed": optBool, "staff_group_title": optStr,
	}),
	"offline_message_generator": merge(lead, branding, object{
		"message": optStr, "heading_mobile": optStr, "is_show_on_close": optBool,
	}),
	"personal_form": merge(lead, branding, object{"button_url": url}),
}

// check validates v as this object and returns every problem with its path.
func (o object) check(path string, v any) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return []string{where(path) + "must be a JSON object"}
	}
	var problems []string
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r, known := o[k]
		if !known {
			problems = append(problems, fmt.Sprintf("%sunknown key (known keys: %s)", where(join(path, k)), strings.Join(o.keys(), ", ")))
			continue
		}
		if p := r(m[k]); p != "" {
			problems = append(problems, strings.Split(under(join(path, k), p), sep)...)
		}
	}
	return problems
}

// sep separates the problems a rule found inside one value.
const sep = "\x1f"

// under puts the problems p found in the value at path under that path.
func under(path, p string) string {
	parts := strings.Split(p, sep)
	for i, q := range parts {
		if isInner(q) {
			parts[i] = path + q
		} else {
			parts[i] = path + ": " + q
		}
	}
	return strings.Join(parts, sep)
}

// isInner reports a problem found inside a value, which starts with its path
// (".key" or "[index]").
func isInner(p string) bool { return strings.HasPrefix(p, ".") || strings.HasPrefix(p, "[") }

func (o object) keys() []string {
	out := make([]string, 0, len(o))
	for k := range o {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func where(path string) string {
	path = strings.TrimPrefix(path, ".")
	if path == "" {
		return ""
	}
	return path + ": "
}

// Validate checks a settings object for the view controller and returns it
// compacted. Every problem is listed, one per line, in an EINVALID error.
func Validate(vc string, raw []byte) (json.RawMessage, error) {
	shape, ok := shapes[vc]
	if !ok {
		return nil, comagic.Invalid("widget", "unknown widget %q (one of %s)", vc, strings.Join(ViewControllers, ", "))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, comagic.Invalid("settings", "not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, comagic.Invalid("settings", "more than one JSON value")
	}
	if problems := shape.check("", v); len(problems) > 0 {
		return nil, comagic.Invalid("settings", "%s settings:\n  %s", vc, strings.Join(problems, "\n  "))
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, comagic.Invalid("settings", "not valid JSON: %v", err)
	}
	return buf.Bytes(), nil
}

// Known reports whether vc is the name of a view controller.
func Known(vc string) bool {
	_, ok := shapes[vc]
	return ok
}

// ValidDevice reports whether d is a device type settings are kept for.
func ValidDevice(d string) bool {
	for _, t := range comagic.DeviceTypes {
		if d == t {
			return true
		}
	}
	return false
}
