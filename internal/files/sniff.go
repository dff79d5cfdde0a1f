package files

import (
	"bytes"
	"net/http"
	"path"
	"strings"
)

// SniffLen is how many leading bytes Sniff looks at (as http.DetectContentType).
const SniffLen = 512

// Content types of the accepted office and archive files (decided by the
// extension once the content is known to be a ZIP or OLE2 container).
const (
	typeZip  = "application/zip"
	typeDocx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	typeXlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	typeOdt  = "application/vnd.oasis.opendocument.text"
	typeOds  = "application/vnd.oasis.opendocument.spreadsheet"
	typeDoc  = "application/msword"
	typeXls  = "application/vnd.ms-excel"
)

// oleMagic starts an OLE2 compound file (.doc, .xls).
var oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// Sniff decides from a file's first bytes (head, up to SniffLen) and its name
// whether the file is accepted, and with which content type it is served. The
// client's content type is never used. Accepted: PNG, JPEG, GIF and WebP
// images, PDF, plain text and CSV, Word and Excel (.doc, .docx, .xls, .xlsx),
// OpenDocument text and spreadsheets (.odt, .ods) and ZIP archives. The
// extension must agree with the content (or be absent), so that a saved file
// never opens as something else; HTML, SVG, XML and scripts are refused.
func Sniff(name string, head []byte) (contentType string, ok bool) {
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	ext := strings.ToLower(path.Ext(strings.ReplaceAll(name, `\`, "/")))
	detected, _, _ := strings.Cut(http.DetectContentType(head), ";")
	switch detected {
	case "image/png":
		return detected, ext == "" || ext == ".png"
	case "image/jpeg":
		return detected, ext == "" || ext == ".jpg" || ext == ".jpeg" || ext == ".jpe" || ext == ".jfif"
	case "image/gif":
		return detected, ext == "" || ext == ".gif"
	case "image/webp":
		return detected, ext == "" || ext == ".webp"
	case "application/pdf":
		return detected, ext == "" || ext == ".pdf"
	case "application/zip":
		switch ext {
		case "", ".zip":
			return typeZip, true
		case ".docx":
			return typeDocx, true
		case ".xlsx":
			return typeXlsx, true
		case ".odt":
			return typeOdt, true
		case ".ods":
			return typeOds, true
		}
		return "", false
	case "text/plain":
		if markup(head) {
			return "", false
		}
		switch ext {
		case "", ".txt", ".text", ".log", ".md":
			return "text/plain", true
		case ".csv":
			return "text/csv", true
		}
		return "", false
	}
	if bytes.HasPrefix(head, oleMagic) {
		switch ext {
		case ".doc":
			return typeDoc, true
		case ".xls":
			return typeXls, true
		}
	}
	return "", false
}

// markup reports whether text starts like SVG or other XML/HTML that
// http.DetectContentType does not name (it only knows some HTML openings).
func markup(head []byte) bool {
	t := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF")), " \t\r\n\f")
	if len(t) == 0 || t[0] != '<' {
		return false
	}
	l := bytes.ToLower(t)
	for _, tag := range []string{"<svg", "<?xml", "<!doctype", "<html", "<script", "<!--", "<body", "<head", "<iframe", "<?php"} {
		if bytes.Contains(l, []byte(tag)) {
			return true
		}
	}
	return false
}
