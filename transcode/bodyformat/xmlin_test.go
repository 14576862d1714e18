package bodyformat

import (
	"strings"
	"testing"
)

func TestDecodeXML(t *testing.T) {
	rt := libraryRoute(t, "CreateBook", Options{XML: true, MaxDepth: 6, MaxFields: 30})
	for _, tc := range []struct {
		name, body, want, err string
	}{
		{"fields", `<?xml version="1.0" encoding="utf-8"?><Book xmlns="urn:x"><!-- c --><title> A &lt;b&gt; </title><genre>2</genre>
			<page_count>-7</page_count><rating>1e3</rating><checksum>AAE</checksum><readTime>1.5s</readTime></Book>`,
			`{"title":" A <b> ","genre":2,"pageCount":"-7","rating":1000,"checksum":"AAE","readTime":"1.5s"}`, ""},
		{"repeated not adjacent", `<b><tags>a</tags><title>t</title><tags>b</tags></b>`, `{"tags":["a","b"],"title":"t"}`, ""},
		{"map", `<b><labels><key>x</key><value>1</value></labels><labels><value>2</value><key>y</key></labels></b>`,
			`{"labels":{"x":"1","y":"2"}}`, ""},
		{"empty map value", `<b><labels><key>x</key></labels></b>`, `{"labels":{"x":""}}`, ""},
		{"float specials", `<b><rating>-Infinity</rating></b>`, `{"rating":"-Infinity"}`, ""},
		{"enum name", `<b><genre>POETRY</genre></b>`, `{"genre":"POETRY"}`, ""},
		{"duplicate map key", `<b><labels><key>x</key></labels><labels><key>x</key></labels></b>`, "", `map key "x" given twice`},
		{"not repeated", `<b><title>a</title><title>b</title></b>`, "", "not repeated but was given 2 times"},
		{"bad enum", `<b><genre>OPERA</genre></b>`, "", "not a value of enum library.v1.Genre"},
		{"bad bool", `<b><in_stock>yes</in_stock></b>`, "", "want true or false"},
		{"int overflow", `<b><pageCount>9223372036854775808</pageCount></b>`, "", "not a int64"},
		{"leading zeros", `<b><pageCount>007</pageCount></b>`, `{"pageCount":"7"}`, ""},
		{"negative zero", `<b><pageCount>-0</pageCount></b>`, `{"pageCount":"0"}`, ""},
		{"plus sign", `<b><pageCount>+7</pageCount></b>`, "", "not a int64"},
		{"hex float", `<b><rating>0x1p3</rating></b>`, "", "not a number"},
		{"bad base64", `<b><checksum>!!</checksum></b>`, "", "base64"},
		{"attribute", `<b><title lang="en">x</title></b>`, "", `attribute "lang"`},
		{"text in message", `<b>loose<title>x</title></b>`, "", "holds field elements, not text"},
		{"children in scalar", `<b><title><x/></title></b>`, "", "not a message"},
		{"two roots", `<b/><c/>`, "", "second root"},
		{"no root", `  `, "", "no root element"},
		{"unclosed", `<b><title>x</title>`, "", "XML body"},
		{"mismatched end", `<b><title>x</author></b>`, "", "element <title> closed by </author>"},
		{"prefixed", `<a:b xmlns:a="urn:a"><a:title>t</a:title></a:b>`, `{"title":"t"}`, ""},
		{"doctype", `<!DOCTYPE b [<!ENTITY e "x">]><b><title>&e;</title></b>`, "", "DOCTYPE"},
		{"pi", `<b><?php x ?></b>`, "", "processing instruction"},
		{"latin1", `<?xml version="1.0" encoding="ISO-8859-1"?><b/>`, "", `encoding "ISO-8859-1"`},
		{"undefined entity", `<b><title>&nbsp;</title></b>`, "", "XML body"},
		{"too deep", `<a><b><c><d><e><f><g/></f></e></d></c></b></a>`, "", "deeper than 6"},
		{"too many", "<b>" + strings.Repeat("<tags>x</tags>", 30) + "</b>", "", "more than 30 elements"},
		{"struct text", `<b><publish_time>2020-01-01T00:00:00Z</publish_time></b>`, `{"publishTime":"2020-01-01T00:00:00Z"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, w, ok := convert(rt, "application/xml", tc.body)
			if tc.err != "" {
				if ok || !strings.Contains(statusMessage(t, w.Body.Bytes()), tc.err) || w.Header().Get("Content-Type") != "application/json" {
					t.Fatalf("ok %v, answer %d %s; want error %q", ok, w.Code, w.Body, tc.err)
				}
				return
			}
			if !ok {
				t.Fatalf("refused: %s", w.Body)
			}
			if !jsonEqual(in.Body, []byte(tc.want)) || in.ContentType != "application/json" {
				t.Fatalf("got %s (%s), want %s", in.Body, in.ContentType, tc.want)
			}
		})
	}
}

func BenchmarkDecodeXML(b *testing.B) {
	rt := libraryRoute(b, "CreateBook", Options{XML: true})
	body := `<Book><title>Dune</title><author>Frank Herbert</author><genre>FICTION</genre><pageCount>412</pageCount>` +
		`<tags>desert</tags><tags>spice</tags><labels><key>lang</key><value>en</value></labels><rating>4.5</rating></Book>`
	b.ReportAllocs()
	for b.Loop() {
		if _, w, ok := convert(rt, "application/xml", body); !ok {
			b.Fatal(w.Body)
		}
	}
}
