// Package tplconf holds the conformance corpus of the widget template
// interpreter (web/embed/ui/tpl.js): tpl.test.mjs, run with node --test,
// renders every template of corpus.mjs through lodash.template (fetched from
// npm at test time) and through the interpreter and wants the same output.
// chat.test.mjs checks the pure logic of the consultant chat
// (web/embed/ui/chat.js) and renders the default chat templates. The Go tests
// run both, so go test ./... covers them.
package tplconf
