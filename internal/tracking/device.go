package tracking

import (
	"strings"

	"github.com/comagicd/comagicd/internal/comagic"
)

// DeviceType guesses desktop, tablet or mobile from a User-Agent header, the same
// way the embed script's Comagic.getDeviceType does in the browser.
func DeviceType(ua string) string {
	l := strings.ToLower(ua)
	switch {
	case strings.Contains(l, "ipad"), strings.Contains(l, "tablet"),
		strings.Contains(l, "kindle"), strings.Contains(l, "silk/"), strings.Contains(l, "playbook"),
		strings.Contains(l, "android") && !strings.Contains(l, "mobile"):
		return comagic.DeviceTablet
	case strings.Contains(l, "mobi"), strings.Contains(l, "iphone"), strings.Contains(l, "ipod"),
		strings.Contains(l, "android"), strings.Contains(l, "windows phone"), strings.Contains(l, "opera mini"),
		strings.Contains(l, "blackberry"):
		return comagic.DeviceMobile
	default:
		return comagic.DeviceDesktop
	}
}
