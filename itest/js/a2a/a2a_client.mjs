// Drives a real web4p2p node with the official A2A JavaScript client
// (@a2a-js/sdk, pinned in package-lock.json). Run by itest/a2a_js_test.go:
//
//   A2A_BASE_URL=http://127.0.0.1:PORT A2A_TOKEN=... A2A_PEER_ID=12D3... node a2a_client.mjs
//
// 1. fetches the node's agent card and verifies its signature: a detached
//    JWS (EdDSA) over the RFC 8785 canonical card without "signatures",
//    kid = the node's PeerID, the key in the jwk header; checked here with
//    node:crypto, and with the SDK's own verifyAgentCardSignature;
// 2. builds the SDK client from the card (its JSON-RPC interface, the
//    bearer token) and sends a message: COMPLETED with the peer's answer;
// 3. streams a message's task to COMPLETED;
// 4. revokes the human's consent (the node's control API) and sees the
//    next task end in AUTH_REQUIRED;
// 5. grants it again and does the same with the SDK's A2A v0.3 transport
//    (message/send, message/stream, tasks/get, tasks/cancel).
// Each step prints one "ok: ..." line; any failure exits non-zero.

import assert from "node:assert/strict";
import crypto from "node:crypto";

import { Role, TaskState, verifyAgentCardSignature } from "@a2a-js/sdk";
import { ClientFactory, ClientFactoryOptions, JsonRpcTransportFactory } from "@a2a-js/sdk/client";
import { LegacyJsonRpcTransport } from "@a2a-js/sdk/compat/v0_3/client";

const base = process.env.A2A_BASE_URL;
const token = process.env.A2A_TOKEN;
const peerID = process.env.A2A_PEER_ID;
assert.ok(base && token && peerID, "A2A_BASE_URL, A2A_TOKEN and A2A_PEER_ID must be set");

// The signing payload (SPEC §13.2): RFC 8785 (JCS) of the card without
// "signatures" and without empty values ("", null, [], {}) at any depth.
// JSON.stringify already writes strings and numbers as JCS requires;
// members are sorted by UTF-16 code units, which is what
// Array.prototype.sort compares.
function dropEmpty(v) {
  if (v === "" || v === null || v === undefined) return undefined;
  if (Array.isArray(v)) {
    const out = v.map(dropEmpty).filter((e) => e !== undefined);
    return out.length ? out : undefined;
  }
  if (typeof v === "object") {
    const out = {};
    for (const [k, e] of Object.entries(v)) {
      const c = dropEmpty(e);
      if (c !== undefined) out[k] = c;
    }
    return Object.keys(out).length ? out : undefined;
  }
  return v;
}

function canonical(v) {
  if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
  if (v !== null && typeof v === "object") {
    return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canonical(v[k])).join(",") + "}";
  }
  return JSON.stringify(v);
}

const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
function base58(bytes) {
  let n = BigInt("0x" + Buffer.from(bytes).toString("hex"));
  let out = "";
  while (n > 0n) {
    out = B58[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = "1" + out;
  }
  return out;
}

// The libp2p PeerID of an Ed25519 key: the identity multihash of its
// protobuf form (KeyType Ed25519 = 1, Data = the 32 key bytes).
function peerIDOf(raw) {
  const pb = Buffer.concat([Buffer.from([0x08, 0x01, 0x12, 0x20]), raw]);
  return base58(Buffer.concat([Buffer.from([0x00, pb.length]), pb]));
}

async function verifyCard() {
  const res = await fetch(new URL("/.well-known/agent-card.json", base));
  assert.equal(res.status, 200, "card: HTTP status");
  const card = JSON.parse(await res.text());
  assert.ok(Array.isArray(card.signatures) && card.signatures.length >= 1, "card: no signatures");
  const { signatures, ...unsigned } = card;
  const payload = Buffer.from(canonical(dropEmpty(unsigned) ?? {})).toString("base64url");
  for (const sig of signatures) {
    const header = JSON.parse(Buffer.from(sig.protected, "base64url").toString());
    assert.equal(header.alg, "EdDSA", "card: alg");
    assert.equal(header.kid, peerID, "card: kid is not the node's PeerID");
    assert.equal(header.jwk?.kty, "OKP", "card: jwk.kty");
    assert.equal(header.jwk?.crv, "Ed25519", "card: jwk.crv");
    assert.equal(peerIDOf(Buffer.from(header.jwk.x, "base64url")), peerID, "card: kid is not the PeerID of jwk");
    const key = crypto.createPublicKey({ key: header.jwk, format: "jwk" });
    const ok = crypto.verify(null, Buffer.from(sig.protected + "." + payload), key, Buffer.from(sig.signature, "base64url"));
    assert.ok(ok, "card: signature does not verify over the canonical card");
    // A tampered card must not verify.
    const tampered = Buffer.from(canonical(dropEmpty({ ...unsigned, name: unsigned.name + "!" }))).toString("base64url");
    assert.ok(!crypto.verify(null, Buffer.from(sig.protected + "." + tampered), key, Buffer.from(sig.signature, "base64url")), "card: a tampered card verified");
  }
  // The SDK's verifier (its own canonical form of the v1.0 card).
  await verifyAgentCardSignature(async (kid) => {
    assert.equal(kid, peerID);
    const header = JSON.parse(Buffer.from(card.signatures[0].protected, "base64url").toString());
    return crypto.createPublicKey({ key: header.jwk, format: "jwk" });
  })(card);
  const rpc = card.supportedInterfaces.find((i) => i.protocolBinding === "JSONRPC");
  assert.ok(rpc && rpc.url.endsWith("/a2a"), "card: no JSON-RPC interface");
  assert.ok(card.capabilities?.streaming, "card: streaming not declared");
  assert.ok(card.securitySchemes?.bearer?.httpAuthSecurityScheme?.scheme === "Bearer", "card: no bearer scheme");
  assert.ok(card.supportedInterfaces.some((i) => i.url.includes("/p2p/" + peerID)), "card: no libp2p interface with the /p2p address");
  console.log("ok: card verified (kid " + peerID + ", " + card.supportedInterfaces.length + " interfaces)");
}

// The bearer scheme the card declares: the node's API token.
const authFetch = (url, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set("Authorization", "Bearer " + token);
  return fetch(url, { ...init, headers });
};

function userMessage(text, topic) {
  return {
    messageId: crypto.randomUUID(),
    role: Role.ROLE_USER,
    parts: [{ content: { $case: "text", value: text } }],
    metadata: { topic },
  };
}

function statusText(task) {
  return task.status?.message?.parts?.map((p) => p.content?.value).join(" ") ?? "";
}

async function main() {
  await verifyCard();
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory({ fetchImpl: authFetch })],
    }),
  );
  const client = await factory.createFromUrl(base);

  const task = await client.sendMessage({ message: userMessage("find papers on CRDTs", "research") });
  assert.ok("status" in task, "sendMessage did not return a task");
  assert.equal(task.status.state, TaskState.TASK_STATE_COMPLETED, "sendMessage: " + statusText(task));
  assert.equal(task.artifacts.length, 1, "sendMessage: no artifact");
  const answer = task.artifacts[0].parts.find((p) => p.content?.$case === "data")?.content.value;
  assert.equal(answer?.decision, "accept", "artifact: " + JSON.stringify(task.artifacts[0]));
  console.log("ok: sendMessage completed: " + statusText(task));

  const seen = [];
  let artifact = false;
  for await (const ev of client.sendMessageStream({ message: userMessage("stream the search", "research") })) {
    const p = ev.payload;
    if (p.$case === "task") seen.push(p.value.status.state);
    if (p.$case === "statusUpdate") seen.push(p.value.status.state);
    if (p.$case === "artifactUpdate") artifact = true;
  }
  assert.equal(seen.at(-1), TaskState.TASK_STATE_COMPLETED, "stream ended in " + seen);
  assert.ok(seen.includes(TaskState.TASK_STATE_WORKING), "stream never WORKING: " + seen);
  assert.ok(artifact, "stream: no artifact");
  console.log("ok: stream went to COMPLETED through " + seen.map((s) => TaskState[s]).join(" -> "));

  await setConsent("revoked");
  let taskID = "";
  let state = 0;
  for await (const ev of client.sendMessageStream({ message: userMessage("and now?", "research") })) {
    const p = ev.payload;
    if (p.$case === "task") taskID = p.value.id;
    if (p.$case === "task" || p.$case === "statusUpdate") state = p.value.status.state;
  }
  assert.equal(state, TaskState.TASK_STATE_AUTH_REQUIRED, "after revoking: " + TaskState[state]);
  const got = await client.getTask({ id: taskID });
  assert.equal(got.status.state, TaskState.TASK_STATE_AUTH_REQUIRED, "getTask after revoking");
  console.log("ok: consent revoked -> AUTH_REQUIRED: " + statusText(got));

  await setConsent("granted");
  const rpc = client.agentCard.supportedInterfaces.find((i) => i.protocolBinding === "JSONRPC");
  const legacy = new LegacyJsonRpcTransport({ endpoint: rpc.url, fetchImpl: authFetch });
  const old = await legacy.sendMessage({ message: userMessage("old client", "research") });
  assert.equal(old.status?.state, TaskState.TASK_STATE_COMPLETED, "v0.3 message/send: " + JSON.stringify(old));
  const oldSeen = [];
  for await (const ev of legacy.sendMessageStream({ message: userMessage("old stream", "research") })) {
    const p = ev.payload;
    if (p.$case === "task" || p.$case === "statusUpdate") oldSeen.push(p.value.status.state);
  }
  assert.equal(oldSeen.at(-1), TaskState.TASK_STATE_COMPLETED, "v0.3 message/stream ended in " + oldSeen);
  const again = await legacy.getTask({ id: old.id });
  assert.equal(again.status.state, TaskState.TASK_STATE_COMPLETED, "v0.3 tasks/get");
  await assert.rejects(legacy.cancelTask({ id: old.id }), (err) => err.name.includes("TaskNotCancelable"), "v0.3 tasks/cancel of a completed task");
  console.log("ok: v0.3 transport: message/send, message/stream to COMPLETED, tasks/get, tasks/cancel refused");
}

async function setConsent(consent) {
  const res = await authFetch(new URL("/v1/human/consent", base), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ consent }),
  });
  assert.equal(res.status, 200, "setting consent: HTTP " + res.status + " " + (await res.text()));
}

main().catch((err) => {
  console.error("FAIL: " + (err?.stack ?? err));
  process.exit(1);
});
