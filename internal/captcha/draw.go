package captcha

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/f64"
	"golang.org/x/image/math/fixed"

	"github.com/comagicd/comagicd/internal/comagic"
)

// Size of the image.
const (
	Width  = 120
	Height = 50
)

// defaultBackground is the background when the page asks for none.
var defaultBackground = color.RGBA{0xF4, 0xF6, 0xF8, 0xFF}

// ParseColor reads a background colour: six hexadecimal digits RRGGBB,
// optionally after "#"; "" is the default background. Anything else is
// EINVALID with the field "bg".
func ParseColor(s string) (color.RGBA, error) {
	if s == "" {
		return defaultBackground, nil
	}
	s = strings.TrimPrefix(s, "#")
	if len(s) != 6 {
		return color.RGBA{}, comagic.Invalid("bg", "bg must be a colour RRGGBB of six hexadecimal digits")
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return color.RGBA{}, comagic.Invalid("bg", "bg must be a colour RRGGBB of six hexadecimal digits")
	}
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xFF}, nil
}

// luma is the perceived brightness of c, 0..255.
func luma(c color.RGBA) float64 {
	return 0.299*float64(c.R) + 0.587*float64(c.G) + 0.114*float64(c.B)
}

// ink returns a random colour that contrasts with a background of the given
// brightness: dark on light backgrounds, light on dark ones.
func ink(r *rand.Rand, light bool) color.RGBA {
	ch := func() uint8 {
		if light {
			return uint8(10 + r.IntN(100))
		}
		return uint8(165 + r.IntN(90))
	}
	return color.RGBA{ch(), ch(), ch(), 0xFF}
}

// draw renders digits on bg as a PNG: each digit in its own colour, rotated,
// scaled and moved a little, between random dots and under two wavy lines and
// a straight one that cross the digits. seed makes the drawing (32 bytes).
func draw(f *opentype.Font, digits string, bg color.RGBA, seed []byte) ([]byte, error) {
	var s [32]byte
	copy(s[:], seed)
	r := rand.New(rand.NewChaCha8(s))
	light := luma(bg) >= 128

	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	xdraw.Draw(img, img.Bounds(), image.NewUniform(bg), image.Point{}, xdraw.Src)

	// Dots behind the digits.
	for range 140 {
		c := ink(r, light)
		c.A = uint8(90 + r.IntN(120))
		blend(img, r.IntN(Width), r.IntN(Height), c)
	}

	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 38, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return nil, fmt.Errorf("face: %w", err)
	}
	defer face.Close()

	const cell = 48 // glyphs are drawn in a cell x cell square, then transformed
	step := float64(Width-12) / float64(len(digits))
	for i, d := range digits {
		glyph := image.NewRGBA(image.Rect(0, 0, cell, cell))
		b, _ := font.BoundString(face, string(d))
		gw := (b.Max.X - b.Min.X).Ceil()
		gh := (b.Max.Y - b.Min.Y).Ceil()
		dot := fixed.P((cell-gw)/2, (cell-gh)/2).Sub(b.Min)
		dr := &font.Drawer{Dst: glyph, Src: image.NewUniform(ink(r, light)), Face: face, Dot: dot}
		dr.DrawString(string(d))

		angle := (r.Float64()*2 - 1) * 0.42
		scale := 0.88 + r.Float64()*0.22
		cx := 6 + step*(float64(i)+0.5) + (r.Float64()*2-1)*3
		cy := float64(Height)/2 + (r.Float64()*2-1)*4
		sin, cos := math.Sincos(angle)
		a, bb, c, dd := scale*cos, -scale*sin, scale*sin, scale*cos
		half := float64(cell) / 2
		m := f64.Aff3{a, bb, cx - (a*half + bb*half), c, dd, cy - (c*half + dd*half)}
		xdraw.BiLinear.Transform(img, m, glyph, glyph.Bounds(), xdraw.Over, nil)
	}

	// Lines across the digits: two waves and a straight one.
	for range 2 {
		c := ink(r, light)
		amp := 3 + r.Float64()*6
		period := 30 + r.Float64()*50
		phase := r.Float64() * 2 * math.Pi
		base := 15 + r.Float64()*20
		width := 0.8 + r.Float64()*0.5
		for x := 0.0; x < Width; x += 0.25 {
			disc(img, x, base+amp*math.Sin(x*2*math.Pi/period+phase), width, c)
		}
	}
	{
		c := ink(r, light)
		y0 := 8 + r.Float64()*34
		y1 := 8 + r.Float64()*34
		for x := 0.0; x < Width; x += 0.25 {
			disc(img, x, y0+(y1-y0)*x/Width, 0.8, c)
		}
	}
	// Dots over the digits.
	for range 60 {
		blend(img, r.IntN(Width), r.IntN(Height), ink(r, light))
	}

	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	return out.Bytes(), nil
}

// disc paints a filled circle of radius rad around (x, y).
func disc(img *image.RGBA, x, y, rad float64, c color.RGBA) {
	for py := int(math.Floor(y - rad)); py <= int(math.Ceil(y+rad)); py++ {
		for px := int(math.Floor(x - rad)); px <= int(math.Ceil(x+rad)); px++ {
			dx, dy := float64(px)+0.5-x, float64(py)+0.5-y
			if dx*dx+dy*dy <= rad*rad {
				blend(img, px, py, c)
			}
		}
	}
}

// blend paints c (with its alpha, not premultiplied) over the pixel at (x, y).
func blend(img *image.RGBA, x, y int, c color.RGBA) {
	if !(image.Point{x, y}).In(img.Rect) {
		return
	}
	o := img.RGBAAt(x, y)
	a := uint32(c.A)
	mix := func(n, o uint8) uint8 { return uint8((uint32(n)*a + uint32(o)*(255-a)) / 255) }
	img.SetRGBA(x, y, color.RGBA{mix(c.R, o.R), mix(c.G, o.G), mix(c.B, o.B), 0xFF})
}
