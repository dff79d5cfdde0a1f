package files

import (
	"archive/zip"
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
)

func encodeImage(t *testing.T, enc func(*bytes.Buffer, image.Image) error) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := enc(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// zipWith builds a ZIP whose first entry is name with content (stored, like
// the "mimetype" entry of OpenDocument files).
func zipWith(t *testing.T, name, content string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	f, err := w.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestSniff(t *testing.T) {
	pngData := encodeImage(t, func(b *bytes.Buffer, i image.Image) error { return png.Encode(b, i) })
	jpegData := encodeImage(t, func(b *bytes.Buffer, i image.Image) error { return jpeg.Encode(b, i, nil) })
	gifData := encodeImage(t, func(b *bytes.Buffer, i image.Image) error { return gif.Encode(b, i, nil) })
	webpData := append([]byte("RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00"), make([]byte, 24)...)
	pdfData := []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
	ole := append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 504)...)
	docx := zipWith(t, "[Content_Types].xml", `<?xml version="1.0"?><Types/>`)
	odt := zipWith(t, "mimetype", "application/vnd.oasis.opendocument.text")
	text := []byte("Здравствуйте! Вот номер заказа: 12345.\n")
	csv := []byte("имя;телефон\nИван;+79001234567\n")
	cp1251 := []byte{0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2, '\r', '\n'}
	long := bytes.Repeat([]byte("строка текста\n"), 200) // longer than SniffLen

	ok := []struct {
		name string
		head []byte
		want string
	}{
		{"photo.png", pngData, "image/png"},
		{"SCREEN.PNG", pngData, "image/png"},
		{`C:\Users\Иван\Desktop\снимок.png`, pngData, "image/png"},
		{"image", pngData, "image/png"},
		{"photo.jpg", jpegData, "image/jpeg"},
		{"photo.jpeg", jpegData, "image/jpeg"},
		{"anim.gif", gifData, "image/gif"},
		{"pic.webp", webpData, "image/webp"},
		{"счёт.pdf", pdfData, "application/pdf"},
		{"note.txt", text, "text/plain"},
		{"note.txt", []byte{}, "text/plain"},
		{"README.md", text, "text/plain"},
		{"server.log", long, "text/plain"},
		{"1251.txt", cp1251, "text/plain"},
		{"<3.txt", []byte("<3 спасибо!"), "text/plain"},
		{"contacts.csv", csv, "text/csv"},
		{"report.docx", docx, typeDocx},
		{"table.xlsx", docx, typeXlsx},
		{"letter.odt", odt, typeOdt},
		{"sheet.ods", odt, typeOds},
		{"archive.zip", docx, typeZip},
		{"old.doc", ole, typeDoc},
		{"old.XLS", ole, typeXls},
	}
	for _, c := range ok {
		got, accepted := Sniff(c.name, c.head)
		if !accepted || got != c.want {
			t.Errorf("Sniff(%q) = %q, %v; want %q, true", c.name, got, accepted, c.want)
		}
	}

	refused := []struct {
		name string
		head []byte
	}{
		{"logo.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)},
		{"logo.txt", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)},
		{"logo.txt", []byte("\xEF\xBB\xBF  <?xml version=\"1.0\"?><svg/>")},
		{"page.html", []byte("<!DOCTYPE html><html><body>hi</body></html>")},
		{"page.txt", []byte("<!DOCTYPE html><html><body>hi</body></html>")},
		{"page.txt", []byte("<p>hi</p><script>alert(1)</script>")},
		{"page.html", []byte("just text")},
		{"page.htm", []byte("just text")},
		{"image.svg", pngData},
		{"photo.html", pngData},
		{"photo.jpg", pngData},
		{"photo.png", jpegData},
		{"doc.pdf.html", pdfData},
		{"script.js", []byte("alert(1)")},
		{"run.sh", []byte("#!/bin/sh\nrm -rf /\n")},
		{"run.bat", []byte("del *.*\r\n")},
		{"data.xml", []byte(`<?xml version="1.0"?><a/>`)},
		{"program.exe", []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff")},
		{"program.txt", []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff")},
		{"app.jar", docx},
		{"app.exe", docx},
		{"setup.msi", ole},
		{"slides.ppt", ole},
		{"old", ole},
		{"binary.bin", []byte{0, 1, 2, 3, 4, 5}},
		{"movie.mp4", []byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom")},
	}
	for _, c := range refused {
		if got, accepted := Sniff(c.name, c.head); accepted {
			t.Errorf("Sniff(%q, %.20q) = %q, true; want refused", c.name, c.head, got)
		}
	}
}
