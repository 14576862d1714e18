// The browser side of refract's RPC protocol test (gateway/webclient_test.go):
// Connect's own web client (@connectrpc/connect-web) calls refract over the
// Connect protocol (binary and JSON) and gRPC-Web, with the schema built at
// run time from a FileDescriptorSet the page hands over (no generated code).
import { createClient, ConnectError, Code } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

function b64(s) {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

// runRefract calls refract at baseUrl with every transport and returns one
// line per result, for the test to compare.
async function runRefract(fdsBase64, baseUrl) {
  const reg = createFileRegistry(fromBinary(FileDescriptorSetSchema, b64(fdsBase64)));
  const library = reg.getService("library.v1.LibraryService");
  const echo = reg.getService("echo.v1.EchoService");
  const transports = {
    connect: createConnectTransport({ baseUrl, useBinaryFormat: true }),
    "connect-json": createConnectTransport({ baseUrl, useBinaryFormat: false }),
    "grpc-web": createGrpcWebTransport({ baseUrl, useBinaryFormat: true }),
  };
  const lines = [];
  for (const [name, transport] of Object.entries(transports)) {
    const lib = createClient(library, transport);
    try {
      const shelf = await lib.getShelf({ name: "shelves/1" }, { headers: { "X-Api-Key": "k1" } });
      lines.push(`${name} shelf ${shelf.name} ${shelf.theme}`);
    } catch (e) {
      lines.push(`${name} shelf error ${e}`);
    }
    try {
      await lib.getShelf({ name: "shelves/1" });
      lines.push(`${name} no key: answered`);
    } catch (e) {
      const ce = ConnectError.from(e);
      lines.push(`${name} no key ${Code[ce.code]} ${ce.rawMessage.split(":")[0]}`);
    }
    try {
      const got = [];
      for await (const m of createClient(echo, transport).expand({ text: "hi", count: 3 })) {
        got.push(`${m.message}/${m.index}`);
      }
      lines.push(`${name} expand ${got.join(" ")}`);
    } catch (e) {
      lines.push(`${name} expand error ${e}`);
    }
  }
  return lines;
}

window.runRefract = runRefract;
