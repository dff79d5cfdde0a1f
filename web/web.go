// Package web builds and serves the browser code of comagicd: the embed script
// cs.min.js that sites include, the demo page and the operator workstation.
//
// The script's sources are ES modules under embed/src, embedded in the binary
// and bundled and minified with esbuild when New is called, so building and
// running the server needs no Node.js.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/evanw/esbuild/pkg/api"
)

//go:embed embed/src/*.js embed/ui embed/widgets demo/* operator
var sources embed.FS

// entryPoint is the module that esbuild starts bundling from.
const entryPoint = "embed/src/main.js"

// The widget framework and the default widgets, loaded by the core only on
// pages where a widget is enabled: uiEntry becomes /static/widgets/ui.js (with
// uiCSS as ui.css); every widgetsDir/<vc>.js becomes /static/widgets/<vc>.js,
// with <vc>.css and the templates widgetsDir/<vc>/*.html as <vc>.tpls.json.
const (
	uiEntry    = "embed/ui/main.js"
	uiCSS      = "embed/ui/ui.css"
	widgetsDir = "embed/widgets"
)

// maxAge is how long browsers and proxies may reuse an asset without asking.
const maxAge = "public, max-age=300"

// Assets serves the built embed script and the demo page.
type Assets struct {
	files    map[string]*asset // by URL path
	coreSize int
}

// WidgetSize returns the gzip-compressed size in bytes of everything a page
// fetches to run the default widget of view controller vc: the framework
// (ui.js, ui.css) and the widget's script, CSS and templates. It returns 0 for
// a view controller without a default widget.
func (a *Assets) WidgetSize(vc string) int {
	js, ok := a.files["/static/widgets/"+vc+".js"]
	if !ok {
		return 0
	}
	n := len(js.gzip)
	for _, p := range []string{"ui.js", "ui.css", vc + ".css", vc + ".tpls.json"} {
		if f, ok := a.files["/static/widgets/"+p]; ok {
			n += len(f.gzip)
		}
	}
	return n
}

// asset is one servable file with its precompressed variants.
type asset struct {
	ctype  string
	etag   string // without quotes or encoding suffix
	raw    []byte
	gzip   []byte
	brotli []byte
}

// New bundles and minifies the embedded JS sources with esbuild; returns an
// error naming the file on a build error.
func New() (*Assets, error) {
	return build(sources, entryPoint)
}

func build(fsys fs.FS, entry string) (*Assets, error) {
	minified, err := bundle(fsys, entry, true)
	if err != nil {
		return nil, err
	}
	readable, err := bundle(fsys, entry, false)
	if err != nil {
		return nil, err
	}
	a := &Assets{files: map[string]*asset{}}
	js := "application/javascript; charset=utf-8"
	a.files["/static/cs.min.js"] = newAsset(js, minified)
	a.files["/static/cs.js"] = newAsset(js, readable)
	a.coreSize = len(a.files["/static/cs.min.js"].gzip)
	if err := a.buildWidgets(fsys); err != nil {
		return nil, err
	}
	if err := a.buildWorkstation(fsys); err != nil {
		return nil, err
	}

	demo, err := fs.ReadDir(fsys, "demo")
	if err != nil {
		return nil, fmt.Errorf("web: read demo: %w", err)
	}
	for _, e := range demo {
		b, err := fs.ReadFile(fsys, "demo/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("web: read demo/%s: %w", e.Name(), err)
		}
		ct := mime.TypeByExtension(path.Ext(e.Name()))
		switch path.Ext(e.Name()) {
		case ".js":
			ct = js
		case ".html":
			ct = "text/html; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		}
		p := "/demo/" + e.Name()
		if e.Name() == "index.html" {
			p = "/demo/"
		}
		a.files[p] = newAsset(ct, b)
	}
	return a, nil
}

// buildWidgets adds the lazily loaded framework and default widgets under
// /static/widgets/ (skipped when fsys has no framework, as in build tests).
func (a *Assets) buildWidgets(fsys fs.FS) error {
	if _, err := fs.Stat(fsys, uiEntry); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	const js = "application/javascript; charset=utf-8"
	const css = "text/css; charset=utf-8"
	ui, err := bundle(fsys, uiEntry, true)
	if err != nil {
		return err
	}
	a.files["/static/widgets/ui.js"] = newAsset(js, ui)
	uiStyle, err := minifyCSS(fsys, uiCSS)
	if err != nil {
		return err
	}
	a.files["/static/widgets/ui.css"] = newAsset(css, uiStyle)
	entries, err := fs.ReadDir(fsys, widgetsDir)
	if err != nil {
		return fmt.Errorf("web: read %s: %w", widgetsDir, err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
			tpls, err := templates(fsys, widgetsDir+"/"+name)
			if err != nil {
				return err
			}
			a.files["/static/widgets/"+name+".tpls.json"] = newAsset("application/json; charset=utf-8", tpls)
		case path.Ext(name) == ".js":
			b, err := bundle(fsys, widgetsDir+"/"+name, true)
			if err != nil {
				return err
			}
			a.files["/static/widgets/"+name] = newAsset(js, b)
		case path.Ext(name) == ".css":
			b, err := minifyCSS(fsys, widgetsDir+"/"+name)
			if err != nil {
				return err
			}
			a.files["/static/widgets/"+name] = newAsset(css, b)
		case path.Ext(name) == ".svg":
			b, err := fs.ReadFile(fsys, widgetsDir+"/"+name)
			if err != nil {
				return fmt.Errorf("web: read %s: %w", name, err)
			}
			a.files["/static/widgets/"+name] = newAsset("image/svg+xml", b)
		}
	}
	return nil
}

// minifyCSS minifies one stylesheet with esbuild.
func minifyCSS(fsys fs.FS, name string) ([]byte, error) {
	src, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("web: read %s: %w", name, err)
	}
	res := api.Transform(string(src), api.TransformOptions{
		Loader: api.LoaderCSS, MinifyWhitespace: true, MinifySyntax: true,
		Target: api.ES2017, Sourcefile: name, LogLevel: api.LogLevelSilent,
	})
	if len(res.Errors) > 0 {
		m := res.Errors[0]
		where := name
		if m.Location != nil {
			where += ":" + strconv.Itoa(m.Location.Line)
		}
		return nil, fmt.Errorf("web: build %s: %s", where, m.Text)
	}
	return res.Code, nil
}

// spaceBetweenTags matches whitespace between two tags of a template.
var spaceBetweenTags = regexp.MustCompile(`>\s+<`)

// templates reads the widget templates dir/*.html into one JSON object
// {name: template}, with the whitespace between tags squeezed.
func templates(fsys fs.FS, dir string) ([]byte, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("web: read %s: %w", dir, err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".html" {
			continue
		}
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("web: read %s/%s: %w", dir, e.Name(), err)
		}
		s := strings.TrimSpace(spaceBetweenTags.ReplaceAllString(string(b), "><"))
		out[strings.TrimSuffix(e.Name(), ".html")] = s
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("web: encode templates of %s: %w", dir, err)
	}
	return b, nil
}

// bundle runs esbuild over the module graph rooted at entry, reading modules
// from fsys through a plugin so nothing touches the disk.
func bundle(fsys fs.FS, entry string, minify bool) ([]byte, error) {
	return bundleAs(fsys, entry, minify, "comagicd embed script")
}

// bundleAs is bundle with the name put in the bundle's banner comment and
// in its build errors.
func bundleAs(fsys fs.FS, entry string, minify bool, name string) ([]byte, error) {
	const ns = "comagicd-embed"
	plugin := api.Plugin{
		Name: "embedfs",
		Setup: func(b api.PluginBuild) {
			b.OnResolve(api.OnResolveOptions{Filter: ".*"}, func(args api.OnResolveArgs) (api.OnResolveResult, error) {
				if args.Kind == api.ResolveEntryPoint {
					return api.OnResolveResult{Path: args.Path, Namespace: ns}, nil
				}
				if !strings.HasPrefix(args.Path, "./") && !strings.HasPrefix(args.Path, "../") {
					return api.OnResolveResult{}, fmt.Errorf("only relative imports are allowed, got %q", args.Path)
				}
				return api.OnResolveResult{Path: path.Join(path.Dir(args.Importer), args.Path), Namespace: ns}, nil
			})
			b.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: ns}, func(args api.OnLoadArgs) (api.OnLoadResult, error) {
				src, err := fs.ReadFile(fsys, strings.TrimPrefix(path.Clean(args.Path), "./"))
				if err != nil {
					return api.OnLoadResult{}, err
				}
				s := string(src)
				return api.OnLoadResult{Contents: &s, Loader: api.LoaderJS}, nil
			})
		},
	}
	res := api.Build(api.BuildOptions{
		EntryPoints:       []string{entry},
		Bundle:            true,
		Write:             false,
		Outfile:           "cs.js",
		Format:            api.FormatIIFE,
		Platform:          api.PlatformBrowser,
		Target:            api.ES2017,
		Charset:           api.CharsetUTF8,
		LegalComments:     api.LegalCommentsNone,
		MinifyWhitespace:  minify,
		MinifyIdentifiers: minify,
		MinifySyntax:      minify,
		TreeShaking:       api.TreeShakingTrue,
		Banner:            map[string]string{"js": "/* " + name + " */"},
		Plugins:           []api.Plugin{plugin},
		LogLevel:          api.LogLevelSilent,
	})
	if len(res.Errors) > 0 {
		var msgs []string
		for _, m := range res.Errors {
			where := "?"
			if m.Location != nil {
				where = m.Location.File + ":" + strconv.Itoa(m.Location.Line) + ":" + strconv.Itoa(m.Location.Column)
			}
			msgs = append(msgs, where+": "+m.Text)
		}
		return nil, fmt.Errorf("web: build %s: %s", name, strings.Join(msgs, "; "))
	}
	if len(res.OutputFiles) != 1 {
		return nil, fmt.Errorf("web: build %s: %d output files, want 1", name, len(res.OutputFiles))
	}
	return res.OutputFiles[0].Contents, nil
}

func newAsset(ctype string, raw []byte) *asset {
	sum := sha256.Sum256(raw)
	a := &asset{ctype: ctype, etag: hex.EncodeToString(sum[:10]), raw: raw}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(raw)
	zw.Close()
	a.gzip = gz.Bytes()
	var br bytes.Buffer
	bw := brotli.NewWriterLevel(&br, brotli.BestCompression)
	bw.Write(raw)
	bw.Close()
	a.brotli = br.Bytes()
	return a
}

// CoreSize returns the gzip-compressed size in bytes of cs.min.js (printed by
// make build / make bench).
func (a *Assets) CoreSize() int { return a.coreSize }

// ServeHTTP serves, by r.URL.Path: /static/cs.min.js (minified), /static/cs.js
// (readable bundle), /static/widgets/* (the lazily loaded widget framework and
// default widgets), /demo/ (demo page and its files) and /operator/ (the
// operator workstation, under a strict Content-Security-Policy).
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "/demo" || p == "/operator" {
		target := p + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
		return
	}
	f, ok := a.files[p]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, enc, tag := f.raw, "", f.etag
	switch {
	case accepts(r, "br"):
		body, enc, tag = f.brotli, "br", f.etag+"-br"
	case accepts(r, "gzip"):
		body, enc, tag = f.gzip, "gzip", f.etag+"-gz"
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", maxAge)
	if strings.HasPrefix(p, "/operator/") {
		workstationHeaders(h, p, r.Host)
	}
	h.Set("Vary", "Accept-Encoding")
	h.Set("ETag", `"`+tag+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(p, "/static/") {
		// Sites on any origin load the script; let them use SRI/crossorigin.
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	}
	if matches(r.Header.Get("If-None-Match"), f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if enc != "" {
		h.Set("Content-Encoding", enc)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// accepts reports whether the request's Accept-Encoding allows coding enc
// (a q=0 entry refuses it).
func accepts(r *http.Request, enc string) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), enc) {
			continue
		}
		params = strings.ReplaceAll(params, " ", "")
		if q, ok := strings.CutPrefix(params, "q="); ok {
			v, err := strconv.ParseFloat(q, 64)
			return err == nil && v > 0
		}
		return true
	}
	return false
}

// matches reports whether an If-None-Match header names any variant of the
// entity tag (weak comparison, as RFC 9110 prescribes for If-None-Match).
func matches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" {
			return true
		}
		t = strings.Trim(t, `"`)
		if t == etag || t == etag+"-gz" || t == etag+"-br" {
			return true
		}
	}
	return false
}
