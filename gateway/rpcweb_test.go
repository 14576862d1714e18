package gateway_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/examples/accounts/accountspb"
	"github.com/refract-gateway/refract/examples/echo/echopb"
	"github.com/refract-gateway/refract/examples/library/librarypb"
	"google.golang.org/protobuf/proto"
)

// TestConnectAndGRPCWeb calls through the gateway with connect-go's
// client in its three protocols (Connect, gRPC-Web, gRPC), and checks
// Connect's GET for side-effect-free methods, its JSON error shape and
// gRPC-Web's text framing at the byte level.
func TestConnectAndGRPCWeb(t *testing.T) {
	lib := startLibrary(t)
	echo := startEcho(t, "127.0.0.1:0")
	acc, err := examples.StartAccounts("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(acc.Stop)
	h := startGateway(t, rpcConfig(lib.Addr, echo.Addr, fmt.Sprintf(`  - name: accounts
    static: [%q]
`, acc.Addr)))
	hc := &http.Client{}
	key := func(r interface{ Header() http.Header }) { r.Header().Set("X-Api-Key", "k1") }

	for name, opts := range map[string][]connect.ClientOption{
		"connect": nil, "connect json": {connect.WithProtoJSON()}, "grpc-web": {connect.WithGRPCWeb()},
	} {
		t.Run(name, func(t *testing.T) {
			get := connect.NewClient[librarypb.GetShelfRequest, librarypb.Shelf](hc, h.base+"/library.v1.LibraryService/GetShelf", opts...)
			req := connect.NewRequest(&librarypb.GetShelfRequest{Name: "shelves/1"})
			key(req)
			resp, err := get.CallUnary(t.Context(), req)
			if err != nil || resp.Msg.GetTheme() != "Fiction" {
				t.Fatalf("GetShelf: %v %v", resp, err)
			}
			// The route's auth applies to every protocol.
			_, err = get.CallUnary(t.Context(), connect.NewRequest(&librarypb.GetShelfRequest{Name: "shelves/1"}))
			if connect.CodeOf(err) != connect.CodeUnauthenticated || !strings.Contains(err.Error(), "missing credentials") {
				t.Fatalf("without a key: %v", err)
			}
			// The backend's error, with its details.
			req = connect.NewRequest(&librarypb.GetShelfRequest{Name: "shelves/999"})
			key(req)
			_, err = get.CallUnary(t.Context(), req)
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() != connect.CodeNotFound || len(ce.Details()) == 0 {
				t.Fatalf("missing shelf: %v", err)
			}
			// Hidden stays hidden.
			title := connect.NewClient[librarypb.GetBookTitleRequest, librarypb.BookTitle](hc, h.base+"/library.v1.LibraryService/GetBookTitle", opts...)
			treq := connect.NewRequest(&librarypb.GetBookTitleRequest{Name: "shelves/1/books/1"})
			key(treq)
			if _, err := title.CallUnary(t.Context(), treq); connect.CodeOf(err) != connect.CodeUnimplemented {
				t.Fatalf("hidden method: %v", err)
			}
			// Server streaming.
			expand := connect.NewClient[echopb.ExpandRequest, echopb.EchoResponse](hc, h.base+"/echo.v1.EchoService/Expand", opts...)
			s, err := expand.CallServerStream(t.Context(), connect.NewRequest(&echopb.ExpandRequest{Text: "w", Count: 3}))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for s.Receive() {
				if s.Msg().GetMessage() != "w" || s.Msg().GetIndex() != int32(n) {
					t.Fatalf("message %d: %v", n, s.Msg())
				}
				n++
			}
			if s.Err() != nil || n != 3 {
				t.Fatalf("stream: %d messages, %v", n, s.Err())
			}
		})
	}

	t.Run("connect GET", func(t *testing.T) {
		create := connect.NewClient[accountspb.CreateAccountRequest, accountspb.Account](hc, h.base+"/accounts.v1.AccountsService/CreateAccount")
		made, err := create.CallUnary(t.Context(), connect.NewRequest(&accountspb.CreateAccountRequest{
			Account: &accountspb.Account{Email: "a@b.example", DisplayName: "A", Age: 30}}))
		if err != nil {
			t.Fatal(err)
		}
		get := connect.NewClient[accountspb.GetAccountRequest, accountspb.Account](hc, h.base+"/accounts.v1.AccountsService/GetAccount",
			connect.WithHTTPGet(), connect.WithIdempotency(connect.IdempotencyNoSideEffects))
		req := connect.NewRequest(&accountspb.GetAccountRequest{Name: made.Msg.GetId()})
		resp, err := get.CallUnary(t.Context(), req)
		if err != nil || resp.Msg.GetEmail() != "a@b.example" {
			t.Fatalf("GET: %v %v", resp, err)
		}
		if req.HTTPMethod() != http.MethodGet {
			t.Fatalf("sent with %s", req.HTTPMethod())
		}
	})

	t.Run("connect error JSON", func(t *testing.T) {
		r := h.do(t, "POST", "/library.v1.LibraryService/GetShelf", `{"name":"shelves/999"}`,
			"Content-Type", "application/json", "Connect-Protocol-Version", "1", "X-Api-Key", "k1").expect(t, 404)
		if field(t, r.body, "code") != "not_found" || !strings.Contains(field(t, r.body, "message").(string), "shelves/999") {
			t.Fatalf("body %s", r.body)
		}
		r = h.do(t, "POST", "/library.v1.LibraryService/GetShelf", `{"name":"shelves/1"}`,
			"Content-Type", "application/json", "Connect-Protocol-Version", "1").expect(t, 401)
		if field(t, r.body, "code") != "unauthenticated" {
			t.Fatalf("body %s", r.body)
		}
	})

	t.Run("grpc-web-text", func(t *testing.T) {
		msg, _ := proto.Marshal(&librarypb.GetShelfRequest{Name: "shelves/2"})
		frame := append([]byte{0, 0, 0, 0, 0}, msg...)
		binary.BigEndian.PutUint32(frame[1:5], uint32(len(msg)))
		req, _ := http.NewRequestWithContext(t.Context(), "POST", h.base+"/library.v1.LibraryService/GetShelf",
			strings.NewReader(base64.StdEncoding.EncodeToString(frame)))
		req.Header.Set("Content-Type", "application/grpc-web-text")
		req.Header.Set("X-Api-Key", "k1")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/grpc-web-text") {
			t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		}
		body, err := decodeTextRuns(raw)
		if err != nil {
			t.Fatalf("%v: %q", err, raw)
		}
		// A message frame, then the trailer frame (flag 0x80).
		n := binary.BigEndian.Uint32(body[1:5])
		var shelf librarypb.Shelf
		if body[0] != 0 || proto.Unmarshal(body[5:5+n], &shelf) != nil || shelf.GetName() != "shelves/2" {
			t.Fatalf("message frame: %q", body)
		}
		tr := body[5+n:]
		if tr[0] != 0x80 || !bytes.Contains(bytes.ToLower(tr[5:]), []byte("grpc-status: 0")) {
			t.Fatalf("trailer frame: %q", tr)
		}
	})
}

// decodeTextRuns decodes gRPC-Web text: base64 runs, each possibly padded.
func decodeTextRuns(raw []byte) ([]byte, error) {
	var out []byte
	for len(raw) > 0 {
		end := len(raw)
		if i := bytes.IndexByte(raw, '='); i >= 0 {
			end = i
			for end < len(raw) && raw[end] == '=' {
				end++
			}
		}
		b, err := base64.StdEncoding.DecodeString(string(raw[:end]))
		if err != nil {
			return nil, err
		}
		out, raw = append(out, b...), raw[end:]
	}
	return out, nil
}
