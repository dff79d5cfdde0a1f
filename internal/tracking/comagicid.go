package tracking

import (
	"strconv"
	"strings"
)

// ComagicID is the value of the `_comagic_id<S>` cookie and of the `ci`
// parameter of /vc/s/: `<visitor_id>.<session_id>.<session start unix ts>`.
type ComagicID struct {
	VisitorID int64
	SessionID int64
	StartedAt int64
}

// String formats the id as the cookie holds it.
func (c ComagicID) String() string {
	return strconv.FormatInt(c.VisitorID, 10) + "." + strconv.FormatInt(c.SessionID, 10) + "." + strconv.FormatInt(c.StartedAt, 10)
}

// ParseComagicID parses `<visitor_id>.<session_id>.<unix_ts>`; all three parts
// must be positive integers.
func ParseComagicID(s string) (ComagicID, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return ComagicID{}, false
	}
	var n [3]int64
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil || v <= 0 {
			return ComagicID{}, false
		}
		n[i] = v
	}
	return ComagicID{VisitorID: n[0], SessionID: n[1], StartedAt: n[2]}, true
}
