// A minimal client of the gateway's swg.v1.Exchange service, for integrators who do not use Python.
//
//   node client.mjs --address HOST:PORT --ca ca.crt --cert client.crt --key client.key --token token.jwt \
//        submit --format upu.itmatt.v1 [--message-id ID] FILE
//   node client.mjs ...same connection flags... receive --out DIR
//
// The connection is mutual TLS with the participant's client certificate; every call carries a bearer token bound
// to that certificate (docs/clients.md says what it contains and how to get one). `receive` writes each document
// with a .meta.json sidecar, acknowledges it, keeps the signed receipt, and stops once nothing is waiting.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const PROTOS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../protos");
const IDLE_MS = 3000;

function parse(argv) {
  const flags = {}, rest = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith("--")) flags[argv[i].slice(2)] = argv[++i];
    else rest.push(argv[i]);
  }
  return { flags, command: rest[0], files: rest.slice(1) };
}

function exchangeClient(flags) {
  const definition = protoLoader.loadSync("swg/v1/exchange.proto", {
    includeDirs: [PROTOS], keepCase: true, longs: String, enums: String, defaults: true,
  });
  const { swg } = grpc.loadPackageDefinition(definition);
  const tls = grpc.credentials.createSsl(
    fs.readFileSync(flags.ca), fs.readFileSync(flags.key), fs.readFileSync(flags.cert));
  return new swg.v1.Exchange(flags.address, tls);
}

function bearer(flags) {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${fs.readFileSync(flags.token, "utf8").trim()}`);
  return metadata;
}

function explain(err) {
  // The status name and message, then each field violation is in err.metadata (grpc-status-details-bin).
  return `${grpc.status[err.code]}: ${err.details}`;
}

function submit(client, flags, files) {
  const request = {
    message_id: flags["message-id"] || "", format: flags.format, content: fs.readFileSync(files[0]),
  };
  client.Submit(request, bearer(flags), (err, resp) => {
    if (err) { console.error(explain(err)); process.exit(1); }
    console.log(`${resp.message_id}\t${files[0]}\t${resp.recipients.join(",")}${resp.duplicate ? "\t(duplicate)" : ""}`);
    client.close();
  });
}

function receive(client, flags) {
  const out = flags.out;
  fs.mkdirSync(out, { recursive: true });
  const safe = (id) => (/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(id) ? id : `msg-${Buffer.from(id).toString("hex").slice(0, 32)}`);
  let received = 0, pending = 0, idle;
  const call = client.Receive({ format: "" }, bearer(flags));
  const stop = () => { call.cancel(); };
  const restartIdle = () => { clearTimeout(idle); idle = setTimeout(() => { if (pending === 0) stop(); else restartIdle(); }, IDLE_MS); };
  restartIdle();
  call.on("data", (d) => {
    restartIdle();
    const stem = path.join(out, safe(d.message_id));
    const ext = d.format.includes("itmatt") || d.format.includes("cusrsp") ? ".xml" : ".json";
    fs.writeFileSync(stem + ext, d.content);
    fs.writeFileSync(stem + ".meta.json", JSON.stringify({
      message_id: d.message_id, sender: d.sender, document_type: d.document_type, format: d.format,
    }, null, 2));
    pending++;
    client.Acknowledge({ message_ids: [d.message_id] }, bearer(flags), (err, resp) => {
      pending--;
      if (err) { console.error(explain(err)); return; }
      if (resp.receipts.length) fs.writeFileSync(stem + ".receipt.jws", resp.receipts[0].jws + "\n");
      received++;
      console.log(`${d.message_id}\t${d.sender}\t${d.document_type}\t${d.format}`);
    });
  });
  call.on("error", (err) => {
    if (err.code !== grpc.status.CANCELLED) { console.error(explain(err)); process.exit(1); }
  });
  call.on("status", () => {
    clearTimeout(idle);
    console.error(received === 1 ? "received 1 delivery" : `received ${received} deliveries`);
    client.close();
  });
}

const { flags, command, files } = parse(process.argv.slice(2));
for (const needed of ["address", "ca", "cert", "key", "token"]) {
  if (!flags[needed]) { console.error(`missing --${needed}`); process.exit(2); }
}
const client = exchangeClient(flags);
if (command === "submit" && files.length === 1 && flags.format) submit(client, flags, files);
else if (command === "receive" && flags.out) receive(client, flags);
else { console.error("usage: client.mjs CONNECTION submit --format F FILE | receive --out DIR"); process.exit(2); }
