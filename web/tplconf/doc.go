// Package tplconf holds the conformance corpus of the widget template
// interpreter (web/embed/ui/tpl.js): tpl.test.mjs, run with node --test,
// renders every template of corpus.mjs through lodash.template (fetched from
// npm at test time) and through the interpreter and wants the same output.
// The Go test runs it, so go test ./... covers it.
package tplconf
